"""One MCP session over a transport: the handshake, tools, calls and pings.

``connect()`` starts the transport and runs the lifecycle's first phase: ``initialize``
(offering ``PROTOCOL_VERSION``, accepting any of ``SUPPORTED_VERSIONS`` back) then
``notifications/initialized``. This client declares no capabilities of its own (no
sampling, roots or elicitation), so a server has nothing to ask it but ``ping``.

``list_tools`` follows ``nextCursor`` pages; ``call_tool`` returns the raw ``tools/call``
result (``content``, ``structuredContent``, ``isError``) for ``results`` to render.
``notifications/tools/list_changed`` calls ``on_tools_changed``; other notifications
(logging, progress, ...) are ignored. When an HTTP server forgets the session, the client
starts a new one and sends the request again, once.
"""

import asyncio
import logging

import blufio
from blufio.plugins.mcp.errors import ProtocolError, ServerUnavailable, SessionExpired
from blufio.plugins.mcp.jsonrpc import Connection

log = logging.getLogger("blufio.mcp")

PROTOCOL_VERSION = "2025-06-18"
SUPPORTED_VERSIONS = ("2025-06-18", "2025-03-26", "2024-11-05")
MAX_TOOL_PAGES = 100


class McpClient:
    """An MCP session with one server (see the module docstring)."""

    def __init__(self, transport, *, label, timeout, on_tools_changed=None, on_closed=None):
        self.transport = transport
        self.label = label
        self.timeout = timeout
        self.on_tools_changed = on_tools_changed
        self.connection = Connection(transport.send, on_notification=self._notified,
                                     on_close=on_closed, label=label)
        self.protocol_version = None
        self.server_info = {}
        self.capabilities = {}
        self.instructions = ""
        self._session_lock = asyncio.Lock()
        self._generation = 0  # how many sessions have been started

    @property
    def closed(self):
        return self.connection.closed

    async def connect(self):
        """Start the transport and initialise; on any failure everything is closed again."""
        try:
            await self.transport.start(self.connection)
            await self._initialize()
        except BaseException:
            await self.aclose()
            raise

    async def _initialize(self):
        result = await self.connection.request("initialize", {
            "protocolVersion": PROTOCOL_VERSION, "capabilities": {},
            "clientInfo": {"name": "blufio", "version": blufio.__version__}},
            timeout=self.timeout)
        if not isinstance(result, dict):
            raise ProtocolError(f"{self.label} answered initialize with a result that is not "
                                "an object")
        version = result.get("protocolVersion")
        if version not in SUPPORTED_VERSIONS:
            raise ProtocolError(f"{self.label} speaks MCP revision {version!r}; Blufio speaks "
                                f"{', '.join(SUPPORTED_VERSIONS)}")
        self.protocol_version = version
        self.transport.protocol_version = version
        self.server_info = _dict(result.get("serverInfo"))
        self.capabilities = _dict(result.get("capabilities"))
        self.instructions = result.get("instructions") or ""
        self._generation += 1
        await self.connection.notify("notifications/initialized")
        listen = getattr(self.transport, "listen", None)
        if listen is not None:  # servers send list_changed even when they do not declare it
            listen()

    async def request(self, method, params=None, timeout=None):
        """A request in this session; a forgotten HTTP session is renewed and the request
        sent again once."""
        generation = self._generation
        timeout = self.timeout if timeout is None else timeout
        try:
            return await self.connection.request(method, params, timeout=timeout)
        except SessionExpired as exc:
            async with self._session_lock:
                if generation == self._generation:  # nobody renewed it meanwhile
                    log.info("%s; starting a new session", exc)
                    self.transport.forget_session()
                    await self._initialize()
            return await self.connection.request(method, params, timeout=timeout)

    async def list_tools(self):
        """Every tool the server offers (all pages), each a dict with at least a ``name``."""
        tools, cursor, seen = [], None, set()
        for _ in range(MAX_TOOL_PAGES):
            result = await self.request("tools/list", {"cursor": cursor} if cursor else None)
            if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
                raise ProtocolError(f"{self.label} answered tools/list without a tools list")
            tools.extend(_checked_tool(self.label, tool) for tool in result["tools"])
            cursor = result.get("nextCursor")
            if not cursor or cursor in seen:
                break
            seen.add(cursor)
        return [tool for tool in tools if tool is not None]

    async def call_tool(self, name, arguments, timeout=None):
        """Run tool ``name``; the ``tools/call`` result as the server sent it."""
        result = await self.request("tools/call", {"name": name, "arguments": arguments},
                                    timeout)
        if not isinstance(result, dict) or not isinstance(result.get("content", []), list):
            raise ProtocolError(f"{self.label} answered tools/call with a result that has no "
                                "content list")
        return result

    async def ping(self, timeout=None):
        await self.request("ping", timeout=timeout)

    def _notified(self, method, params):
        if method == "notifications/tools/list_changed" and self.on_tools_changed is not None:
            self.on_tools_changed()

    async def aclose(self):
        """End the session and its transport (a child process is stopped); safe twice."""
        try:
            await self.transport.aclose()
        finally:
            self.connection.close(ServerUnavailable(f"{self.label} was stopped"))


def _dict(value):
    return value if isinstance(value, dict) else {}


def _checked_tool(label, tool):
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
        log.warning("%s listed a tool without a name (ignored)", label)
        return None
    schema = tool.get("inputSchema")
    if not isinstance(schema, dict):
        schema = {"type": "object"}
    return {**tool, "inputSchema": schema,
            "description": tool.get("description") if isinstance(tool.get("description"), str)
            else ""}
