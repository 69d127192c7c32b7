"""Keeping configured MCP servers running: ``McpServer`` for one, ``ServerSet`` for all.

A server is ``disabled`` (``enabled = false``), ``starting`` (its first start), ``ready`` or
``down`` (also while a restart is being tried).
Starting never blocks the caller: ``ServerSet.start_all()`` starts every enabled server in
parallel in the background. A start that fails, and a server that stops on its own (its
process crashed, its connection broke), is logged in one line and retried in the background
with capped exponential backoff; using a server that is down (``ready()``) tries to start it
at once, sharing an attempt already in flight. So a crashed server is restarted on its next
use (a call that could not even be sent to it, because it died unnoticed, is sent again to
the restarted server), and one bad server never holds up the others.

The tool list is fetched after each start and again when the server sends
``notifications/tools/list_changed``; ``on_change`` (if set) is told either way.
"""

import asyncio
import logging

from blufio.lifecycle import TaskGroup
from blufio.plugins.mcp.client import McpClient
from blufio.retry import Backoff
from blufio.plugins.mcp.errors import McpError, NotDelivered, ServerUnavailable

log = logging.getLogger("blufio.mcp")

DISABLED, STARTING, READY, DOWN = "disabled", "starting", "ready", "down"
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


class McpServer:
    """One configured server and the session with it (see the module docstring)."""

    def __init__(self, settings, *, max_message_bytes=MAX_MESSAGE_BYTES, backoff=(1.0, 60.0),
                 grace=3.0, on_change=None):
        self.settings = settings
        self.name = settings.name
        self.label = f"MCP server '{settings.name}'"
        self.max_message_bytes = max_message_bytes
        self._backoff = Backoff(*backoff)
        self.grace = grace
        self.on_change = on_change
        self.state = DOWN if settings.enabled else DISABLED
        self.error = None if settings.enabled else "disabled in the configuration"
        self.tools = []  # tool dicts as the server listed them
        self.client = None
        self._attempt_task = None
        self.first_attempt = None  # the task of the first start, kept once it has ended
        self._retry_task = None
        self._refresh_task = None
        self._logged_error = None
        self._tasks = TaskGroup(self.label)  # attempts, retries, refreshes, closings
        self._closed = False

    @property
    def pid(self):
        """The server's process id (stdio and running), else None."""
        return self.client.transport.pid if self.client is not None else None

    def start(self):
        """Start the server in the background unless it is starting or ready; return the
        attempt's task (None when disabled or closed)."""
        if self.state == DISABLED or self._closed:
            return None
        if self._attempt_task is None:
            if self.state == READY:
                return None
            if self.first_attempt is None:  # a retry leaves it down (and health degraded)
                self.state = STARTING
            self._attempt_task = self._tasks.spawn(self._attempt(), name=f"start {self.name}")
            self.first_attempt = self.first_attempt or self._attempt_task
        return self._attempt_task

    async def ready(self):
        """The live client, starting the server first if needed; ServerUnavailable if it
        cannot be started."""
        if self.state == READY and self.client is not None and not self.client.closed:
            return self.client
        task = self.start()
        if task is not None:
            await asyncio.shield(task)
        if self.state != READY:
            raise ServerUnavailable(self.error or f"{self.label} is not running")
        return self.client

    async def call(self, tool, arguments):
        """Run ``tool`` (an MCP tool name); the raw ``tools/call`` result."""
        client = await self.ready()
        try:
            return await client.call_tool(tool, arguments)
        except NotDelivered as exc:  # it died unnoticed: restart it and send the call again
            self._stopped(client, exc)
            client = await self.ready()
            return await client.call_tool(tool, arguments)
        except ServerUnavailable as exc:  # it went away with the call: report, restart later
            self._stopped(client, exc)
            raise

    async def _attempt(self):
        client = McpClient(self._transport(), label=self.label, timeout=self.settings.timeout,
                           on_tools_changed=self._tools_changed,
                           on_closed=lambda error: self._stopped(client, error))
        try:
            await client.connect()
            tools = await client.list_tools() if "tools" in client.capabilities else []
        except McpError as exc:
            await client.aclose()
            self._failed(str(exc))
        except Exception as exc:  # a bug in a server must not escape as a traceback
            await client.aclose()
            self._failed(f"{self.label} could not start: {type(exc).__name__}: {exc}")
        else:
            self.client, self.tools = client, tools
            self.state, self.error, self._logged_error = READY, None, None
            self._backoff.reset()
            log.info("%s: started (%d tool%s)", self.label, len(tools),
                     "" if len(tools) == 1 else "s")
            self._changed()
        finally:
            self._attempt_task = None

    def _transport(self):
        if self.settings.transport == "stdio":
            from blufio.plugins.mcp.stdio import StdioTransport

            return StdioTransport(self.settings, label=self.label,
                                  max_message_bytes=self.max_message_bytes, grace=self.grace)
        from blufio.plugins.mcp.http import HttpTransport

        return HttpTransport(self.settings, label=self.label,
                             max_message_bytes=self.max_message_bytes)

    def _failed(self, error):
        self.state, self.error = DOWN, error
        if error != self._logged_error:
            log.warning("%s; retrying in the background", error)
            self._logged_error = error
        else:
            log.debug("%s", error)
        self._retry_later()

    def _stopped(self, client, error):
        """The session ended on its own (not by ``aclose``): down, restarted later."""
        if client is not self.client or self._closed or self.state != READY:
            return
        self.state, self.error = DOWN, str(error)
        log.warning("%s; it will be restarted", error)
        self._logged_error = str(error)
        self.client = None
        self._tasks.spawn(client.aclose(), name=f"reap {self.name}")
        self._retry_later()

    def _retry_later(self):
        if self._closed or (self._retry_task is not None and not self._retry_task.done()):
            return
        delay = self._backoff.next_delay()
        self._retry_task = self._tasks.spawn(self._retry(delay), name=f"retry {self.name}")

    async def _retry(self, delay):
        await asyncio.sleep(delay)
        if self.state == DOWN:
            self.start()

    def _tools_changed(self):
        if self._refresh_task is None or self._refresh_task.done():
            self._refresh_task = self._tasks.spawn(self._refresh(), name=f"tools {self.name}")

    async def _refresh(self):
        client = self.client
        try:
            tools = await client.list_tools()
        except McpError as exc:
            log.warning("%s: cannot list its changed tools: %s", self.label, exc)
            return
        if client is self.client:
            self.tools = tools
            log.info("%s: its tools changed (%d now)", self.label, len(tools))
            self._changed()

    def _changed(self):
        if self.on_change is not None:
            self.on_change(self)

    async def aclose(self):
        """Stop retrying and stop the server (its process ends); safe to call twice."""
        self._closed = True
        for task in (self._retry_task, self._refresh_task, self._attempt_task):
            if task is not None:
                task.cancel()
        await self._tasks.aclose(timeout=2 * self.grace + 1)  # let closings reap their child
        client, self.client = self.client, None
        if client is not None:
            await client.aclose()
        if self.state != DISABLED:
            self.state, self.error = DOWN, f"{self.label} was stopped"


class ServerSet:
    """Every configured server, by name, in configuration order."""

    def __init__(self, settings, **options):
        self.servers = {name: McpServer(item, **options) for name, item in settings.items()}

    def start_all(self):
        """Start every enabled server in parallel, in the background."""
        for server in self.servers.values():
            server.start()

    async def wait_started(self):
        """Wait until no start attempt is in flight (for commands that need every server)."""
        tasks = [s._attempt_task for s in self.servers.values() if s._attempt_task]
        await asyncio.gather(*(asyncio.shield(t) for t in tasks), return_exceptions=True)

    def get(self, name):
        server = self.servers.get(name)
        if server is None:
            from blufio.config import did_you_mean
            from blufio.errors import UsageError

            known = ", ".join(self.servers) or "none is configured"
            raise UsageError(f"no MCP server is called '{name}'"
                             f"{did_you_mean(name, self.servers)}; the servers: {known}")
        return server

    def health(self):
        """``{"status", "detail"}``: ``degraded`` while an enabled server is down; the
        detail counts the ready servers and names those starting and down (with why)."""
        enabled = [s for s in self.servers.values() if s.state != DISABLED]
        ready = sum(1 for s in enabled if s.state == READY)
        starting = [s.name for s in enabled if s.state == STARTING]
        down = [s.error or f"{s.label} is down" for s in enabled if s.state == DOWN]
        detail = f"{ready} of {len(enabled)} MCP servers ready"
        if starting:
            detail += f"; starting: {', '.join(starting)}"
        if down:
            detail += f"; down: {'; '.join(down)}"
        return {"status": "degraded" if down else "ok", "detail": detail}

    async def aclose(self):
        await asyncio.gather(*(s.aclose() for s in self.servers.values()))
