"""Idle RSS of ``serve``: one archive against another, interleaved, in the same run.

    .venv/bin/python bench/bench_serve_rss.py BASE.pyz NEW.pyz [--python PYTHON] [--runs 3]

Starts ``PYTHON -I ARCHIVE serve`` (gateway on an ephemeral port, telegram off, a dummy
provider key, a fresh data directory), waits ``--idle`` seconds, reads VmRSS from
/proc/PID/status, stops it with SIGTERM; prints each archive's median and the growth.
Issue 12's target: memory makes idle ``serve`` grow by at most 5 MB.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def idle_rss(python, archive, idle):
    from tests.served import Served

    with tempfile.TemporaryDirectory() as home:
        env = {"PATH": os.environ["PATH"], "HOME": home, "BLUFIO_DATA_DIR": f"{home}/data",
               "XDG_CONFIG_HOME": f"{home}/config", "ANTHROPIC_API_KEY": "sk-idle",
               "BLUFIO_GATEWAY__PORT": "0", "BLUFIO_GATEWAY__BEARER_TOKEN": "idle",
               "BLUFIO_PLUGINS__TELEGRAM": "false"}
        served = Served(env, [python, "-I", archive])
        try:
            time.sleep(idle)
            return rss_kib(served.process.pid)
        finally:
            served.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("base")
    parser.add_argument("new")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=3.0)
    args = parser.parse_args()
    runs = {args.base: [], args.new: []}
    for _ in range(args.runs):
        for archive in runs:
            runs[archive].append(idle_rss(args.python, archive, args.idle))
    base, new = (statistics.median(runs[a]) for a in (args.base, args.new))
    for archive, values in runs.items():
        print(f"{archive}: idle RSS median {statistics.median(values) / 1024:.1f} MB "
              f"({', '.join(f'{v / 1024:.1f}' for v in values)})")
    growth = (new - base) / 1024
    print(f"growth {growth:+.2f} MB   target <= 5 MB: {'PASS' if growth <= 5 else 'FAIL'}")
    return 0 if growth <= 5 else 1


if __name__ == "__main__":
    sys.exit(main())
