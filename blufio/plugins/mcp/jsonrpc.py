"""JSON-RPC 2.0 over any transport: request ids, waiting callers, the peer's own requests.

A ``Connection`` gets an async ``send(message)`` callback; the transport hands every message
it reads to ``receive(message)``, and reports its end with ``close(error)``. Nothing here
does I/O itself, so the logic is tested without sockets or processes.

- ``request`` numbers the request, sends it and waits for the response with the same id;
  a timeout or a cancelled caller sends ``notifications/cancelled`` for it (MCP's
  cancellation), and the late answer, if any, is dropped.
- Requests from the peer are answered: ``ping`` with an empty result, anything else with
  "method not found" (this client offers no capabilities such as sampling or roots).
- Notifications go to ``on_notification(method, params)``; unknown ones are the callback's
  to ignore.
- A response that breaks JSON-RPC fails the request it names; a message with no usable id
  is logged and dropped. A JSON-RPC batch (an array, allowed by revision 2025-03-26) is
  handled message by message.
"""

import asyncio
import logging
import re

from blufio.plugins.mcp.errors import ProtocolError, RemoteError, RequestTimeout

log = logging.getLogger("blufio.mcp")

METHOD_NOT_FOUND = -32601
INVALID_REQUEST = -32600

# The id of an oversized message, read from its first bytes: a top-level "id" key before any
# nested object opens (a response's "result" is such an object).
_LEADING_ID = re.compile(rb'^\s*\{[^{}\[\]]*?"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.){0,200}")')


def leading_id(prefix):
    """The JSON-RPC id at the start of an oversized message (``bytes``), or None."""
    match = _LEADING_ID.match(prefix)
    if match is None:
        return None
    raw = match.group(1)
    return raw[1:-1].decode("utf-8", "replace") if raw.startswith(b'"') else int(raw)


class Connection:
    """Requests and responses over one transport (see the module docstring)."""

    def __init__(self, send, *, on_notification=None, on_close=None, label="server"):
        self._send = send
        self._on_notification = on_notification
        self._on_close = on_close  # called once with the error when the transport ends
        self.label = label  # how errors name the peer, e.g. "MCP server 'files'"
        self._pending = {}  # id -> future of the response's result
        self._next_id = 1
        self._closed = None  # the error every later request fails with
        self._background = set()

    @property
    def closed(self):
        return self._closed is not None

    async def request(self, method, params=None, *, timeout=None):
        """Send a request and return its ``result``; raise RemoteError, RequestTimeout,
        ProtocolError or the connection's closing error."""
        if self._closed is not None:
            raise self._closed
        request_id = self._next_id
        self._next_id += 1
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            return await asyncio.wait_for(self._round_trip(message, future), timeout)
        except asyncio.TimeoutError:
            self._cancel(request_id, "timed out")
            raise RequestTimeout(f"{self.label} did not answer {method} within {timeout:g}s; "
                                 "the request was cancelled") from None
        except asyncio.CancelledError:
            if method != "initialize":  # MCP: initialize is never cancelled
                self._cancel(request_id, "cancelled by the client")
            raise
        finally:
            self._pending.pop(request_id, None)

    async def _round_trip(self, message, future):
        await self._send(message)
        return await future

    async def notify(self, method, params=None):
        """Send a notification (no answer expected)."""
        if self._closed is not None:
            raise self._closed
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self._send(message)

    def _cancel(self, request_id, reason):
        if self._closed is None:
            self._spawn(self.notify, "notifications/cancelled",
                        {"requestId": request_id, "reason": reason})

    def _spawn(self, function, *args):
        task = asyncio.get_running_loop().create_task(self._quietly(function, *args))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _quietly(self, function, *args):
        try:
            await function(*args)
        except Exception as exc:  # the peer may be gone; the caller already has its answer
            log.debug("%s: sending failed: %s", self.label, exc)

    # --- what the transport reads ---

    def receive(self, message):
        """Handle one decoded message (or a batch of them) read from the peer."""
        if isinstance(message, list):
            for item in message:
                self.receive(item)
            return
        if not isinstance(message, dict):
            log.debug("%s: ignored a message that is not a JSON object", self.label)
            return
        if "method" in message:
            self._incoming(message)
        elif "id" in message:
            self._response(message)
        else:
            log.debug("%s: ignored a message with neither a method nor an id", self.label)

    def _incoming(self, message):
        method = message.get("method")
        if "id" not in message:
            if self._on_notification is not None and isinstance(method, str):
                self._on_notification(method, message.get("params") or {})
            return
        answer = {"jsonrpc": "2.0", "id": message["id"]}
        if method == "ping":
            answer["result"] = {}
        elif not isinstance(method, str):
            answer["error"] = {"code": INVALID_REQUEST, "message": "method must be a string"}
        else:
            answer["error"] = {"code": METHOD_NOT_FOUND,
                               "message": f"this client does not support {method}"}
        self._spawn(self._send, answer)

    def _response(self, message):
        future = self._pending.get(message.get("id"))
        if future is None or future.done():
            log.debug("%s: dropped a response to no pending request (id %r)", self.label,
                      message.get("id"))
            return
        error = message.get("error")
        if message.get("jsonrpc") != "2.0" or (("result" in message) == (error is not None)):
            future.set_exception(ProtocolError(
                f"{self.label} sent an invalid JSON-RPC response (it needs \"jsonrpc\": "
                "\"2.0\" and exactly one of result or error)"))
        elif error is not None:
            future.set_exception(_remote_error(self.label, error))
        else:
            future.set_result(message["result"])

    def fail(self, request_id, error):
        """Fail the pending request ``request_id`` (e.g. its answer was too large)."""
        future = self._pending.get(request_id)
        if future is not None and not future.done():
            future.set_exception(error)
            return True
        return False

    def oversized(self, prefix, limit):
        """A message over ``limit`` bytes was skipped: fail the request it answers (found by
        the id in its first bytes ``prefix``), or every pending one when none can be read."""
        error = ProtocolError(f"{self.label} sent a message larger than the "
                              f"{limit / (1024 * 1024):g} MB limit; it was discarded")
        log.warning("%s", error)
        request_id = leading_id(prefix)
        if request_id is None:
            self.fail_all(error)
        else:
            self.fail(request_id, error)

    def fail_all(self, error):
        """Fail every pending request with ``error`` (the transport hit something it cannot
        attribute to one request)."""
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(error)

    def close(self, error):
        """The transport ended: fail every pending and later request with ``error``."""
        first = self._closed is None
        if first:
            self._closed = error
        self.fail_all(error)
        if first and self._on_close is not None:
            self._on_close(error)


def _remote_error(label, error):
    if not isinstance(error, dict):
        return ProtocolError(f"{label} sent a JSON-RPC error that is not an object")
    code, text = error.get("code"), error.get("message")
    return RemoteError(f"{label} answered with an error: {text or 'no message'}"
                       + (f" (code {code})" if code is not None else ""), code, error.get("data"))
