"""The Streamable HTTP transport (MCP revisions 2025-03-26 and 2025-06-18), over httpx.

Every message is POSTed to the server's one endpoint with ``Accept: application/json,
text/event-stream``. A notification or a response is acknowledged with 202; a request is
answered either with one JSON body or with a ``text/event-stream`` whose events carry the
server's messages, the response last (the stream is closed once it has arrived).

The ``Mcp-Session-Id`` the server gives on ``initialize`` is sent with every later message,
and so is ``MCP-Protocol-Version`` once negotiated. A 404 to a message that carried a
session id means the server forgot the session: ``SessionExpired``, and the client starts a
new one. ``listen()`` opens the optional GET stream for the server's own notifications
(``notifications/tools/list_changed``); a server without one answers 405 and that is fine.
``aclose`` ends the session with DELETE.

Bodies and events are bounded by ``max_message_bytes`` like the stdio transport's lines.
Headers (which may hold tokens) are never logged.
"""

import asyncio
import json
import logging

import httpx

from blufio.plugins.mcp.errors import (NotDelivered, ProtocolError, RemoteError,
                                       ServerUnavailable, SessionExpired)
from blufio.plugins.mcp.lines import Lines

log = logging.getLogger("blufio.mcp")

ACCEPT = "application/json, text/event-stream"
LISTEN_RETRY = 5.0


class HttpTransport:
    """One Streamable HTTP endpoint; ``start(sink)``, ``send(message)``, ``aclose()``."""

    def __init__(self, settings, *, label, max_message_bytes):
        self.settings = settings
        self.label = label
        self.max_message_bytes = max_message_bytes
        self.session_id = None
        self.protocol_version = None  # set by the client once negotiated
        self._client = None
        self._sink = None
        self._listener = None

    pid = None  # no process of ours

    async def start(self, sink):
        self._sink = sink
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=10.0),
                                         follow_redirects=False)

    def forget_session(self):
        """Drop the session (the server forgot it); the next ``initialize`` gets a new one."""
        self.session_id = None
        self.protocol_version = None

    def _headers(self, accept=ACCEPT):
        headers = {**self.settings.headers, "Accept": accept}
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version:
            headers["MCP-Protocol-Version"] = self.protocol_version
        return headers

    async def send(self, message):
        if self._client is None:
            raise ServerUnavailable(f"{self.label} is closed")
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {**self._headers(), "Content-Type": "application/json"}
        request_id = message.get("id") if "method" in message else None
        try:
            async with self._client.stream("POST", self.settings.url, content=body,
                                           headers=headers) as response:
                await self._answer(message, request_id, response)
        except httpx.HTTPError as exc:
            unsent = NotDelivered if isinstance(exc, httpx.ConnectError) else ServerUnavailable
            raise unsent(f"{self.label} cannot be reached at {self.settings.url}: "
                         f"{exc or type(exc).__name__}") from None
        if request_id is not None:
            self._sink.fail(request_id, ProtocolError(
                f"{self.label} ended its answer to {message['method']} without a response"))

    async def _answer(self, message, request_id, response):
        status = response.status_code
        if status == 404 and self.session_id and message.get("method") != "initialize":
            raise SessionExpired(f"{self.label} no longer knows session {self.session_id}")
        if status >= 400:
            raise await self._http_error(response)
        if message.get("method") == "initialize" and response.headers.get("mcp-session-id"):
            self.session_id = response.headers["mcp-session-id"]
        if request_id is None:
            return
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json":
            self._deliver(await self._read_body(response))
        elif content_type == "text/event-stream":
            await self._read_events(response, request_id)
        else:
            raise ProtocolError(f"{self.label} answered {message['method']} with HTTP {status} "
                                f"and content type '{content_type or 'none'}', neither JSON nor "
                                "an event stream")

    async def _http_error(self, response):
        text = (await self._read_body(response))[:300].decode("utf-8", "replace")
        try:  # a JSON-RPC error sent with a 4xx: its message says more than the status
            detail = json.loads(text)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            detail = " ".join(text.split())[:200]
        hint = " (check its headers: a token may be missing or wrong)" if \
            response.status_code in (401, 403) else ""
        return RemoteError(f"{self.label} answered HTTP {response.status_code}{hint}"
                           + (f": {detail}" if detail else ""), code=response.status_code)

    async def _read_body(self, response):
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self.max_message_bytes:
                limit = self.max_message_bytes / (1024 * 1024)
                raise ProtocolError(f"{self.label} sent a message larger than the {limit:g} MB "
                                    "limit; it was discarded")
        return bytes(body)

    def _deliver(self, data):
        try:
            message = json.loads(data)
        except ValueError:
            raise ProtocolError(f"{self.label} answered with a body that is not JSON") from None
        self._sink.receive(message)
        return message

    async def _read_events(self, response, request_id):
        """Deliver each event's message; stop after the response to ``request_id``."""
        def oversized(prefix):
            self._sink.oversized(prefix, self.max_message_bytes)

        events = _EventReader(self.max_message_bytes, oversized)
        lines = Lines(self.max_message_bytes, events.line, oversized)
        async for chunk in response.aiter_bytes():
            lines.feed(chunk)
            for data in events.take():
                message = self._deliver_event(data)
                if _answers(message, request_id):
                    return

    def _deliver_event(self, data):
        try:
            return self._deliver(data)
        except ProtocolError:
            log.warning("%s sent an event that is not JSON (ignored)", self.label)
            return None

    # --- the server's own stream ---

    def listen(self):
        """Open the GET stream for server notifications, in the background."""
        if self._listener is None and self._client is not None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self):
        while self._client is not None and self.session_id:
            try:
                async with self._client.stream("GET", self.settings.url,
                                               headers=self._headers("text/event-stream")) as r:
                    content_type = r.headers.get("content-type", "")
                    if r.status_code != 200 or not content_type.startswith("text/event-stream"):
                        return  # 405: the server has no such stream
                    await self._read_events(r, None)
            except httpx.HTTPError as exc:
                log.debug("%s: notification stream ended: %s", self.label, exc)
            await asyncio.sleep(LISTEN_RETRY)

    async def aclose(self):
        """End the session (DELETE) and close the connection pool; safe to call twice."""
        client, self._client = self._client, None
        if client is None:
            return
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self.session_id:
            try:
                await client.delete(self.settings.url, headers=self._headers(), timeout=2.0)
            except httpx.HTTPError:
                pass
        await client.aclose()


class _EventReader:
    """Server-sent events from lines: the ``data`` of each complete event, bounded."""

    def __init__(self, limit, on_oversized):
        self.limit = limit
        self.on_oversized = on_oversized  # called with the first bytes of a too large event
        self._data = []
        self._size = 0
        self._ready = []

    def line(self, line):
        if not line:
            if self._data:
                self._ready.append(b"\n".join(self._data))
            self._data, self._size = [], 0
            return
        field, _, value = line.partition(b":")
        if field != b"data":
            return  # event, id, retry and comments change nothing here
        value = value[1:] if value.startswith(b" ") else value
        was_within = self._size <= self.limit
        self._size += len(value) + 1
        if self._size <= self.limit:
            self._data.append(value)
        elif was_within:
            self.on_oversized((b"".join(self._data) + value[:512])[:512])
            self._data = []

    def take(self):
        ready, self._ready = self._ready, []
        return ready


def _answers(message, request_id):
    return (request_id is not None and isinstance(message, dict) and "method" not in message
            and message.get("id") == request_id)
