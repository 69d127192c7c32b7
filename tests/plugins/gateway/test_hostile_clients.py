"""Clients that send and never read, or start many turns at once: the server's memory stays
bounded (backpressure instead of queues), turns are capped by ``[gateway]
max_concurrent_turns``, and cleartext HTTP/2 is not spoken at all."""

import gc
import json

import httpx
import pytest
from quart.asgi import ASGIWebsocketConnection
from websockets.sync.client import connect as ws_connect

from blufio.agent.events import TextDelta
from tests.fakes.anthropic_server import FakeResponse, Stall, message_events, text_reply, wait_for

from .conftest import TOKEN, RunningGateway
from .raw import (close_code, connect, open_websocket, post, read_head, send_until_blocked,
                  text_frame)

HELLO = {"model": "any", "max_tokens": 5, "messages": [{"role": "user", "content": "hello"}]}


def live(kind):
    """Every object of ``kind`` (or a subclass) alive in this process."""
    return [o for o in gc.get_objects() if issubclass(type(o), kind)]


# Flaky: once in ~6 CI runs the close frame did not come within 20 s (cause not found yet;
# see the session note). Rerun rather than hidden, until someone finds it.
@pytest.mark.flaky(reruns=2)
def test_a_websocket_client_that_sends_and_never_reads_is_closed_not_buffered(gateway):
    sock = open_websocket(gateway.url)
    ping = text_frame({"type": "ping", "id": "x" * 60_000})  # each pong is as large
    try:
        send_until_blocked(sock, ping, budget=48 << 20)
        waiting = [c.queue.qsize() * len(ping) for c in live(ASGIWebsocketConnection)]
        assert waiting and max(waiting) <= 5 << 20  # frames held for the handler: bounded
        assert close_code(sock) == 1008  # and the client is told why it was closed
    finally:
        sock.close()


@pytest.mark.slow  # waits out real time
def test_an_sse_client_that_never_reads_leaves_its_reply_merged_not_queued(gateway,
                                                                          fake_anthropic):
    fake_anthropic.add(text_reply("ab" * 60_000, chunk_size=2))  # 60,000 deltas
    sock = connect(gateway.url)
    try:
        post(sock, "/v1/messages", {**HELLO, "stream": True})
        assert wait_for(lambda: _answered_sessions(gateway), timeout=60)  # stored meanwhile
        deltas = len(live(TextDelta))
    finally:
        sock.close()
    assert deltas < 200  # not one event object per delta still waiting to be written


def _answered_sessions(gateway):
    listed = httpx.get(f"{gateway.url}/v1/sessions", headers=gateway.auth()).json()
    return [s for s in listed["data"] if s["message_count"] == 2]


@pytest.fixture
def two_turns_at_most(monkeypatch, gateway_env):
    monkeypatch.setenv("BLUFIO_GATEWAY__MAX_CONCURRENT_TURNS", "2")
    monkeypatch.setenv("BLUFIO_AGENT__DRAIN_TIMEOUT", "0.5")
    running = RunningGateway().start()
    yield running
    running.stop()


def slow_reply(seconds):
    parts = message_events([{"type": "text", "text": "slow answer"}])
    return FakeResponse(parts=[*parts[:4], Stall(seconds), *parts[4:]], stream=True)


@pytest.mark.slow  # waits out real time
def test_turns_above_max_concurrent_turns_get_429_with_retry_after(two_turns_at_most,
                                                                   fake_anthropic):
    gateway = two_turns_at_most
    fake_anthropic.add(slow_reply(3.0), slow_reply(3.0))
    url = f"{gateway.url}/v1/messages"
    with httpx.Client(timeout=30, headers=gateway.auth()) as one, \
            httpx.Client(timeout=30, headers=gateway.auth()) as two:
        with one.stream("POST", url, json={**HELLO, "stream": True}) as first, \
                two.stream("POST", url, json={**HELLO, "stream": True}) as second:
            assert first.status_code == second.status_code == 200  # both turns running

            refused = httpx.post(url, json=HELLO, headers=gateway.auth(), timeout=10)
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.json()["error"]["type"] == "rate_limit_error"
            assert refused.json()["request_id"] == refused.headers["request-id"]
            assert "x-blufio-session" not in refused.headers  # refused before any session

            ws_url = gateway.url.replace("http://", "ws://") + f"/ws?token={TOKEN}"
            with ws_connect(ws_url) as socket:
                socket.send(json.dumps({"type": "message", "content": "hi", "id": "m"}))
                frame = json.loads(socket.recv(timeout=10))
            assert frame["type"] == "error" and frame["id"] == "m"
            assert frame["error"]["type"] == "rate_limit_error"
    # The two clients left early; their turns still finish, and then give back their slots.
    turns = gateway.service.channels["gateway"].turns
    assert wait_for(lambda: turns.active == 0, timeout=20)
    assert httpx.post(url, json=HELLO, headers=gateway.auth(), timeout=10).status_code == 200
    listed = httpx.get(f"{gateway.url}/v1/sessions", headers=gateway.auth()).json()
    assert listed["total"] == 3  # the refused requests made no sessions


def test_an_h2c_upgrade_is_answered_in_http_1_1(gateway):
    sock = connect(gateway.url, receive_buffer=1 << 16)
    try:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings"
                     b"\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
        head = read_head(sock)
    finally:
        sock.close()
    assert head.startswith(b"HTTP/1.1 200"), head  # not "101 Switching Protocols"


def test_the_http2_preface_is_refused(gateway):
    sock = connect(gateway.url, receive_buffer=1 << 16)
    settings = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # an empty SETTINGS frame
    try:
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + settings)
        answer = sock.recv(4096)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 4"), answer  # not an HTTP/2 SETTINGS frame
