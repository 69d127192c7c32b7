"""Throughput of a build against a baseline build, side by side in one run.

    python3 build_zipapp.py -o /tmp/after.pyz           # this checkout
    git stash; python3 build_zipapp.py -o /tmp/before.pyz; git stash pop   # or any older build
    python3 bench/bench_throughput.py --pyz /tmp/after.pyz --baseline-pyz /tmp/before.pyz

Both archives run as ``serve`` processes (SQLite persistence on, every turn stored) against
bench/instant_provider.py, driven by wrk with 32 connections (``apt-get install wrk``; else
32 concurrent httpx clients, which cost the machine as much CPU as the server does). Rounds alternate between
the two (baseline, build, baseline, build, ...) so the load of a shared machine falls on both;
the figure is each one's median over the rounds, and their ratio.

Then 200 streams at once against an upstream that takes ``--delay`` seconds to answer: the
slowest first token of the 200, as a multiple of that delay (1.0: every stream reached the
upstream at once; 2.0: half of them waited for another stream to end), beside the same 200
streams opened straight to the upstream by this process (what the load generator costs);
and the server's RSS growth while they are open, per stream (issue 17: <= 80 KB).

A request the server closed before answering ("Server disconnected without sending a
response") ends the run with the end of that server's log: it is a bug, never retried.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import httpx  # noqa: E402
from bench_gateway import (BODY, TOKEN, DroppedRequest, failure_report,  # noqa: E402
                           instant_provider, post_turn, rss_mb, start_serve, throughput_wrk)

HEADERS = {"x-api-key": TOKEN}
WRK_SECONDS = 6


async def requests_per_second(url, total, stream, concurrency=32):
    """Driven by wrk when installed (its CPU cost is small beside httpx's), else httpx."""
    body = {**BODY, "stream": True} if stream else BODY
    rate = throughput_wrk(f"{url}/v1/messages", HEADERS, body, seconds=WRK_SECONDS,
                          concurrency=concurrency)
    if rate is not None:
        return rate
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        remaining = iter(range(total))

        async def worker():
            for _ in remaining:
                await post_turn(client, url, body)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return total / (time.perf_counter() - started)


async def slowest_first_token(url, streams, pid=None):
    """Seconds until the last of ``streams`` concurrent streams saw its first text delta, and
    (given the server's ``pid``) its RSS growth per stream while they were open, in KB."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=streams)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        async def one():
            started = time.perf_counter()
            async with client.stream("POST", f"{url}/v1/messages", headers=HEADERS,
                                     json={**BODY, "stream": True}) as response:
                lines = []
                async for line in response.aiter_lines():
                    if '"text_delta"' in line:
                        return time.perf_counter() - started
                    lines.append(line)
            raise SystemExit(f"a stream ended without a text delta: {response.status_code} "
                             + "\n".join(lines)[:500])

        idle = peak = rss_mb(pid) if pid else 0.0
        opened = asyncio.gather(*(one() for _ in range(streams)))
        while pid and not opened.done():
            peak = max(peak, rss_mb(pid))
            await asyncio.sleep(0.02)
        return max(await opened), (peak - idle) * 1024 / streams


class Served:
    """``serve`` of one archive against one provider, in its own data directory."""

    def __init__(self, pyz, provider_url):
        self.data_dir = tempfile.TemporaryDirectory()
        self.process, self.url = start_serve(provider_url, pyz, self.data_dir.name)

    async def requests_per_second(self, total, stream):
        """``requests_per_second`` of this server; a dropped request ends the run with the
        end of its log."""
        try:
            return await requests_per_second(self.url, total, stream)
        except DroppedRequest as exc:
            raise SystemExit(failure_report(exc, self.process)) from None

    def close(self):
        self.process.terminate()
        self.process.wait(60)
        self.data_dir.cleanup()


def row(label, baseline, build, unit="", better="higher"):
    ratio = build / baseline if better == "higher" else baseline / build
    print(f"{label:44} {baseline:10.2f} {build:10.2f} {ratio:9.2f}x {unit}")


async def main(args):
    builds = {"baseline": args.baseline_pyz, "build": args.pyz}
    with instant_provider() as provider_url:
        served = {name: Served(pyz, provider_url) for name, pyz in builds.items()}
        try:
            for one in served.values():  # warm both (imports, connections, caches)
                await one.requests_per_second(200, False)
            figures = {(name, stream): [] for name in builds for stream in (False, True)}
            for _ in range(args.rounds):
                for stream in (False, True):
                    for name, one in served.items():
                        figures[name, stream].append(
                            await one.requests_per_second(args.requests, stream))
        finally:
            for one in served.values():
                one.close()
    # the gateway admits 32 turns at once by default; let every stream in
    os.environ["BLUFIO_GATEWAY__MAX_CONCURRENT_TURNS"] = str(args.streams)
    with instant_provider(args.delay) as provider_url:
        first = {"upstream": (await slowest_first_token(provider_url, args.streams))[0]
                 / args.delay}
        per_stream = {}
        for name, pyz in builds.items():
            one = Served(pyz, provider_url)
            try:
                await slowest_first_token(one.url, 2)  # the first turn's imports and caches
                slowest, per_stream[name] = await slowest_first_token(
                    one.url, args.streams, one.process.pid)
                first[name] = slowest / args.delay
            finally:
                one.close()

    median = statistics.median
    print(f"{'figure':44} {'baseline':>10} {'build':>10} {'ratio':>10}")
    for stream, label in ((False, "requests/s, 32 clients, non-streaming"),
                          (True, "requests/s, 32 clients, streaming")):
        row(label, median(figures["baseline", stream]), median(figures["build", stream]))
    row(f"slowest first token of {args.streams} streams (x delay)", first["baseline"],
        first["build"], f"(straight to the upstream: {first['upstream']:.2f})", better="lower")
    row(f"RSS growth per open stream of {args.streams} (KB)", per_stream["baseline"],
        per_stream["build"], "(issue 17: <= 80 KB)", better="lower")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pyz", required=True, help="the build measured")
    parser.add_argument("--baseline-pyz", required=True, help="the build it is compared with")
    parser.add_argument("--requests", type=int, default=1000, help="turns per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per build and mode")
    parser.add_argument("--streams", type=int, default=200, help="streams opened at once")
    parser.add_argument("--delay", type=float, default=2.0,
                        help="seconds the upstream takes to answer, for the streams figure")
    asyncio.run(main(parser.parse_args()))
