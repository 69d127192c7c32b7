#!/usr/bin/env python3
"""Schedules benchmark: an idle ``serve`` with 1,000 schedules against one with none.

    python3 bench/bench_schedules.py [--schedules 1000] [--idle 20] [--runs 5] [--archive PYZ]

Two ``serve`` processes run side by side over the instant fake Messages API
(``bench/instant_provider.py``), each with its own data directory: the *baseline* has no
schedule, the other ``--schedules`` recurring ones (every one due later than the run lasts,
in a spread of time zones). After both have settled they are sampled over the same
``--idle`` seconds: CPU time used (``/proc/<pid>/stat``) and resident memory. Then the
loaded one gets ``--runs`` one-shot schedules through ``POST /v1/schedules``, each due two
seconds later, and the delay from each one's due time to its run's start (as stored) and to
its answer is read back. Targets (issue 15): no measurable idle CPU (within a few clock
ticks of the baseline), <= 2 MB RSS added, every due run started within 1 s.

``--archive`` runs ``python3 PYZ serve`` instead of this checkout's ``python -m blufio``.
"""

import argparse
import asyncio
import json
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
TOKEN = "bench-token"
ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney")
TICK = os.sysconf("SC_CLK_TCK")


def start_provider():
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "bench", "instant_provider.py")],
                               stdout=subprocess.PIPE, text=True)
    return process, process.stdout.readline().strip()


def start_serve(data_dir, provider_url, archive):
    env = dict(os.environ, BLUFIO_DATA_DIR=data_dir, ANTHROPIC_BASE_URL=provider_url,
               ANTHROPIC_API_KEY="sk-bench", BLUFIO_GATEWAY__PORT="0",
               BLUFIO_GATEWAY__BEARER_TOKEN=TOKEN, BLUFIO_PLUGINS__TELEGRAM="false",
               PYTHONPATH=ROOT)
    # An archive runs on the real interpreter, isolated, as a user would run it.
    command = ([os.path.realpath(sys.executable), "-I", archive, "serve"] if archive
               else [sys.executable, "-m", "blufio", "serve"])
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=data_dir)
    match = re.search(r"http://[\d.]+:\d+", process.stdout.readline())
    if not match:
        process.kill()
        raise SystemExit(f"serve did not start: {process.stderr.read()[-2000:]}")
    # stderr is read by nobody from here on: keep it from filling the pipe
    threading.Thread(target=process.stderr.read, daemon=True).start()
    return process, match.group(0)


async def add_schedules(data_dir, count):
    """``count`` recurring schedules on one session, none due in the next day or so."""
    from blufio.config import load_config
    from blufio.plugins.sqlite.storage import SqliteStorage
    from blufio.scheduler.book import ScheduleBook

    config = load_config(None, environ={
        "BLUFIO_DATA_DIR": data_dir,
        "BLUFIO_STORAGE__PATH": os.path.join(data_dir, "blufio.db")})
    storage = SqliteStorage(config)
    await storage.open()
    try:
        session = await storage.create_session("gateway")
        book = ScheduleBook(storage)
        tomorrow = datetime.now(timezone.utc) + timedelta(days=2)
        for i in range(count):
            minute, hour = i % 60, (i // 60) % 24
            day = (tomorrow + timedelta(days=i % 20)).day
            await book.create(prompt=f"task {i}", target=f"session:{session.id}",
                              cron=f"{minute} {hour} {day} * *",
                              timezone=ZONES[i % len(ZONES)])
        return session.id
    finally:
        await storage.shutdown()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def idle_sample(pids, seconds):
    before = {pid: cpu_seconds(pid) for pid in pids}
    time.sleep(seconds)
    return {pid: cpu_seconds(pid) - before[pid] for pid in pids}


def due_run_delays(url, data_dir, session_id, runs):
    """Add ``runs`` one-shots due 2 s later, one after another; per run, seconds from due
    to started and from due to answered."""
    import httpx

    started, answered = [], []
    headers = {"x-api-key": TOKEN}
    for _ in range(runs):
        created = httpx.post(f"{url}/v1/schedules", headers=headers, json={
            "prompt": "tick", "target": f"session:{session_id}", "in": "2s"}).json()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            time.sleep(0.1)
            row = _run_times(data_dir, created["id"])
            if row and row[2]:
                break
        else:
            raise SystemExit(f"schedule {created['id']} did not run within 15 s")
        due, start, finish = (_parse(t) for t in row)
        started.append((start - due).total_seconds())
        answered.append((finish - due).total_seconds())
    return started, answered


def _run_times(data_dir, schedule_id):
    with sqlite3.connect(os.path.join(data_dir, "blufio.db")) as conn:
        return conn.execute(
            "SELECT r.due_at, r.started_at, i.finished_at FROM schedule_runs r "
            "JOIN inbound i ON i.id = r.inbound_id WHERE r.schedule_id = ?",
            (schedule_id,)).fetchone()


def _parse(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle sampling")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--archive")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    archive = os.path.abspath(args.archive) if args.archive else None

    provider, provider_url = start_provider()
    processes = [provider]
    with tempfile.TemporaryDirectory() as base_dir, tempfile.TemporaryDirectory() as load_dir:
        try:
            session_id = asyncio.run(add_schedules(load_dir, args.schedules))
            baseline, _ = start_serve(base_dir, provider_url, archive)
            processes.append(baseline)
            loaded, url = start_serve(load_dir, provider_url, archive)
            processes.append(loaded)
            time.sleep(3)  # let both finish starting (imports, first queries)
            cpu = idle_sample([baseline.pid, loaded.pid], args.idle)
            rss = {pid: rss_mb(pid) for pid in (baseline.pid, loaded.pid)}
            started, answered = due_run_delays(url, load_dir, session_id, args.runs)
        finally:
            for process in reversed(processes):
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
    result = {
        "schedules": args.schedules, "idle_seconds": args.idle,
        "idle_cpu_seconds": {"baseline": cpu[baseline.pid], "with_schedules": cpu[loaded.pid]},
        "idle_cpu_ratio": (cpu[loaded.pid] / cpu[baseline.pid]) if cpu[baseline.pid] else None,
        "rss_mb": {"baseline": round(rss[baseline.pid], 1),
                   "with_schedules": round(rss[loaded.pid], 1)},
        "rss_added_mb": round(rss[loaded.pid] - rss[baseline.pid], 2),
        "due_to_started_s": {"median": statistics.median(started), "max": max(started)},
        "due_to_answered_s": {"median": statistics.median(answered), "max": max(answered)},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.schedules} schedules, {args.idle:g} s idle, same run:")
    print(f"  idle CPU      baseline {cpu[baseline.pid]:.3f} s   with schedules "
          f"{cpu[loaded.pid]:.3f} s   (clock tick {1 / TICK:.3f} s)")
    print(f"  RSS           baseline {rss[baseline.pid]:.1f} MB   with schedules "
          f"{rss[loaded.pid]:.1f} MB   added {result['rss_added_mb']:+.2f} MB (target <= 2)")
    print(f"  due -> started  median {result['due_to_started_s']['median'] * 1000:.1f} ms   "
          f"max {max(started) * 1000:.1f} ms (target <= 1000)")
    print(f"  due -> answered median {result['due_to_answered_s']['median'] * 1000:.1f} ms   "
          f"max {max(answered) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
