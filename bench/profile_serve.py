"""Where ``serve``'s time goes under load: py-spy samples of one archive, summarised.

    .venv/bin/pip install py-spy
    python3 bench/profile_serve.py --pyz dist/blufio.pyz [--seconds 15] [--stream] [--raw out.txt]

Starts the archive's ``serve`` against bench/instant_provider.py, warms it, then samples it
with py-spy (200 Hz, every thread) while wrk drives 32 connections, and prints the functions
holding the most samples: inclusive (the function and what it calls) and own (the function
itself), as a share of all samples. Shares, not times: they compare two builds profiled the
same way. py-spy counts a thread blocked in a C call (an executor thread waiting for work) as
busy, and over-weights system calls on an oversubscribed machine.
"""

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_gateway import BODY, TOKEN, instant_provider, start_serve, throughput_wrk  # noqa: E402

HEADERS = {"x-api-key": TOKEN}


def record(pyz, seconds, stream, out):
    """Sample ``serve`` of ``pyz`` into ``out`` (py-spy's raw format); the requests/s seen."""
    body = {**BODY, "stream": True} if stream else BODY
    with instant_provider() as provider_url, tempfile.TemporaryDirectory() as data_dir:
        process, url = start_serve(provider_url, pyz, data_dir)
        try:
            throughput_wrk(f"{url}/v1/messages", HEADERS, body, seconds=3)  # warm
            spy = subprocess.Popen(
                ["py-spy", "record", "-r", "200", "-d", str(seconds), "-f", "raw", "-o", out,
                 "-p", str(process.pid), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)  # py-spy attaching
            rate = throughput_wrk(f"{url}/v1/messages", HEADERS, body, seconds=seconds)
            spy.wait()
            return rate
        finally:
            process.terminate()
            process.wait(60)


def shares(raw):
    """``(inclusive, own, total)`` sample counts by function from py-spy's raw output."""
    inclusive, own, total = collections.Counter(), collections.Counter(), 0
    with open(raw) as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            count = int(count)
            total += count
            frames = [re.sub(r" \(.*?([^/]+\.py):\d+\)", r" (\1)", frame)
                      for frame in stack.split(";")]
            for frame in set(frames):
                inclusive[frame] += count
            own[frames[-1]] += count
    return inclusive, own, total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pyz", required=True, help="the archive to profile")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--stream", action="store_true", help="streamed turns")
    parser.add_argument("--raw", help="keep py-spy's raw samples in this file")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    if shutil.which("py-spy") is None or shutil.which("wrk") is None:
        raise SystemExit("needs py-spy (pip install py-spy) and wrk (apt-get install wrk)")
    raw = args.raw or tempfile.mkstemp(suffix=".txt")[1]
    rate = record(os.path.abspath(args.pyz), args.seconds, args.stream, raw)
    inclusive, own, total = shares(raw)
    print(f"{total} samples at {rate:.0f} requests/s")
    for title, counts in (("inclusive", inclusive), ("own", own)):
        print(f"-- {title} --")
        for frame, count in counts.most_common(args.top):
            print(f"{100 * count / total:6.1f}%  {frame}")


if __name__ == "__main__":
    main()
