#!/usr/bin/env python3
"""Start-up benchmark: ``blufio.pyz`` against a normal virtualenv install, same run.

    python3 bench/bench_startup.py [--runs 20] [--json]

It builds the default and a stripped archive (``api,anthropic,sqlite``), makes two
virtualenvs under ``build/bench/`` from the same pinned wheels (``wheels.lock``): one with
Blufio installed as a user would (``pip install``), and one empty that stands for a stock
``python3`` (a venv does not run the build machine's site-packages ``.pth`` hooks, so
neither side pays for what this machine happens to have installed). Every figure is a
median of ``--runs`` runs after warm-up, in milliseconds, with a ``blufio.toml`` present;
ratios are taken against baselines measured in this run. Each case runs with and without
``PYTHONDONTWRITEBYTECODE``.

Targets (SPEC issue #4): plugin list <= 1.3x the venv install and <= 3x ``python -c pass``;
a first run on an empty cache adds <= 50 ms; importing what ``serve`` needs <= 1.15x the
venv; the default archive <= 8 MB. Issue 17: plugin list <= 3.0x ``python -c pass``,
serve's imports <= 1.15x the venv's, start to the first ``/v1/health`` 200 <= 0.3 s.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "build", "bench")
HEAVY = "quart,hypercorn.asyncio,httpx,aiosqlite,nacl.signing,prometheus_client"
# Does what the archive's __main__ does before the CLI, then imports the modules in argv[2].
ARCHIVE_IMPORT = (
    "import sys\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "from blufio._archive.bootstrap import prepare\n"
    "prepare()\n"
    "for m in sys.argv[2].split(','):\n"
    "    __import__(m)\n")
CONFIG = "# bench\n[gateway]\nport = 9000\n\n[plugins]\ntelegram = false\n"


def real_python():
    """The interpreter binary itself (not a pyenv shim)."""
    return os.path.realpath(sys.executable)


def sh(*command, **kwargs):
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)


def setup(python):
    sys.path.insert(0, ROOT)
    from blufio_build.catalog import load_catalog
    from blufio_build.lock import read_lock
    from blufio_build.resolve import resolve
    from blufio_build.target import host_target
    from blufio_build.wheels import wheel_cache

    os.makedirs(WORK, exist_ok=True)
    target = host_target()
    default = os.path.join(WORK, "blufio.pyz")
    stripped = os.path.join(WORK, "min.pyz")
    sh(python, os.path.join(ROOT, "build_zipapp.py"), "-o", default, cwd=ROOT)
    sh(python, os.path.join(ROOT, "build_zipapp.py"), "--no-default-features", "--features",
       "api,anthropic,sqlite", "-o", stripped, cwd=ROOT)
    catalog = load_catalog()
    features = [p["name"] for p in catalog["plugins"] if p["default"]]
    wheels = resolve(catalog, features, target, read_lock())
    paths = [os.path.join(wheel_cache(), w[3]) for w in wheels]
    app = os.path.join(WORK, "venv-app")
    stock = os.path.join(WORK, "venv-stock")
    if not os.path.exists(os.path.join(app, "bin", "python")):
        sh(python, "-m", "venv", app)
        sh(os.path.join(app, "bin", "python"), "-m", "pip", "install", "-q", "--no-deps",
           *paths)
    # always this tree's Blufio, so both sides run the same code
    sh(os.path.join(app, "bin", "python"), "-m", "pip", "install", "-q", "--no-deps",
       "--force-reinstall", ROOT)
    if not os.path.exists(os.path.join(stock, "bin", "python")):
        sh(python, "-m", "venv", "--without-pip", stock)
    return default, stripped, os.path.join(app, "bin", "python"), os.path.join(stock, "bin",
                                                                              "python")


def median_ms(command, runs, env, fresh_cache=False, warmup=3):
    times = []
    for i in range(warmup + runs):
        run_env = dict(env)
        if fresh_cache:
            cache = tempfile.mkdtemp(prefix="bench-cache-")
            run_env["XDG_CACHE_HOME"] = cache
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=run_env)
        elapsed = time.perf_counter() - start
        if fresh_cache:
            shutil.rmtree(cache, ignore_errors=True)
        if i >= warmup:
            times.append(elapsed * 1000)
    return round(statistics.median(times), 1)


def start_to_health_ms(commands, runs, env, warmup=1):
    """Median ms from starting each of ``commands`` (``serve``) to its first ``/v1/health``
    200 (the gateway on an ephemeral port; it prints its URL as soon as it listens, then
    health is polled). The commands take turns, run by run, so a shared machine's load
    falls on each alike (measured one after the other, they once differed by 350 ms)."""
    times = [[] for _ in commands]
    for i in range(warmup + runs):
        for command, kept in zip(commands, times):
            elapsed = _one_start_to_health(command, env)
            if i >= warmup:
                kept.append(elapsed * 1000)
    return [round(statistics.median(kept), 1) for kept in times]


def _one_start_to_health(command, env):
    import re
    import urllib.request

    env = dict(env, BLUFIO_GATEWAY__PORT="0", ANTHROPIC_API_KEY="sk-bench")
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        url = re.search(r"http://[\d.]+:\d+", process.stdout.readline()).group(0)
        while True:
            try:
                with urllib.request.urlopen(f"{url}/v1/health", timeout=5) as response:
                    if response.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.002)
    finally:
        process.terminate()
        process.wait(30)


def measure(default, stripped, app_python, stock_python, runs, dont_write_bytecode):
    home = tempfile.mkdtemp(prefix="bench-home-")
    work = tempfile.mkdtemp(prefix="bench-work-")
    config = os.path.join(work, "blufio.toml")
    with open(config, "w") as f:
        f.write(CONFIG)
    # A file written a moment ago is parsed on every run (blufio.config.parsed keeps only
    # settled files); a user's configuration is older than the command reading it.
    an_hour_ago = time.time() - 3600
    os.utime(config, (an_hour_ago, an_hour_ago))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BLUFIO_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=home, XDG_CACHE_HOME=os.path.join(home, ".cache"),
               BLUFIO_DATA_DIR=os.path.join(home, "data"))
    if dont_write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    helper = os.path.join(work, "archive_import.py")
    with open(helper, "w") as f:
        f.write(ARCHIVE_IMPORT)
    os.chdir(work)
    r = {}
    r["python -c pass"] = median_ms([stock_python, "-c", "pass"], runs, env)
    r["venv: plugin list"] = median_ms([app_python, "-m", "blufio", "plugin", "list"], runs, env)
    r["pyz: plugin list"] = median_ms([stock_python, default, "plugin", "list"], runs, env)
    r["pyz: plugin list, empty cache"] = median_ms(
        [stock_python, default, "plugin", "list"], runs, env, fresh_cache=True)
    r["venv: import serve deps"] = median_ms([app_python, "-c", f"import {HEAVY}"], runs, env)
    r["pyz: import serve deps"] = median_ms([stock_python, helper, default, HEAVY], runs, env)
    r["pyz: import serve deps, empty cache"] = median_ms(
        [stock_python, helper, default, HEAVY], max(5, runs // 4), env, fresh_cache=True)
    r["venv: serve to /v1/health 200"], r["pyz: serve to /v1/health 200"] = start_to_health_ms(
        [[app_python, "-m", "blufio", "serve"], [stock_python, default, "serve"]],
        max(3, runs // 4), env)
    r["ratio plugin list pyz/venv"] = round(r["pyz: plugin list"] / r["venv: plugin list"], 2)
    r["ratio plugin list pyz/pass"] = round(r["pyz: plugin list"] / r["python -c pass"], 2)
    r["first run adds (ms)"] = round(r["pyz: plugin list, empty cache"]
                                     - r["pyz: plugin list"], 1)
    r["ratio serve to health pyz/venv"] = round(r["pyz: serve to /v1/health 200"]
                                                / r["venv: serve to /v1/health 200"], 2)
    r["ratio serve imports pyz/venv"] = round(r["pyz: import serve deps"]
                                              / r["venv: import serve deps"], 2)
    shutil.rmtree(home, ignore_errors=True)
    os.chdir(ROOT)
    shutil.rmtree(work, ignore_errors=True)
    return r


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    python = real_python()
    default, stripped, app_python, stock_python = setup(python)
    results = {"python": sys.version.split()[0], "runs": args.runs,
               "size default (MB)": round(os.path.getsize(default) / 1e6, 2),
               "size stripped api,anthropic,sqlite (MB)": round(os.path.getsize(stripped) / 1e6,
                                                                2)}
    for label, flag in (("PYTHONDONTWRITEBYTECODE=1", True), ("bytecode writes allowed", False)):
        results[label] = measure(default, stripped, app_python, stock_python, args.runs, flag)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for key, value in results.items():
        if isinstance(value, dict):
            print(f"\n[{key}]")
            for k, v in value.items():
                print(f"  {k:<40} {v}")
        else:
            print(f"{key:<42} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
