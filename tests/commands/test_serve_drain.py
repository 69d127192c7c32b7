"""``serve`` draining on SIGTERM, as a real process: it stops listening at once, closes idle
connections at once (WebSockets with 1001), lets turns in flight finish, and answers the
replies still waiting at the drain timeout with a 503 (their turns resumed after restart)."""

import socket
import sqlite3
import threading
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from tests.fakes.anthropic_server import FakeResponse, Stall, message_events, wait_for

TOKEN = "drain-test-token"
HELLO = {"model": "m", "max_tokens": 20, "messages": [{"role": "user", "content": "slow"}]}


def slow_reply(seconds):
    parts = message_events([{"type": "text", "text": "late but whole"}])
    return FakeResponse(parts=[*parts[:4], Stall(seconds), *parts[4:]], stream=True)


def in_background(request):
    """Run ``request()`` in a thread; return (thread, result list)."""
    result = []
    thread = threading.Thread(target=lambda: result.append(request()), daemon=True)
    thread.start()
    return thread, result


def post(served, body=HELLO):
    return httpx.post(f"{served.url}/v1/messages", json=body, timeout=60,
                      headers={"x-api-key": TOKEN})


def refused(url):
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_reply_still_waiting_at_the_drain_timeout_is_a_503_and_resumed_after_restart(
        serve, fake_anthropic, data_dir):
    fake_anthropic.add(slow_reply(60))
    served = serve(BLUFIO_AGENT__DRAIN_TIMEOUT="1")
    waiting, answer = in_background(lambda: post(served))
    assert wait_for(lambda: fake_anthropic.message_requests, timeout=20)  # the turn is running

    assert served.stop() == 0
    waiting.join(20)
    response = answer[0]
    assert response.status_code == 503
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "api_error"
    assert "answered after the restart" in body["error"]["message"]
    assert body["request_id"] == response.headers["request-id"]
    session_id = response.headers["x-blufio-session"]
    assert int(response.headers["retry-after"]) > 0
    assert "Traceback" not in served.stderr, served.stderr

    restarted = serve()  # the fake answers with an echo now
    db = sqlite3.connect(data_dir / "blufio.db")
    assert wait_for(lambda: db.execute("SELECT status FROM inbound").fetchall() == [("done",)],
                    timeout=20)
    stored = httpx.get(f"{restarted.url}/v1/sessions/{session_id}",
                       headers={"x-api-key": TOKEN}).json()
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant"]
    assert restarted.stop() == 0


def test_the_drain_stops_listening_at_once_while_a_turn_in_flight_finishes(serve,
                                                                          fake_anthropic):
    fake_anthropic.add(slow_reply(8))
    served = serve(BLUFIO_AGENT__DRAIN_TIMEOUT="60")
    waiting, answer = in_background(lambda: post(served))
    assert wait_for(lambda: fake_anthropic.message_requests, timeout=20)

    served.process.send_signal(15)
    assert wait_for(lambda: refused(served.url), timeout=20)
    assert waiting.is_alive()  # refused while the turn in flight was still being answered
    waiting.join(30)
    assert answer[0].status_code == 200
    assert answer[0].json()["content"][0]["text"] == "late but whole"
    assert served.process.wait(30) == 0


def test_idle_keep_alive_and_websocket_connections_do_not_hold_the_drain(serve):
    served = serve(BLUFIO_AGENT__DRAIN_TIMEOUT="300")
    with httpx.Client(headers={"x-api-key": TOKEN}) as client:
        assert client.get(f"{served.url}/v1/sessions").status_code == 200  # now idle
        url = served.url.replace("http://", "ws://") + f"/ws?token={TOKEN}"
        with ws_connect(url) as websocket:
            served.process.send_signal(15)
            with pytest.raises(ConnectionClosed) as closed:
                websocket.recv(timeout=30)
            assert served.process.wait(30) == 0  # not the 300 s drain timeout
    assert closed.value.rcvd.code == 1001  # "going away"
    assert closed.value.rcvd.reason == "the server is shutting down"
