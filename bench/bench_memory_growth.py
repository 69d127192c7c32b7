"""Slow growth: the serve process's RSS over 10,000 turns in 10,000 sessions.

    python3 bench/bench_memory_growth.py [--pyz dist/blufio.pyz] [--turns 10000] [--stream]

Starts the instant Anthropic stand-in (bench/instant_provider.py) and ``blufio serve`` (this
checkout, or the archive given with --pyz) with SQLite persistence, then sends --turns
turns through the gateway (non-streaming, or SSE with --stream), each in a new session, 16
at a time. RSS (VmRSS) is
read after the first tenth of the turns and after all of them, each time after 2 s idle.
Target (issue 13): RSS after all the turns within 10 MB of RSS after the first 1,000.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import httpx  # noqa: E402
from bench_gateway import BODY, TOKEN, instant_provider, rss_mb, start_serve  # noqa: E402

LIMIT_MB = 10.0


async def turns(url, count, stream=False, concurrency=16):
    """Send ``count`` turns, each in a new session; return how many failed."""
    body = {**BODY, "stream": True} if stream else BODY
    headers = {"x-api-key": TOKEN, "anthropic-version": "2023-06-01"}
    remaining, failed = [count], [0]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        async def worker():
            while remaining[0] > 0:
                remaining[0] -= 1
                response = await client.post(f"{url}/v1/messages", json=body, headers=headers)
                failed[0] += response.status_code != 200 or (
                    stream and "message_stop" not in response.text)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failed[0]


async def main(args):
    first = args.turns // 10
    with instant_provider() as fake_url, tempfile.TemporaryDirectory() as data_dir:
        process, url = start_serve(fake_url, args.pyz, data_dir)
        try:
            started = time.monotonic()
            failed = await turns(url, first, args.stream)
            await asyncio.sleep(2)
            early = rss_mb(process.pid)
            failed += await turns(url, args.turns - first, args.stream)
            await asyncio.sleep(2)
            late = rss_mb(process.pid)
            elapsed = time.monotonic() - started
        finally:
            process.terminate()
            process.wait(60)
    grew = late - early
    kind = "streamed" if args.stream else "non-streaming"
    print(f"{args.turns} {kind} turns in {args.turns} sessions, {elapsed:.0f} s, "
          f"{failed} failed")
    print(f"  RSS after {first:>6} turns  {early:7.1f} MB")
    print(f"  RSS after {args.turns:>6} turns  {late:7.1f} MB")
    print(f"  growth                {grew:+7.1f} MB   target <= {LIMIT_MB:.0f} MB: "
          f"{'PASS' if grew <= LIMIT_MB and not failed else 'FAIL'}")
    return 0 if grew <= LIMIT_MB and not failed else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pyz", default=None, help="serve this archive instead of the checkout")
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--stream", action="store_true", help="SSE turns instead of JSON")
    sys.exit(asyncio.run(main(parser.parse_args())))
