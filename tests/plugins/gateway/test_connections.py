"""Keep-alive and hang-ups: the server keeps idle connections open longer than clients' own
pools do (so it is never the side that closes one a request is racing onto), and a message
that was stored is answered in this run even when its client hung up at once."""

import pytest
import asyncio
import sqlite3
import time

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

    async def slow_enqueue(*args, **kwargs):  # stored, then a slow disk: the client is gone
        entry = await enqueue(*args, **kwargs)
        await asyncio.sleep(0.5)
        return entry

    monkeypatch.setattr(storage, "enqueue", slow_enqueue)
    sock = connect(gateway.url)
    post(sock, "/v1/messages", HELLO)
    time.sleep(0.05)
    sock.close()

    db = sqlite3.connect(data_dir / "blufio.db")
    assert wait_for(lambda: db.execute("SELECT count(*) FROM inbound").fetchone()[0] == 1)
    assert wait_for(lambda: db.execute("SELECT status FROM inbound").fetchall() == [("done",)],
                    timeout=10)
    roles = [role for (role,) in db.execute("SELECT role FROM messages ORDER BY id")]
    assert roles == ["user", "assistant"]
