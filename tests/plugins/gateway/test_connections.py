"""Keep-alive and hang-ups: the server keeps idle connections open longer than clients' own
pools do (so it is never the side that closes one a request is racing onto), and a message
that was stored is answered in this run even when its client hung up at once. A reply of
known length goes out in one write."""

import asyncio
import shutil
import sqlite3
import subprocess
import threading
import time

import httpx
import pytest
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.events import RawData

from tests.fakes.anthropic_server import wait_for

from .raw import connect, post, read_head

HELLO = {"model": "any", "max_tokens": 5, "messages": [{"role": "user", "content": "hello"}]}
CLIENT_POOL_EXPIRY = 6.0  # longer than httpx's and the Anthropic SDK's 5 s, undici's 4 s


def read_response(sock):
    head = read_head(sock)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    body = b""
    while len(body) < length:
        body += sock.recv(length - len(body))
    return head, body


@pytest.mark.slow  # waits out real time
def test_an_idle_connection_outlives_the_common_client_pools(gateway):
    sock = connect(gateway.url, receive_buffer=1 << 16)
    try:
        post(sock, "/v1/messages", HELLO)
        assert read_response(sock)[0].startswith(b"HTTP/1.1 200")
        time.sleep(CLIENT_POOL_EXPIRY)  # what a pooled connection may sit idle for
        post(sock, "/v1/messages", HELLO)
        head, body = read_response(sock)
    finally:
        sock.close()
    assert head.startswith(b"HTTP/1.1 200") and b"echo: hello" in body


def test_a_client_that_hangs_up_just_after_sending_still_gets_its_message_answered(
        gateway, data_dir, monkeypatch):
    storage = gateway.storage
    enqueue = storage.enqueue

    stored, gone = threading.Event(), threading.Event()

    async def slow_enqueue(*args, **kwargs):  # stored, then a slow disk: the client is gone
        entry = await enqueue(*args, **kwargs)
        stored.set()
        await asyncio.to_thread(gone.wait, 10)
        return entry

    monkeypatch.setattr(storage, "enqueue", slow_enqueue)
    sock = connect(gateway.url)
    post(sock, "/v1/messages", HELLO)
    assert stored.wait(10)
    sock.close()
    gone.set()

    db = sqlite3.connect(data_dir / "blufio.db")
    assert wait_for(lambda: db.execute("SELECT count(*) FROM inbound").fetchone()[0] == 1)
    assert wait_for(lambda: db.execute("SELECT status FROM inbound").fetchall() == [("done",)],
                    timeout=10)
    roles = [role for (role,) in db.execute("SELECT role FROM messages ORDER BY id")]
    assert roles == ["user", "assistant"]


def listen_backlog(port):
    """The backlog of the socket listening on ``port`` (``ss`` shows it as Send-Q)."""
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True,
                         check=True).stdout
    return int(out.split()[2])


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_many_clients_connecting_at_once_are_queued_not_dropped(gateway):
    # Hypercorn re-listens with its own backlog (100 by default): the 101st SYN of a burst
    # was dropped and its client retried a second later
    port = int(gateway.url.rsplit(":", 1)[1])
    assert listen_backlog(port) >= 1024


@pytest.fixture
def writes(monkeypatch):
    """What the gateway's connections write, one item per write."""
    written = []
    send = TCPServer.protocol_send

    async def recorded(self, event):
        if isinstance(event, RawData) and event.data:
            written.append(event.data)
        await send(self, event)

    monkeypatch.setattr(TCPServer, "protocol_send", recorded)
    return written


def test_a_reply_of_known_length_goes_out_in_one_write_head_and_body(gateway, writes):
    reply = httpx.post(f"{gateway.url}/v1/messages", json=HELLO, headers=gateway.auth(),
                       timeout=10)
    assert reply.status_code == 200
    (head_and_body,) = [w for w in writes if w.startswith(b"HTTP/1.1 ")]
    assert head_and_body.endswith(reply.content)


def test_a_streamed_reply_sends_its_head_at_once(gateway, writes):
    with httpx.stream("POST", f"{gateway.url}/v1/messages", json={**HELLO, "stream": True},
                      headers=gateway.auth(), timeout=10) as reply:
        reply.read()
    (head,) = [w for w in writes if w.startswith(b"HTTP/1.1 ")]
    assert head.endswith(b"\r\n\r\n")
