"""What every fake upstream shares: a real HTTP server on ``127.0.0.1:<ephemeral>`` that
answers one route from a script of responses and records every request.

A vendor's fake (``FakeAnthropic``, ``FakeOpenAI``) subclasses ``ScriptedServer`` and says
only what differs: its route, its error envelope (``error_response``), and how a scripted
answer is adapted to the request (``adapt``). Script items are ``FakeResponse`` objects or
callables ``f(request) -> FakeResponse``; when the script runs out, ``default`` answers.
Response bodies are lists of parts: ``bytes`` (one chunk each), ``Stall`` (silence) and
``Drop`` (the connection closes), so failure modes are scripted like replies.
"""

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional, Union


@dataclass
class Stall:
    """Stop sending for ``seconds``, until ``until`` is set, or until the server stops.

    If ``seconds`` run out first, the stall sets ``until`` itself, so a test that checks the
    event sees that the stall has ended either way."""

    seconds: float = 3600.0
    until: Optional[threading.Event] = None

    def wait(self, stopping):
        """Wait out the stall; True if the server is stopping."""
        if self.until is None:
            return stopping.wait(self.seconds)
        deadline = time.monotonic() + self.seconds
        while not self.until.wait(0.01):
            if stopping.is_set() or time.monotonic() > deadline:
                self.until.set()
                return stopping.is_set()
        return False


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


class ScriptedServer:
    """The server. ``start()``/``stop()`` or use it as a context manager.

    ``api_key``, when set, must arrive as ``x-api-key`` or ``Authorization: Bearer``;
    otherwise the request gets a 401. ``requests`` lists what arrived, in order.
    Subclasses set ``route`` and implement ``error_response``.
    """

    route = "/"
    thread_name = "fake-upstream"

    def __init__(self, script=(), *, default: Optional[Responder] = None, api_key=None):
        self._script = list(script)
        self.default = default
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = None
        self._thread = None

    # what a vendor's fake says

    def error_response(self, status: int, message: str) -> FakeResponse:
        """An error reply in the vendor's envelope."""
        raise NotImplementedError

    def side_route(self, request: RecordedRequest) -> Optional[FakeResponse]:
        """The answer to a request beside the scripted route (e.g. a counting endpoint), or
        None."""
        return None

    def adapt(self, request: RecordedRequest, response: FakeResponse) -> FakeResponse:
        """The scripted ``response`` as this ``request`` should get it (e.g. not streamed)."""
        return response

    # lifecycle

    def start(self):
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True, name=self.thread_name)
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
    def root_url(self) -> str:
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
    def route_requests(self) -> list:
        """The requests received on ``route``."""
        return [r for r in self.requests if r.path.split("?")[0] == self.route]

    def _record(self, request):
        with self._lock:
            self.requests.append(request)

    def _answer(self, request):
        """The response to a POST: a side route's, a route or key error, else the next
        scripted one."""
        side = self.side_route(request)
        if side is not None:
            self._record(request)
            return side
        if request.path.split("?")[0] != self.route:
            self._record(request)
            return self.error_response(404, f"no route {request.path}")
        key = request.headers.get("x-api-key") or \
            request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if self.api_key is not None and key != self.api_key:
            self._record(request)
            return self.error_response(401, "invalid API key")
        with self._lock:
            self.requests.append(request)
            responder = self._script.pop(0) if self._script else self.default
        if responder is None:
            return self.error_response(500, "the fake's script is exhausted")
        response = responder(request) if callable(responder) else responder
        return self.adapt(request, response)


class _QuietServer(ThreadingHTTPServer):
    """Clients closing idle keep-alive connections is normal; do not print it."""

    request_queue_size = 128  # the default backlog (5) resets connections under load

    def handle_error(self, request, client_address):
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: ScriptedServer

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def do_GET(self):
        request = self._read()
        self.owner._record(request)
        self._reply(self.owner.error_response(404, "not found"))

    def do_POST(self):
        self._reply(self.owner._answer(self._read()))

    def _read(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        return RecordedRequest(self.command, self.path,
                               {k.lower(): v for k, v in self.headers.items()}, body)

    def _reply(self, response):
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
                if part.wait(stopping):
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
