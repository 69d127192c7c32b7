"""Memory under hostile clients: the serve process's RSS against its own idle baseline.

    python3 bench/bench_hostile.py [--checkout PATH | --pyz dist/blufio.pyz] [--sse 5]

Starts the scriptable fake Anthropic API (tests/fakes, replying with a long streamed text of
60,000 deltas) and ``blufio serve`` as a real process (from this checkout, another checkout
given with --checkout, e.g. a main worktree to compare, or an archive). Then, one case after
the other, each measured as RSS (MB) and as a ratio to the idle RSS of the same run:

- idle: after one ordinary turn (the baseline);
- ws flood: one /ws client sends 64 KB ``ping`` frames and never reads (up to 256 MB, or
  until the server stops taking them); RSS while it is connected, then after it closed;
- sse non-readers: --sse clients each start a streamed reply and never read it; RSS once
  every turn is stored, then after they closed;
- burst: 700 requests at once on 700 connections; how many got 429 and the peak RSS.

Target (issue 13, item 5): every case stays within a small multiple of idle, and RSS falls
back near idle once the hostile clients are gone.
"""

import argparse
import asyncio
import functools
import json
import os
import socket
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import httpx  # noqa: E402

from tests.fakes.anthropic_server import FakeAnthropic, echo, text_reply  # noqa: E402
import bench_gateway as gateway_bench  # noqa: E402
from tests.plugins.gateway.conftest import TOKEN  # noqa: E402
from tests.plugins.gateway.raw import (connect, open_websocket, post,  # noqa: E402
                                       send_until_blocked, text_frame)

HELLO = {"model": "m", "max_tokens": 32, "messages": [{"role": "user", "content": "hello"}]}
LONG_TEXT = "ab" * 60_000


def start_serve(fake_url, data_dir, checkout, pyz):
    return gateway_bench.start_serve(fake_url, pyz, data_dir, token=TOKEN, checkout=checkout,
                                     BLUFIO_AGENT__DRAIN_TIMEOUT="1")


rss_mb = gateway_bench.rss_mb


def stored_turns(url):
    listed = httpx.get(f"{url}/v1/sessions", params={"limit": 100},
                       headers={"x-api-key": TOKEN}, timeout=30).json()
    return sum(1 for s in listed.get("data", []) if s["message_count"] >= 2)


def wait_until(predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.2)


def ws_flood(url, pid):
    sock = open_websocket(url)
    sent = send_until_blocked(sock, text_frame({"type": "ping", "id": "x" * 65_000}),
                              budget=256 << 20)
    time.sleep(1)
    during = rss_mb(pid)
    sock.close()
    time.sleep(2)
    return sent, during, rss_mb(pid)


def sse_non_readers(url, pid, count):
    before = stored_turns(url)
    sockets = [connect(url) for _ in range(count)]
    long_one = {**HELLO, "stream": True, "messages": [{"role": "user", "content": "long"}]}
    for sock in sockets:
        post(sock, "/v1/messages", long_one)
    wait_until(lambda: stored_turns(url) >= before + count)
    during = rss_mb(pid)
    for sock in sockets:
        sock.close()
    time.sleep(2)
    return during, rss_mb(pid)


async def burst(url, pid, count=700):
    host, port = url.removeprefix("http://").split(":")
    peak = [rss_mb(pid)]

    async def one():
        reader, writer = await asyncio.open_connection(host, int(port))
        body = b'{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
        writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + TOKEN.encode()
                     + b"\r\ncontent-type: application/json\r\ncontent-length: "
                     + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)
        status = (await reader.readline()).split()[1:2]
        writer.close()
        return status[0].decode() if status else "closed"

    async def watch():
        while True:
            peak[0] = max(peak[0], rss_mb(pid))
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch())
    statuses = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    watcher.cancel()
    counts = {}
    for status in statuses:
        key = status if isinstance(status, str) else type(status).__name__
        counts[key] = counts.get(key, 0) + 1
    return counts, peak[0]


def main(args):
    checkout = os.path.abspath(args.checkout or ROOT)
    with FakeAnthropic(default=reply) as fake, tempfile.TemporaryDirectory() as data_dir:
        process, url = start_serve(fake.base_url, data_dir, checkout, args.pyz)
        try:
            httpx.post(f"{url}/v1/messages", json=HELLO, headers={"x-api-key": TOKEN},
                       timeout=60)
            time.sleep(1)
            idle = rss_mb(process.pid)
            print(f"serve from {args.pyz or checkout}")
            print(f"{'case':42} {'RSS MB':>8} {'x idle':>7}  note")
            row = functools.partial(print_row, idle)
            row("idle (baseline)", idle)
            sent, during, after = ws_flood(url, process.pid)
            row("ws flood, connected", during, f"server took {sent / 2**20:.0f} MB")
            row("ws flood, after close", after)
            during, after = sse_non_readers(url, process.pid, args.sse)
            row(f"{args.sse} sse non-readers, turns stored", during,
                f"reply {len(LONG_TEXT) // 1000} KB in 60,000 deltas each")
            row(f"{args.sse} sse non-readers, after close", after)
            counts, peak = asyncio.run(burst(url, process.pid))
            row("burst of 700 requests, peak", peak,
                " ".join(f"{k}:{v}" for k, v in sorted(counts.items())))
        finally:
            process.terminate()
            process.wait(60)


def reply(request):
    """A long streamed text for a message saying "long", else an echo."""
    asked = json.dumps(request.json.get("messages", [])[-1:])
    return text_reply(LONG_TEXT, chunk_size=2) if "long" in asked else echo(request)


def print_row(idle, name, value, note=""):
    print(f"{name:42} {value:8.1f} {value / idle:7.2f}  {note}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", help="serve from this checkout (default: this one)")
    parser.add_argument("--pyz", help="serve from this archive instead")
    parser.add_argument("--sse", type=int, default=5, help="SSE clients that never read")
    socket.setdefaulttimeout(120)
    main(parser.parse_args())
