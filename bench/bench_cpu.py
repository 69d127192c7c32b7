"""CPU time per request of ``serve``, for several builds side by side in one run.

    python3 bench/bench_cpu.py pre=/tmp/before.pyz default=dist/blufio.pyz uvloop=/tmp/uv.pyz

Each archive runs as a ``serve`` process (SQLite persistence on, every turn stored) against
bench/instant_provider.py; wrk drives 32 connections at each in turn (rounds alternate
between the builds). The figure is the serve process's CPU time (user + system, every
thread) over the requests wrk completed, median over the rounds. On a shared machine this
moves much less than requests/s, which also counts the time the process waited for a core.
Needs wrk (``apt-get install wrk``).
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_gateway import BODY, TOKEN, instant_provider, start_serve, throughput_wrk  # noqa: E402

SECONDS = 6


def cpu_seconds(pid):
    """User + system CPU seconds of process ``pid`` so far, every thread included."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ms_per_request(process, url, stream):
    body = {**BODY, "stream": True} if stream else BODY
    before = cpu_seconds(process.pid)
    rate = throughput_wrk(f"{url}/v1/messages", {"x-api-key": TOKEN}, body, seconds=SECONDS)
    return 1000 * (cpu_seconds(process.pid) - before) / (rate * SECONDS)


def main(builds, rounds):
    figures = {(name, stream): [] for name in builds for stream in (False, True)}
    with instant_provider() as provider_url, tempfile.TemporaryDirectory() as scratch:
        served = {}
        try:
            for name, pyz in builds.items():
                os.mkdir(os.path.join(scratch, name))
                served[name] = start_serve(provider_url, pyz, os.path.join(scratch, name))
            for process, url in served.values():  # warm up: imports, connections, caches
                cpu_ms_per_request(process, url, False)
            for _ in range(rounds):
                for stream in (False, True):
                    for name, (process, url) in served.items():
                        figures[name, stream].append(cpu_ms_per_request(process, url, stream))
        finally:
            for process, _ in served.values():
                process.terminate()
                process.wait(60)
    print(f"{'ms of CPU per request':24}" + "".join(f"{name:>12}" for name in builds))
    for stream in (False, True):
        print(f"{'streaming' if stream else 'non-streaming':24}" + "".join(
            f"{statistics.median(figures[name, stream]):12.2f}" for name in builds))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("builds", nargs="+", metavar="NAME=PYZ", help="archives to measure")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per build and mode")
    args = parser.parse_args()
    main(dict(build.split("=", 1) for build in args.builds), args.rounds)
