"""A fake Anthropic Messages API: a real HTTP server on ``127.0.0.1:<ephemeral>``.

It answers ``POST /v1/messages`` from a script of responses, one per request, and records
every request it receives. Use it from sync or async tests (it runs in its own thread)::

    from tests.fakes.anthropic_server import FakeAnthropic, text_reply, tool_use_reply, http_error

    with FakeAnthropic([http_error(529), text_reply("Hello!")]) as fake:
        ...  # point the client at fake.base_url (e.g. ANTHROPIC_BASE_URL=fake.base_url)
        assert fake.requests[-1].json["messages"][-1]["role"] == "user"

Script items are ``FakeResponse`` objects, built by the helpers below, or callables
``f(request) -> FakeResponse`` for replies that depend on the request. When the script runs
out, ``default`` answers (a callable or a response; by default a text reply echoing the last
user message as ``"echo: <text>"``). ``fake.add(...)`` appends to the script while it runs.

Streaming replies follow Anthropic's documented event sequence, every event with its
``event:`` line, chunked transfer encoding, and a ``request-id`` header. A request without
``"stream": true`` gets the equivalent JSON message. Failure modes: ``http_error`` (with
``retry-after``/``retry-after-ms`` headers), ``stream_error`` (a mid-stream ``error`` event),
``dropped`` (the connection closes mid-stream), ``slow_text_reply`` (a pause between deltas),
``stalled`` (headers and maybe some events, then silence), ``malformed`` (bytes that are not
SSE). ``POST /v1/messages/count_tokens`` answers a count (``tests.fakes.anthropic_model``).
"""

import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional, Union

from tests.fakes.anthropic_model import answer, count_tokens

_ids = itertools.count(1)


# --- what a response is --------------------------------------------------------------------


@dataclass
class Stall:
    """Stop sending for ``seconds`` (or until the server stops)."""

    seconds: float = 3600.0


@dataclass
class Drop:
    """Close the connection abruptly, mid-body."""


@dataclass
class FakeResponse:
    """One scripted answer: status, headers and the body as a list of parts.

    A part is ``bytes`` (sent as one chunk), a ``Stall`` or a ``Drop``. ``stream=True`` uses
    chunked transfer encoding; otherwise the parts are joined and sent with a length.
    """

    status: int = 200
    headers: dict = field(default_factory=dict)
    parts: list = field(default_factory=list)
    stream: bool = True
    delay: float = 0.0  # seconds to wait before sending the status line


@dataclass
class RecordedRequest:
    """A request the fake received."""

    method: str
    path: str
    headers: dict  # lower-case names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")


Responder = Union[FakeResponse, Callable[[RecordedRequest], FakeResponse]]


# --- building responses ----------------------------------------------------------------------


def sse(event: str, data: dict) -> bytes:
    """One server-sent event, framed as Anthropic frames them."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _message_start(model, usage):
    return sse("message_start", {"type": "message_start", "message": {
        "id": f"msg_fake_{next(_ids)}", "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": usage.get("input_tokens", 10), "output_tokens": 1,
                  "cache_creation_input_tokens": usage.get("cache_creation_input_tokens", 0),
                  "cache_read_input_tokens": usage.get("cache_read_input_tokens", 0)}}})


def _text_block_events(index, text, chunk_size):
    parts = [sse("content_block_start", {"type": "content_block_start", "index": index,
                                         "content_block": {"type": "text", "text": ""}})]
    for start in range(0, len(text), chunk_size):
        parts.append(sse("content_block_delta", {
            "type": "content_block_delta", "index": index,
            "delta": {"type": "text_delta", "text": text[start:start + chunk_size]}}))
    parts.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    return parts


def _tool_block_events(index, tool_id, name, tool_input, chunk_size):
    encoded = json.dumps(tool_input)
    parts = [sse("content_block_start", {"type": "content_block_start", "index": index,
                                         "content_block": {"type": "tool_use", "id": tool_id,
                                                           "name": name, "input": {}}})]
    for start in range(0, len(encoded), chunk_size):
        parts.append(sse("content_block_delta", {
            "type": "content_block_delta", "index": index,
            "delta": {"type": "input_json_delta", "partial_json": encoded[start:start + chunk_size]}}))
    parts.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    return parts


def _finish(stop_reason, output_tokens, stop_sequence=None):
    return [sse("message_delta", {"type": "message_delta",
                                  "delta": {"stop_reason": stop_reason,
                                            "stop_sequence": stop_sequence},
                                  "usage": {"output_tokens": output_tokens}}),
            sse("message_stop", {"type": "message_stop"})]


def _headers(extra=None):
    headers = {"content-type": "text/event-stream", "cache-control": "no-cache",
               "request-id": f"req_fake_{next(_ids)}"}
    headers.update(extra or {})
    return headers


def message_events(blocks, *, model="claude-sonnet-4-5", stop_reason="end_turn", usage=None,
                   chunk_size=4, ping=True, stop_sequence=None):
    """The full event list (bytes parts) for a message made of ``blocks``.

    ``blocks`` are ``{"type": "text", "text": ...}`` or ``{"type": "tool_use", "id", "name",
    "input"}`` dicts; text streams in ``chunk_size``-character deltas, tool input as
    ``input_json_delta`` fragments of the JSON.
    """
    usage = usage or {}
    parts = [_message_start(model, usage)]
    if ping:
        parts.append(sse("ping", {"type": "ping"}))
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            parts += _text_block_events(index, block["text"], chunk_size)
        else:
            parts += _tool_block_events(index, block["id"], block["name"], block["input"],
                                        chunk_size)
    return parts + _finish(stop_reason, usage.get("output_tokens", 5), stop_sequence)


def text_reply(text, *, model="claude-sonnet-4-5", usage=None, chunk_size=4,
               stop_reason="end_turn", headers=None) -> FakeResponse:
    """A streamed assistant reply of plain ``text``."""
    return FakeResponse(headers=_headers(headers), parts=message_events(
        [{"type": "text", "text": text}], model=model, usage=usage, chunk_size=chunk_size,
        stop_reason=stop_reason), stream=True)


def slow_text_reply(text, *, pause=0.15, chunk_size=6, usage=None) -> FakeResponse:
    """A streamed reply of ``text`` with ``pause`` seconds between its deltas, so a client
    can see it arrive piece by piece (and stop it half-way)."""
    parts = []
    for part in text_reply(text, chunk_size=chunk_size, usage=usage).parts:
        parts.append(part)
        if b"content_block_delta" in part:
            parts.append(Stall(pause))
    return FakeResponse(headers=_headers(), parts=parts)


def tool_use_reply(name, tool_input, *, text="", tool_id=None, model="claude-sonnet-4-5",
                   usage=None, chunk_size=4) -> FakeResponse:
    """A streamed reply that asks for tool ``name`` with ``tool_input`` (after optional text)."""
    blocks = [{"type": "text", "text": text}] if text else []
    blocks.append({"type": "tool_use", "id": tool_id or f"toolu_fake_{next(_ids)}", "name": name,
                   "input": tool_input})
    return FakeResponse(headers=_headers(), parts=message_events(
        blocks, model=model, usage=usage, chunk_size=chunk_size, stop_reason="tool_use"))


def http_error(status, error_type=None, message=None, *, retry_after=None,
               retry_after_ms=None, headers=None) -> FakeResponse:
    """An error before the stream starts, in Anthropic's error envelope."""
    error_type = error_type or {400: "invalid_request_error", 401: "authentication_error",
                                403: "permission_error", 404: "not_found_error",
                                408: "timeout_error", 429: "rate_limit_error",
                                529: "overloaded_error"}.get(status, "api_error")
    message = message or f"fake {error_type}"
    request_id = f"req_fake_{next(_ids)}"
    extra = {"content-type": "application/json", "request-id": request_id}
    if retry_after is not None:
        extra["retry-after"] = str(retry_after)
    if retry_after_ms is not None:
        extra["retry-after-ms"] = str(retry_after_ms)
    extra.update(headers or {})
    body = json.dumps({"type": "error", "error": {"type": error_type, "message": message},
                       "request_id": request_id}).encode()
    return FakeResponse(status=status, headers=extra, parts=[body], stream=False)


def stream_error(partial_text="Hel", error_type="overloaded_error", message="Overloaded"):
    """A stream that starts a text reply, then sends an ``error`` event."""
    parts = [_message_start("claude-sonnet-4-5", {})]
    parts += _text_block_events(0, partial_text, 4)[:-1]  # the block never stops
    parts.append(sse("error", {"type": "error", "error": {"type": error_type, "message": message}}))
    return FakeResponse(headers=_headers(), parts=parts)


def dropped(partial_text="Hel"):
    """A stream whose connection closes after some text."""
    parts = [_message_start("claude-sonnet-4-5", {})]
    parts += _text_block_events(0, partial_text, 4)[:-1]
    return FakeResponse(headers=_headers(), parts=parts + [Drop()])


def stalled(partial_text=None, seconds=3600.0, before_headers=False):
    """Silence: before the status line (``before_headers``), or after some events."""
    if before_headers:
        return FakeResponse(headers=_headers(), delay=seconds, parts=message_events(
            [{"type": "text", "text": "late"}]))
    parts = [_message_start("claude-sonnet-4-5", {})]
    if partial_text:
        parts += _text_block_events(0, partial_text, 4)[:-1]
    return FakeResponse(headers=_headers(), parts=parts + [Stall(seconds)])


def malformed(partial_text="Hel"):
    """A stream that turns into bytes that are not valid events."""
    parts = [_message_start("claude-sonnet-4-5", {})]
    parts += _text_block_events(0, partial_text, 4)[:-1]
    parts.append(b"event: content_block_delta\ndata: {not json\n\n")
    return FakeResponse(headers=_headers(), parts=parts)


def echo(request: RecordedRequest) -> FakeResponse:
    """The default responder: ``echo: <the last user message's text>``, within the request's
    ``max_tokens`` and ``stop_sequences``, or a ``tool_use`` its ``tool_choice`` asks for
    (see ``tests.fakes.anthropic_model``)."""
    blocks, stop_reason, stop_sequence, output_tokens = answer(request.json or {})
    return FakeResponse(headers=_headers(), parts=message_events(
        blocks, stop_reason=stop_reason, stop_sequence=stop_sequence,
        usage={"output_tokens": output_tokens}))


# --- the server --------------------------------------------------------------------------------


def _as_json(response: FakeResponse) -> FakeResponse:
    """The non-streaming form of a streamed message reply (for ``"stream": false``)."""
    message, blocks, partial = None, {}, {}
    for part in response.parts:
        if not isinstance(part, bytes):
            continue
        for frame in part.decode().split("\n\n"):
            data = next((line[6:] for line in frame.splitlines() if line.startswith("data: ")), None)
            if data is None:
                continue
            event = json.loads(data)
            kind = event["type"]
            if kind == "message_start":
                message = event["message"]
            elif kind == "content_block_start":
                blocks[event["index"]] = dict(event["content_block"])
            elif kind == "content_block_delta":
                delta = event["delta"]
                if delta["type"] == "text_delta":
                    blocks[event["index"]]["text"] += delta["text"]
                else:
                    partial[event["index"]] = partial.get(event["index"], "") + delta["partial_json"]
            elif kind == "message_delta":
                message.update(event["delta"])
                message["usage"].update(event["usage"])
    for index, text in partial.items():
        blocks[index]["input"] = json.loads(text)
    message["content"] = [blocks[i] for i in sorted(blocks)]
    headers = {k: v for k, v in response.headers.items() if k != "content-type"}
    headers["content-type"] = "application/json"
    return FakeResponse(status=200, headers=headers, parts=[json.dumps(message).encode()],
                        stream=False)


class FakeAnthropic:
    """The fake server. ``start()``/``stop()`` or use it as a context manager.

    ``api_key``, when set, must arrive as ``x-api-key`` or ``Authorization: Bearer``;
    otherwise the request gets a 401. ``requests`` lists what arrived, in order.
    """

    def __init__(self, script=(), *, default: Optional[Responder] = echo, api_key=None):
        self._script = list(script)
        self.default = default
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = None
        self._thread = None

    # lifecycle

    def start(self):
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True,
                                        name="fake-anthropic")
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()  # releases stalled handlers
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """The API root, without ``/v1`` (what ``ANTHROPIC_BASE_URL`` takes)."""
        return f"http://127.0.0.1:{self.port}"

    # scripting

    def add(self, *responses: Responder):
        """Append responses to the script."""
        with self._lock:
            self._script.extend(responses)

    @property
    def remaining(self) -> int:
        """Scripted responses not used yet."""
        with self._lock:
            return len(self._script)

    @property
    def message_requests(self) -> list:
        """The ``POST /v1/messages`` requests received."""
        return [r for r in self.requests if r.path.split("?")[0] == "/v1/messages"]

    def _next(self, request):
        with self._lock:
            self.requests.append(request)
            responder = self._script.pop(0) if self._script else self.default
        if responder is None:
            return http_error(500, "api_error", "the fake's script is exhausted")
        response = responder(request) if callable(responder) else responder
        wants_stream = bool((request.json or {}).get("stream"))
        plain = all(isinstance(part, bytes) for part in response.parts)
        if not wants_stream and response.stream and response.status == 200 and plain:
            return _as_json(response)
        return response


def _counted(request):
    """The answer to ``POST /v1/messages/count_tokens``."""
    body = json.dumps({"input_tokens": count_tokens(request.json or {})}).encode()
    return FakeResponse(headers={"content-type": "application/json",
                                 "request-id": f"req_fake_{next(_ids)}"}, parts=[body],
                        stream=False)


class _QuietServer(ThreadingHTTPServer):
    """Clients closing idle keep-alive connections is normal; do not print it."""

    request_queue_size = 128  # the default backlog (5) resets connections under load

    def handle_error(self, request, client_address):
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: FakeAnthropic

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def do_GET(self):
        self._reply(FakeResponse(status=404, headers={"content-type": "application/json"},
                                 parts=[b'{"type":"error","error":{"type":"not_found_error",'
                                        b'"message":"not found"}}'], stream=False), record=True)

    def do_POST(self):
        self._reply(None, record=True)

    def _reply(self, response, record):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(self.command, self.path,
                                  {k.lower(): v for k, v in self.headers.items()}, body)
        owner = self.owner
        if response is None:
            key = request.headers.get("x-api-key") or \
                request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if request.path.split("?")[0] == "/v1/messages/count_tokens":
                with owner._lock:
                    owner.requests.append(request)
                response = _counted(request)
            elif request.path.split("?")[0] != "/v1/messages":
                with owner._lock:
                    owner.requests.append(request)
                response = http_error(404, "not_found_error", f"no route {request.path}")
            elif owner.api_key is not None and key != owner.api_key:
                with owner._lock:
                    owner.requests.append(request)
                response = http_error(401, "authentication_error", "invalid x-api-key")
            else:
                response = owner._next(request)
        elif record:
            with owner._lock:
                owner.requests.append(request)
        try:
            self._send(response)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(self, response):
        stopping = self.owner._stopping
        if response.delay and stopping.wait(response.delay):
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if not response.stream:
            body = b"".join(p for p in response.parts if isinstance(p, bytes))
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            return
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for part in response.parts:
            if isinstance(part, Stall):
                self.wfile.flush()
                if stopping.wait(part.seconds):
                    self.close_connection = True
                    return
            elif isinstance(part, Drop):
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            else:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def wait_for(predicate, timeout=5.0, interval=0.01):
    """Poll ``predicate`` until true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
