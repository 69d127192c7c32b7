"""Which turns the gateway starts, and how their replies end when the server goes away.

``TurnGate`` admits at most ``[gateway] max_concurrent_turns`` turns at once: a request
(or ``/ws`` message) above that is refused with a 429 and ``retry-after`` before anything is
stored. While the server drains, nothing new starts (503). A turn, once its message is
stored, runs to the end in this run whoever still listens (storing and starting it are
shielded from the request's cancellation); when the drain's deadline passes first, every
reply still waiting is ended with a 503 saying that the turn is answered after the restart.

Use::

    @app.post("/v1/messages")
    @gateway.turns.admit                 # reserves a slot for the request (429 / 503)
    async def messages():
        ...
        events = await gateway.turns.start(session_id, channel, content)

or, outside a route, ``with gateway.turns.reserve(): ... await gateway.turns.start(...)``.
"""

import asyncio
import contextvars
import functools

from blufio.agent.events import TurnError
from blufio.plugins.gateway.errors import GatewayError

BUSY_RETRY_AFTER = 1  # seconds: turns end often, so a slot is usually free again soon
DRAIN_RETRY_AFTER = 5  # seconds: about what a restart takes

INTERRUPTED = "interrupted"  # TurnError.kind of a reply cut short: its turn goes on

_slot = contextvars.ContextVar("blufio_gateway_turn_slot", default=None)


class TurnGate:
    """Admits turns up to ``maximum`` at once and ends their replies at the drain deadline."""

    def __init__(self, agent, maximum):
        self.agent = agent
        self.maximum = maximum
        self.active = 0  # reserved slots: requests on their way to a turn, and turns running
        self.draining = False
        self._streams = set()  # TurnStreams whose replies are still being read

    def reserve(self):
        """A slot for one turn, held until the turn ends (or the caller gives it back
        without starting one); a 503 while draining, a 429 when every slot is taken."""
        if self.draining:
            raise GatewayError(503, "the server is shutting down; retry in a few seconds",
                               retry_after=DRAIN_RETRY_AFTER)
        if self.active >= self.maximum:
            raise GatewayError(429, f"too many turns in progress (the limit is {self.maximum}); "
                                    "retry shortly", retry_after=BUSY_RETRY_AFTER)
        self.active += 1
        return _Slot(self)

    def admit(self, route):
        """Decorate an async route: it runs holding a slot that ``start`` uses."""
        @functools.wraps(route)
        async def admitted(*args, **kwargs):
            with self.reserve():
                return await route(*args, **kwargs)

        return admitted

    async def start(self, session_id, channel, content, *, options=None):
        """Store the message and start its turn (with a client's ``options``) in the slot
        reserved for the caller; return the turn's events (ended early by ``abandon``)."""
        slot = _slot.get()
        if slot is None or slot.gate is not self:
            raise RuntimeError("TurnGate.start outside a reserved slot")
        stream = await slot.start(session_id, channel, content, options)
        self._streams.add(stream)
        stream.task.add_done_callback(lambda _task: self._streams.discard(stream))
        return stream

    def drain(self):
        """Start no more turns."""
        self.draining = True

    def abandon(self):
        """The drain's deadline passed: end every reply still being read with a 503 (the
        turns go on, and what they have not finished is answered after the restart)."""
        error = GatewayError(503, "the server is shutting down before this turn finished; "
                                  "it is kept and answered after the restart (read it with "
                                  "GET /v1/sessions/{session_id})", retry_after=DRAIN_RETRY_AFTER)
        for stream in list(self._streams):
            stream.end_early(TurnError("", 0, error=error, kind=INTERRUPTED))
        self._streams.clear()


class _Slot:
    """One reserved turn: given back on exit unless a turn started in it (then the turn's
    end gives it back). Exactly one release, whatever happens."""

    def __init__(self, gate):
        self.gate = gate
        self._started = False
        self._released = False
        self._token = None

    def __enter__(self):
        self._token = _slot.set(self)
        return self

    def __exit__(self, *exc):
        _slot.reset(self._token)
        if not self._started:
            self._release()

    def _release(self, _task=None):
        if not self._released:
            self._released = True
            self.gate.active -= 1

    async def start(self, session_id, channel, content, options):
        self._started = True

        async def begin():
            try:
                inbound = await self.gate.agent.receive(session_id, channel, content,
                                                        claim=True)
                stream = self.gate.agent.process(inbound, options)
            except BaseException:
                self._release()
                raise
            stream.task.add_done_callback(self._release)
            return stream

        # Shielded: a caller cancelled here (a client that hung up just after sending) still
        # has its stored message answered, by a turn that holds its slot until it ends.
        return await asyncio.shield(asyncio.ensure_future(begin()))
