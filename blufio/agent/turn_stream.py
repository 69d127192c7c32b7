"""``TurnStream``: the events of one turn, from the agent's turn task to the channel reading them.

The turn never waits for its reader, so what waits here must stay small however slowly (or
never) the reader reads: once it lags by ``UNMERGED`` events, consecutive ``TextDelta``
events are merged into one. ``stop()`` ends the turn early at its client's request (see
``blufio.agent.stopping``).
"""

import asyncio
import collections
import io

from blufio.agent.events import TextDelta

DONE = object()  # emitted last: the stream ends
UNMERGED = 64  # events a TurnStream keeps apart before it merges deltas for a slow reader


class TurnStream:
    """The events of one turn, as an async iterator; ends after TurnComplete/TurnError.

    It ends with no events at all when the entry was already claimed by someone else.
    The turn never waits for its reader: once a reader lags by ``UNMERGED`` events, further
    consecutive ``TextDelta`` events are merged into one, so what waits here is at most the
    reply's text and a few events per tool call, however slowly (or never) the channel reads.
    """

    def __init__(self):
        self._pending = collections.deque()  # events, or a _Deltas being merged
        self._ready = asyncio.Event()
        self._finished = False
        self._ended = False
        self._text = []  # the reply's text so far, kept for a stop
        self.task = None
        self.stop_requested = False
        self.started = False  # the turn holds its session and is running
        self.storing = False  # the turn is being stored: too late to stop it

    def __len__(self):
        """How many events wait to be read (merged deltas count once)."""
        return len(self._pending)

    def end_early(self, event):
        """End the stream for its reader with ``event`` (e.g. a ``TurnError`` saying the
        server is going away); the turn itself goes on, and what it emits later is dropped."""
        self._emit(event)
        self._emit(DONE)
        self._ended = True

    def text_so_far(self):
        """The reply's text streamed so far."""
        return "".join(self._text)

    def stop(self):
        """End the turn now: it completes with ``stop_reason`` ``"cancelled"``, its message
        and the text streamed so far stored. Returns False when it is over or being stored."""
        if self.task is None or self.task.done() or self.storing or self.stop_requested:
            return False
        self.stop_requested = True
        self.task.cancel()
        return True

    def _emit(self, event):
        if type(event) is TextDelta:
            self._text.append(event.text)
        if self._ended:
            return
        if type(event) is TextDelta and len(self._pending) >= UNMERGED:
            last = self._pending[-1]
            if type(last) is TextDelta and last.inbound_id == event.inbound_id:
                last = self._pending[-1] = _Deltas(last)
            if isinstance(last, _Deltas) and last.joins(event):
                last.add(event.text)
                return
        self._pending.append(event)
        self._ready.set()

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._finished:
            raise StopAsyncIteration
        while not self._pending:
            self._ready.clear()
            await self._ready.wait()
        event = self._pending.popleft()
        if event is DONE:
            self._finished = True
            raise StopAsyncIteration
        return event.event() if isinstance(event, _Deltas) else event

    async def wait(self):
        """Consume the stream; return its last event (None if there was none)."""
        last = None
        async for event in self:
            last = event
        return last


class _Deltas:
    """Consecutive ``TextDelta`` events of one turn waiting for their reader, as one."""

    __slots__ = ("first", "text")

    def __init__(self, first):
        self.first = first
        self.text = io.StringIO(first.text)  # appends in amortised constant time
        self.text.seek(0, io.SEEK_END)

    def joins(self, event):
        return event.inbound_id == self.first.inbound_id

    def add(self, text):
        self.text.write(text)

    def event(self):
        return TextDelta(self.first.session_id, self.first.inbound_id, text=self.text.getvalue())
