"""The providers' transport: every open stream reaches the upstream at once, a request checks
only the idle connection it is handed (the most recently used), a connection the upstream
closed while idle is never reused, a request goes out in one write, no cookies are kept,
and a missing sniffio is looked for only once."""

import asyncio
import importlib.util
import sys

import httpx
import pytest

import blufio.http_transport as http_transport
from blufio.http_transport import (CookielessClient, LeanBackend, LeanPool, LeanStream,
                                   lean_transport, skip_async_library_detection)


class HoldingServer:
    """A keep-alive HTTP/1.1 server on 127.0.0.1:0 that answers nothing until ``release_at``
    requests are waiting, and (with ``close_after_reply``) hangs up after each reply."""

    def __init__(self, release_at=1, close_after_reply=False):
        self.release_at = release_at
        self.close_after_reply = close_after_reply
        self.waiting = 0
        self.connections = 0
        self.released = asyncio.Event()

    async def __aenter__(self):
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    async def serve(self, reader, writer):
        self.connections += 1
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                self.waiting += 1
                if self.waiting >= self.release_at:
                    self.released.set()
                await self.released.wait()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
                if self.close_after_reply:
                    break
        except asyncio.IncompleteReadError:
            pass
        writer.close()


async def test_two_hundred_requests_reach_the_upstream_at_once():
    async with HoldingServer(release_at=200) as server, httpx.AsyncClient(
            transport=lean_transport(), timeout=30) as client:
        replies = await asyncio.wait_for(asyncio.gather(
            *(client.get(server.url) for _ in range(200))), 30)
    assert [reply.text for reply in replies] == ["ok"] * 200
    assert server.connections == 200


async def test_an_idle_connection_is_reused():
    async with HoldingServer() as server, httpx.AsyncClient(transport=lean_transport()) as client:
        for _ in range(3):
            assert (await client.get(server.url)).text == "ok"
    assert server.connections == 1


async def test_a_connection_the_upstream_closed_while_idle_is_not_reused():
    async with HoldingServer(close_after_reply=True) as server, httpx.AsyncClient(
            transport=lean_transport()) as client:
        for _ in range(3):
            assert (await client.get(server.url)).text == "ok"
            await asyncio.sleep(0.05)  # let the hang-up arrive before the next request
    assert server.connections == 3


async def test_the_pool_hands_out_lean_streams():
    seen = []
    async with HoldingServer() as server, httpx.AsyncClient(transport=lean_transport()) as client:
        async with client.stream("GET", server.url) as response:
            seen.append(response.extensions["network_stream"])
            await response.aread()
    assert isinstance(seen[0], LeanStream)


async def open_idle_connections(client, server, count):
    """Have ``count`` requests at ``server`` at once, so ``count`` connections end up idle."""
    server.release_at = count
    await asyncio.gather(*(client.get(server.url) for _ in range(count)))
    server.released.clear()
    server.waiting, server.release_at = 0, 1


async def test_a_request_checks_only_the_idle_connection_it_is_handed(monkeypatch):
    polls = []
    monkeypatch.setattr(http_transport, "socket_readable",
                        lambda sock: polls.append(sock) or False)
    async with HoldingServer() as server, httpx.AsyncClient(transport=lean_transport()) as client:
        await open_idle_connections(client, server, 20)
        polls.clear()
        for _ in range(5):
            assert (await client.get(server.url)).text == "ok"
    assert len(polls) == 5
    assert server.connections == 20


async def test_the_most_recently_used_idle_connection_is_handed_out():
    async with HoldingServer() as server, httpx.AsyncClient(transport=lean_transport()) as client:
        first = await client.send(client.build_request("GET", server.url), stream=True)
        second = await client.send(client.build_request("GET", server.url), stream=True)
        for response in (first, second):  # the second one ends last
            await response.aread()
            await response.aclose()
        async with client.stream("GET", server.url) as response:
            await response.aread()
            reused = response.extensions["network_stream"]
    assert reused is second.extensions["network_stream"]
    assert reused is not first.extensions["network_stream"]


async def test_idle_connections_beyond_the_keepalive_limit_are_closed():
    pool = LeanPool(max_keepalive_connections=2, network_backend=LeanBackend())
    async with HoldingServer() as server, httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport()) as client:
        client._transport._pool = pool
        await open_idle_connections(client, server, 6)
        assert len(pool.connections) == 2


async def test_expired_idle_connections_are_closed_by_the_next_sweep(monkeypatch):
    monkeypatch.setattr(http_transport, "SWEEP_EVERY", 0.0)
    pool = LeanPool(keepalive_expiry=0.02, network_backend=LeanBackend())
    async with HoldingServer() as server, httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport()) as client:
        client._transport._pool = pool
        await open_idle_connections(client, server, 4)
        await asyncio.sleep(0.05)
        assert (await client.get(server.url)).text == "ok"
        assert len(pool.connections) == 1
        assert server.connections == 5


async def test_a_pool_closed_and_used_again_opens_a_new_connection():
    pool = LeanPool(network_backend=LeanBackend())
    async with HoldingServer() as server, httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport()) as client:
        client._transport._pool = pool
        assert (await client.get(server.url)).text == "ok"
        await pool.aclose()
        assert (await client.get(server.url)).text == "ok"
        assert server.connections == 2


async def test_a_request_head_and_body_go_out_in_one_write(monkeypatch):
    writes = []
    original = LeanStream._send_held

    async def counted(self, timeout):
        writes.append(self._held)
        await original(self, timeout)

    monkeypatch.setattr(LeanStream, "_send_held", counted)
    async with HoldingServer() as server, httpx.AsyncClient(transport=lean_transport()) as client:
        for _ in range(2):
            assert (await client.post(server.url, content=b"x" * 1000)).text == "ok"
    assert len(writes) == 2
    assert all(w.startswith(b"POST / HTTP/1.1") and w.endswith(b"x" * 1000) for w in writes)


async def test_a_body_larger_than_what_is_held_back_is_sent_whole():
    async with HoldingServer() as server, httpx.AsyncClient(transport=lean_transport()) as client:
        body = b"x" * (http_transport.HOLD_BYTES * 3)
        assert (await client.post(server.url, content=body)).text == "ok"


class CookieServer(HoldingServer):
    """Answers every request with a cookie, and records the requests' heads."""

    async def serve(self, reader, writer):
        self.heads = getattr(self, "heads", [])
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                self.heads.append(head)
                writer.write(b"HTTP/1.1 200 OK\r\nset-cookie: a=b\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        writer.close()


async def test_the_client_keeps_no_cookies():
    async with CookieServer() as server, CookielessClient(transport=lean_transport()) as client:
        for _ in range(2):
            assert (await client.get(server.url)).text == "ok"
        assert not client.cookies
    assert all(b"cookie" not in head.lower() for head in server.heads)


def test_a_missing_sniffio_is_recorded_once_so_importing_it_fails_at_once(monkeypatch):
    monkeypatch.delitem(sys.modules, "sniffio", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    skip_async_library_detection()
    try:
        assert sys.modules["sniffio"] is None
        with pytest.raises(ModuleNotFoundError):
            import sniffio  # noqa: F401
    finally:
        monkeypatch.delitem(sys.modules, "sniffio")


def test_an_installed_sniffio_is_left_alone(monkeypatch):
    monkeypatch.delitem(sys.modules, "sniffio", raising=False)
    found = object()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: found)
    skip_async_library_detection()
    assert "sniffio" not in sys.modules
