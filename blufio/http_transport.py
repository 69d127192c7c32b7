"""The HTTP transport the providers reach their upstream through: httpx's, minus two costs.

httpx's default transport (httpcore over anyio) pays on every request for two things that
serve nothing here (both found with py-spy under load, see bench/bench_gateway.py):

- httpcore asks which async library runs it (``import sniffio``) several times a request.
  Without sniffio (the archive carries none) the import fails, and a failing import walks
  every ``sys.path`` entry each time. ``skip_async_library_detection`` records its absence
  once, so each later attempt fails at once; httpcore and anyio then assume asyncio, the
  only event loop Blufio runs.
- Before assigning a request, httpcore asks every pooled idle connection whether its socket
  turned readable (the upstream closed it). anyio answers by building the stream's whole
  attribute table, peer name included, each time. ``LeanBackend``'s streams keep the socket
  and poll it directly.

The pool has no cap on connections, so every open stream reaches the provider at once (the
gateway bounds turns itself; httpx's default of 100 made the 101st stream wait for one to
end), and keeps up to ``KEEPALIVE`` idle connections for the next requests.
"""

import importlib.util
import select
import sys

import httpcore
import httpx

KEEPALIVE = 64


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
    """An httpcore network stream that answers ``is_readable`` from the socket it keeps."""

    def __init__(self, inner):
        self._inner = inner
        self._socket = inner.get_extra_info("socket")

    async def read(self, max_bytes, timeout=None):
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer, timeout=None):
        await self._inner.write(buffer, timeout)

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


def lean_transport(socket_options=()):
    """An ``httpx.AsyncHTTPTransport`` with no connection cap, over ``LeanBackend``."""
    skip_async_library_detection()
    transport = httpx.AsyncHTTPTransport(
        socket_options=list(socket_options),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=KEEPALIVE))
    # httpx takes no backend argument; its pool is httpcore's, which reads this per connection
    transport._pool._network_backend = LeanBackend()
    return transport
