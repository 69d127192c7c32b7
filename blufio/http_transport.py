"""The HTTP client the providers reach their upstream through: httpx's, minus its waste.

httpx's default transport (httpcore over anyio) pays on every request for things that
serve nothing here (found with py-spy under load, see bench/bench_gateway.py):

- httpcore asks which async library runs it (``import sniffio``) several times a request.
  Without sniffio (the archive carries none) the import fails, and a failing import walks
  every ``sys.path`` entry each time. ``skip_async_library_detection`` records its absence
  once, so each later attempt fails at once; httpcore and anyio then assume asyncio, the
  only event loop Blufio runs.
- Before assigning a request, and again when a response ends, httpcore asks every pooled
  connection whether it expired, polling each idle one's socket (through anyio, which builds
  the stream's whole attribute table, peer name included, each time). ``LeanPool`` checks
  only the connection it hands out, and ``LeanBackend``'s streams poll their socket directly.
- Each request is written with two system calls (head, then body), each reply's cookies are
  read into a jar nobody uses: ``LeanStream`` sends the request in one piece, and
  ``CookielessClient`` keeps no cookies.

The pool has no cap on connections, so every open stream reaches the provider at once (the
gateway bounds turns itself; httpx's default of 100 made the 101st stream wait for one to
end), and keeps up to ``KEEPALIVE`` idle connections for the next requests.
"""

import importlib.util
import select
import sys
import time

import httpcore
import httpx

KEEPALIVE = 64  # idle connections kept per upstream
SWEEP_EVERY = 1.0  # seconds between two sweeps of the pool for expired connections
HOLD_BYTES = 64 * 1024  # what a stream may hold back to send with what follows


def skip_async_library_detection():
    """Make ``import sniffio`` fail at once when this interpreter has no sniffio."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # the documented "not importable" marker


def socket_readable(sock):
    """Whether ``sock`` has data (or its end) waiting: what an idle connection must not have."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class LeanStream(httpcore.AsyncNetworkStream):
    """An httpcore network stream that answers ``is_readable`` from the socket it keeps, and
    sends what is written in one piece when the reply is first read.

    httpcore writes a request's head, then its body, each at once (and the connection has no
    Nagle delay), so the upstream got two packets and the process made two system calls;
    here small writes wait, up to ``HOLD_BYTES``, for the next write or the first read."""

    def __init__(self, inner):
        self._inner = inner
        self._socket = inner.get_extra_info("socket")
        self._held = b""

    async def read(self, max_bytes, timeout=None):
        if self._held:
            await self._send_held(timeout)
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer, timeout=None):
        self._held += buffer
        if len(self._held) >= HOLD_BYTES:
            await self._send_held(timeout)

    async def _send_held(self, timeout):
        held, self._held = self._held, b""
        await self._inner.write(held, timeout)

    async def aclose(self):
        await self._inner.aclose()

    async def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        return LeanStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info):
        if info == "is_readable":
            return socket_readable(self._socket)
        return self._inner.get_extra_info(info)


class LeanBackend(httpcore.AnyIOBackend):
    """anyio's backend, handing out ``LeanStream``s."""

    async def connect_tcp(self, *args, **kwargs):
        return LeanStream(await super().connect_tcp(*args, **kwargs))

    async def connect_unix_socket(self, *args, **kwargs):
        return LeanStream(await super().connect_unix_socket(*args, **kwargs))


class LeanPool(httpcore.AsyncConnectionPool):
    """httpcore's HTTP/1.1 pool, with no connection cap, checking only the connection it
    hands out.

    httpcore's own pool, each time a request starts or a response ends, asks every pooled
    connection whether it expired (polling every idle socket) and counts the whole pool once
    per idle connection. Here a connection whose response ended waits on a stack of its
    origin; a request takes the top one (the most recently used, the likeliest still open
    upstream), and only that one is checked. The sweep that drops closed connections and
    closes expired ones runs at most once every ``SWEEP_EVERY`` seconds. Each origin keeps
    at most ``max_keepalive_connections`` idle connections, closing its oldest beyond that.
    """

    def __init__(self, **kwargs):
        super().__init__(max_connections=None, **kwargs)
        self._idle = {}  # origin -> its idle connections, the most recently used last
        self._swept_at = time.monotonic()

    async def handle_async_request(self, request):
        response = await super().handle_async_request(request)
        response.stream = _Returning(response.stream, self)
        return response

    def _assign_requests_to_connections(self):
        closing = []
        if time.monotonic() - self._swept_at > SWEEP_EVERY:
            closing = self._sweep()
        for pool_request in self._requests:
            if pool_request.is_queued():
                origin = pool_request.request.url.origin
                connection = self._take_idle(_key(origin), closing)
                if connection is None:
                    connection = self.create_connection(origin)
                    self._connections.append(connection)
                pool_request.assign_to_connection(connection)
        return closing

    def _take_idle(self, key, closing):
        """The top idle connection of the origin ``key`` still fit to use, or None; the unfit
        ones above it are moved to ``closing``."""
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if connection.is_available() and not connection.has_expired():
                return connection
            if not connection.is_closed():
                closing.append(connection)
            self._forget(connection)
        return None

    def _forget(self, connection):
        try:
            self._connections.remove(connection)
        except ValueError:  # the pool was closed meanwhile
            pass

    def _sweep(self):
        """Drop closed connections, and return the idle ones that expired, to be closed."""
        self._swept_at = time.monotonic()
        closed = [c for c in self._connections if c.is_closed()]
        expired = [c for c in self._connections if c.is_idle() and c.has_expired()]
        gone = set(closed + expired)
        self._connections = [c for c in self._connections if c not in gone]
        for idle in self._idle.values():
            idle[:] = [c for c in idle if c not in gone]
        return expired

    async def _returned(self, connection, origin):
        """Put ``connection``, whose response ended, on its origin's idle stack if it can
        serve again, closing that stack's oldest connection when it holds too many."""
        if not connection.is_idle():
            return
        idle = self._idle.setdefault(_key(origin), [])
        idle.append(connection)
        if len(idle) > self._max_keepalive_connections:
            oldest = idle.pop(0)
            self._forget(oldest)
            await self._close_connections([oldest])

    async def aclose(self):
        self._idle.clear()
        await super().aclose()


def _key(origin):
    return origin.scheme, origin.host, origin.port


class _Returning:
    """A response body that, once closed, returns its connection to the pool's idle stack."""

    def __init__(self, stream, pool):
        self._stream = stream
        self._pool = pool
        self._request = stream._pool_request  # whose ``connection`` this response holds
        self._closed = False

    def __aiter__(self):
        return self._stream.__aiter__()

    async def aclose(self):
        if self._closed:
            return
        self._closed = True
        await self._stream.aclose()
        await self._pool._returned(self._request.connection, self._request.request.url.origin)


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing."""

    def extract_cookies(self, response):
        pass


class CookielessClient(httpx.AsyncClient):
    """httpx's client, keeping no cookies: a model API sets none worth sending back, and
    reading each reply's ``Set-Cookie`` through urllib's cookie machinery cost ~2.5% of
    ``serve``'s samples under load."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._no_cookies = _NoCookies()

    @property
    def cookies(self):
        return self._no_cookies


def lean_transport(socket_options=()):
    """An ``httpx.AsyncHTTPTransport`` over a ``LeanPool`` of ``LeanBackend`` connections."""
    skip_async_library_detection()
    transport = httpx.AsyncHTTPTransport()
    # httpx takes no pool argument: its own is replaced by one built with the same settings
    default = transport._pool
    transport._pool = LeanPool(
        ssl_context=default._ssl_context, max_keepalive_connections=KEEPALIVE,
        keepalive_expiry=default._keepalive_expiry, socket_options=list(socket_options),
        network_backend=LeanBackend())
    return transport
