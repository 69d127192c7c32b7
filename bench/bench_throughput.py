"""Throughput of a build against a baseline build, side by side in one run.

    python3 build_zipapp.py -o /tmp/after.pyz           # this checkout
    git stash; python3 build_zipapp.py -o /tmp/before.pyz; git stash pop   # or any older build
    python3 bench/bench_throughput.py --pyz /tmp/after.pyz --baseline-pyz /tmp/before.pyz

Both archives run as ``serve`` processes (SQLite persistence on, every turn stored) against
bench/instant_provider.py, driven by wrk with 32 connections (``apt-get install wrk``; else
32 concurrent httpx clients, which cost the machine as much CPU as the server does). Rounds alternate between
the two (baseline, build, baseline, build, ...) so the load of a shared machine falls on both;
the figures are each one's median over the rounds, and their ratio: requests per second,
and the server's CPU time per request (user and system, over the load), which a shared
machine's load disturbs far less than the rate.

Then 200 streams at once against an upstream that takes ``--delay`` seconds to answer: the
slowest first token of the 200, as a multiple of that delay (1.0: every stream reached the
upstream at once; 2.0: half of them waited for another stream to end), beside the same 200
streams opened straight to the upstream by this process (what the load generator costs);
and the server's RSS growth while they are open, per stream (issue 17: <= 80 KB).

Then ``[gateway] workers``: the build with one worker against the same build with
``--workers`` (default 2), rounds alternating the same way (the issue's target on a 2-core
machine: two workers >= 1.8x one). ``--workers-only`` measures just that, without a baseline
archive. (CPU per request is not shown there: a worker's CPU is not its supervisor's.)

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
                           instant_provider, rss_mb, start_serve, throughput,
                           throughput_wrk)

HEADERS = {"x-api-key": TOKEN}
WRK_SECONDS = 6


async def requests_per_second(url, total, stream, concurrency=32):
    """``(requests/s, seconds of load)``, driven by wrk when installed (its CPU cost is small
    beside httpx's), else httpx."""
    body = {**BODY, "stream": True} if stream else BODY
    rate = throughput_wrk(f"{url}/v1/messages", HEADERS, body, seconds=WRK_SECONDS,
                          concurrency=concurrency)
    if rate is not None:
        return rate, WRK_SECONDS
    return await throughput(url, total, concurrency, body)


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


def cpu_seconds(pid):
    """The user and system CPU time process ``pid`` has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Served:
    """``serve`` of one archive against one provider, in its own data directory."""

    def __init__(self, pyz, provider_url, **env):
        self.data_dir = tempfile.TemporaryDirectory()
        self.process, self.url = start_serve(provider_url, pyz, self.data_dir.name, **env)

    async def requests_per_second(self, total, stream):
        """``(requests/s, ms of the server's CPU per request)``; a dropped request ends the
        run with the end of the server's log."""
        used = cpu_seconds(self.process.pid)
        try:
            rate, seconds = await requests_per_second(self.url, total, stream)
        except DroppedRequest as exc:
            raise SystemExit(failure_report(exc, self.process)) from None
        return rate, (cpu_seconds(self.process.pid) - used) * 1000 / (rate * seconds)

    def close(self):
        self.process.terminate()
        self.process.wait(60)
        self.data_dir.cleanup()


def row(label, baseline, build, unit="", better="higher"):
    ratio = build / baseline if better == "higher" else baseline / build
    print(f"{label:44} {baseline:10.2f} {build:10.2f} {ratio:9.2f}x {unit}")


async def load_figures(builds, args):
    """Per build and mode (streaming or not): ``(requests/s, CPU ms per request)`` of each
    round, the builds taking turns. ``builds``: name -> (archive, extra environment)."""
    with instant_provider() as provider_url:
        served = {name: Served(pyz, provider_url, **env) for name, (pyz, env) in builds.items()}
        try:
            for one in served.values():  # warm both (imports, connections, caches)
                await one.requests_per_second(200, False)
            figures = {(name, stream): [] for name in builds for stream in (False, True)}
            for _ in range(args.rounds):
                for stream in (False, True):
                    for name, one in served.items():
                        figures[name, stream].append(
                            await one.requests_per_second(args.requests, stream))
            return figures
        finally:
            for one in served.values():
                one.close()


async def stream_figures(builds, args):
    """The slowest first token (x the delay) of ``args.streams`` streams at once, per build
    and straight to the upstream, and each build's RSS growth per open stream (KB)."""
    # the gateway admits 32 turns at once by default; let every stream in
    os.environ["BLUFIO_GATEWAY__MAX_CONCURRENT_TURNS"] = str(args.streams)
    with instant_provider(args.delay) as provider_url:
        first = {"upstream": (await slowest_first_token(provider_url, args.streams))[0]
                 / args.delay}
        per_stream = {}
        for name, (pyz, env) in builds.items():
            one = Served(pyz, provider_url, **env)
            try:
                await slowest_first_token(one.url, 2)  # the first turn's imports and caches
                slowest, per_stream[name] = await slowest_first_token(
                    one.url, args.streams, one.process.pid)
                first[name] = slowest / args.delay
            finally:
                one.close()
    return first, per_stream


def median_of(figures, name, stream, which):
    return statistics.median(run[which] for run in figures[name, stream])


async def workers_phase(args):
    """One worker against ``args.workers`` workers, the same build, in one run."""
    builds = {"one": (args.pyz, {}),
              "workers": (args.pyz, {"BLUFIO_GATEWAY__WORKERS": str(args.workers)})}
    figures = await load_figures(builds, args)
    print(f"{'figure (same build)':44} {'1 worker':>10} {f'{args.workers} workers':>10} "
          f"{'ratio':>10}")
    for stream, kind in ((False, "non-streaming"), (True, "streaming")):
        row(f"requests/s, 32 clients, {kind}", median_of(figures, "one", stream, 0),
            median_of(figures, "workers", stream, 0))
    print(f"(cpus: {os.cpu_count()}; load average: "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())})")


async def main(args):
    if not args.workers_only:
        if not args.baseline_pyz:
            raise SystemExit("--baseline-pyz is required (or --workers-only)")
        await baseline_phase(args)
    await workers_phase(args)


async def baseline_phase(args):
    builds = {"baseline": (args.baseline_pyz, {}), "build": (args.pyz, {})}
    figures = await load_figures(builds, args)
    first, per_stream = await stream_figures(builds, args)

    def median_of_build(name, stream, which):
        return median_of(figures, name, stream, which)

    print(f"{'figure':44} {'baseline':>10} {'build':>10} {'ratio':>10}")
    for stream, kind in ((False, "non-streaming"), (True, "streaming")):
        row(f"requests/s, 32 clients, {kind}", median_of_build("baseline", stream, 0),
            median_of_build("build", stream, 0))
        row(f"server CPU per request (ms), {kind}", median_of_build("baseline", stream, 1),
            median_of_build("build", stream, 1), better="lower")
    row(f"slowest first token of {args.streams} streams (x delay)", first["baseline"],
        first["build"], f"(straight to the upstream: {first['upstream']:.2f})", better="lower")
    row(f"RSS growth per open stream of {args.streams} (KB)", per_stream["baseline"],
        per_stream["build"], "(issue 17: <= 80 KB)", better="lower")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pyz", required=True, help="the build measured")
    parser.add_argument("--baseline-pyz", help="the build it is compared with")
    parser.add_argument("--requests", type=int, default=1000, help="turns per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per build and mode")
    parser.add_argument("--streams", type=int, default=200, help="streams opened at once")
    parser.add_argument("--delay", type=float, default=2.0,
                        help="seconds the upstream takes to answer, for the streams figure")
    parser.add_argument("--workers", type=int, default=2,
                        help="[gateway] workers measured against one worker")
    parser.add_argument("--workers-only", action="store_true",
                        help="measure only one worker against --workers workers")
    asyncio.run(main(parser.parse_args()))
