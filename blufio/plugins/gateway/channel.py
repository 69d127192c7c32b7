"""``GatewayChannel``: the HTTP and WebSocket channel, served by Hypercorn on the running loop.

The socket is bound before Hypercorn starts (``fd://``), so port 0 picks a free port that
``url`` reports at once; a worker among several (``[gateway] workers``) serves the socket its
supervisor bound instead (``blufio.workers``). ``shutdown`` drains: it stops listening at once (new connections are
refused), closes idle keep-alive connections and ends every WebSocket with 1001 ("going
away"), starts no new turn, and waits up to ``[agent] drain_timeout`` for replies in flight;
replies still waiting then get a 503 (their turns are answered after the restart). How
connections are served and bounded: ``transport``; which turns start: ``turns``.
"""

import asyncio
import hmac
import logging
import os
import re

import blufio
from blufio.errors import ConfigError
from blufio.manifest import identity
from blufio.plugins.gateway.cors import CorsPolicy
from blufio.plugins.gateway.idempotency import IdempotentRequests
from blufio.plugins.gateway.relay import Relays
from blufio.plugins.gateway.sessions import Transcripts
from blufio.plugins.gateway.websocket import Watchers
from blufio.scheduler.book import book_from_config
from blufio.workers import BACKLOG, listening_socket

log = logging.getLogger("blufio.gateway")


class GatewayChannel:
    """The ``gateway`` plugin. Services: ``storage`` (required), ``observer`` (its
    ``render()`` serves ``/metrics`` when it has one), ``auth`` (adapters whose ``verify``
    accepts signed tokens), ``plugins`` (name → adapter, for ``/v1/health``), ``status`` (a
    callable whose dict ``/v1/health`` shows as ``service``: version, archive replaced),
    ``schedules`` (the ``ScheduleBook`` behind ``/v1/schedules``; by default one of its own)."""

    name, version, adapter_type = identity("gateway")

    def __init__(self, config, *, storage, observer=None, auth=(), plugins=None, status=None,
                 schedules=None, **_services):
        self.host = config.get("gateway.host")
        self.port = config.get("gateway.port")
        self.max_body_bytes = config.get("gateway.max_body_bytes")
        self.ui = config.get("gateway.ui")
        self.max_concurrent_turns = config.get("gateway.max_concurrent_turns")
        if self.max_concurrent_turns < 1:
            raise ConfigError("[gateway] max_concurrent_turns must be at least 1, not "
                              f"{self.max_concurrent_turns}")
        self.drain_timeout = config.get("agent.drain_timeout")
        self._static_token = config.get("gateway.bearer_token") or None
        self._models = list(config.get("gateway.models") or [])
        self.cors = CorsPolicy(config.get("gateway.cors_origins") or [])
        self.transcripts = Transcripts(storage)
        self.idempotency = IdempotentRequests()
        self.storage = storage
        self.observer = observer
        self.metrics = observer if callable(getattr(observer, "render", None)) else None
        self.auth = list(auth)
        self.plugins = dict(plugins or {})
        self.status = status
        self.schedules = schedules or book_from_config(config, storage)
        self.watchers = Watchers()  # /ws sockets by the sessions they watch
        self.agent = None
        self.turns = None
        self.url = None
        self.closing = None  # set when the drain starts; every /ws connection then closes
        self._socket = None
        self._stop = None
        self._server = None
        self._app = None
        self.relays = Relays()  # /ws turns in flight, which outlive their sockets

    # -- what the app asks of the gateway ---------------------------------------------------

    def authorized(self, token):
        """Whether ``token`` is the configured static token or one an auth plugin accepts."""
        if not token:
            return False
        if self._static_token is not None and hmac.compare_digest(
                token.encode(), self._static_token.encode()):
            return True
        return any(adapter.verify(token) is not None for adapter in self.auth)

    @property
    def has_credentials(self):
        """Whether any token could be accepted at all."""
        return self._static_token is not None or bool(self.auth)

    def is_public(self, path):
        return path == "/metrics" and self.metrics is not None and bool(
            getattr(self.metrics, "public", False))

    def model_name(self):
        """The default model: the agent's."""
        return getattr(self.agent, "model", "") or ""

    def models(self):
        """The models clients may choose (``[gateway] models``; by default the agent's)."""
        return self._models or [self.model_name()]

    def server_tool_names(self):
        """The names of the agent's own tools (a client tool may not take one)."""
        return {tool["name"] for tool in self.agent.tools.definitions()}

    async def health(self, detailed=False):
        """``{"status"}`` (``ok``, ``degraded`` or ``down``); when ``detailed`` (the caller
        sent a valid token) also ``"version"`` and ``"plugins": {name: {"status",
        "detail"}}`` and ``"service"`` (what the running service reports), with any
        credentials in a detail's URLs left out."""
        names = list(self.plugins)
        results = await asyncio.gather(*(self._check(self.plugins[n]) for n in names))
        report = dict(zip(names, results))
        report[self.name] = {"status": "ok", "detail": f"listening on {self.url}"}
        storage_down = any(report[n].get("status") == "down" for n in names
                           if getattr(self.plugins[n], "adapter_type", "") == "storage")
        healthy = all(r.get("status") == "ok" for r in report.values())
        overall = "down" if storage_down else ("ok" if healthy else "degraded")
        if not detailed:
            return {"status": overall}
        plugins = {name: {**result, "detail": without_userinfo(str(result.get("detail", "")))}
                   for name, result in report.items()}
        health = {"status": overall, "version": blufio.__version__, "plugins": plugins}
        if self.status is not None:
            health["service"] = self.status()
        return health

    @staticmethod
    async def _check(adapter):
        try:
            return await asyncio.wait_for(adapter.health_check(), timeout=2.0)
        except Exception as exc:  # a health check must never break /v1/health
            return {"status": "down", "detail": f"health check failed: {exc}"}

    # -- the Channel contract ----------------------------------------------------------------

    async def start(self, agent):
        """Bind the socket and serve the app on the running loop."""
        from hypercorn.asyncio import serve

        from blufio.errors import PluginError
        from blufio.plugins.gateway.app import create_app
        from blufio.plugins.gateway.transport import hypercorn_config, install_http11_protocol
        from blufio.plugins.gateway.turns import TurnGate

        self.agent = agent
        self.turns = TurnGate(agent, self.max_concurrent_turns)
        try:
            self._socket = listening_socket(self.host, self.port)
        except OSError as exc:
            raise PluginError(f"gateway: cannot listen on {self.host}:{self.port} "
                              f"({exc.strerror or exc}); change [gateway] port or host") from exc
        bound_host, bound_port = self._socket.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{bound_port}"

        install_http11_protocol()
        # Hypercorn takes ownership of (and closes) the descriptor it is given.
        hypercorn = hypercorn_config(os.dup(self._socket.fileno()),
                                     drain_timeout=self.drain_timeout,
                                     max_body_bytes=self.max_body_bytes, backlog=BACKLOG)
        self._app = create_app(self)
        self._stop = asyncio.Event()
        self.closing = asyncio.Event()
        self._server = asyncio.create_task(
            serve(self._app, hypercorn, shutdown_trigger=self._stop.wait))

    async def deliver(self, inbound, events):
        """An HTTP client that waited for this reply is gone; the agent stores it, and it
        is read back with ``GET /v1/sessions/{id}``."""
        async for _event in events:
            pass

    async def publish(self, session_id, events):
        """Show a turn of ``session_id`` nobody here asked for (a scheduled run's) to the
        ``/ws`` sockets watching it; the agent stores it either way."""
        await self.watchers.publish(session_id, events)

    async def publish_message(self, session_id, message):
        """Show a stored message of ``session_id`` (a notice) to the sockets watching it."""
        await self.watchers.publish_message(session_id, message)

    async def health_check(self):
        if self._server is None or self._server.done():
            return {"status": "down", "detail": "not serving"}
        return {"status": "ok", "detail": f"listening on {self.url}"}

    async def shutdown(self):
        """Drain (see the module docstring), then close."""
        if self.turns is not None:
            self.turns.drain()
        if self._socket is not None:  # Hypercorn closes its duplicate when _stop is set
            self._socket.close()
            self._socket = None
        if self._stop is not None:
            self._stop.set()
            self.closing.set()
        if self._server is not None:
            await self._drain(self._server)
            self._server = None
        await self.relays.tasks.aclose(timeout=float(self.drain_timeout))

    async def _drain(self, server):
        from blufio.plugins.gateway.transport import DRAIN_MARGIN

        done, _ = await asyncio.wait({server}, timeout=float(self.drain_timeout))
        if not done:
            self.turns.abandon()  # the replies still waiting get a 503
        try:
            await asyncio.wait_for(server, timeout=DRAIN_MARGIN * 2)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            log.warning("gateway: in-flight requests did not finish in time")
        except Exception:
            log.exception("gateway: the server stopped with an error")


def without_userinfo(text):
    """``text`` with the ``user:password@`` part of every URL in it left out."""
    return _USERINFO.sub(r"\1", text)


_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#\s]*@")
