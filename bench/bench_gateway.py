"""Gateway benchmark: overhead against the provider it fronts, throughput, and memory.

    python3 bench/bench_gateway.py [--pyz dist/blufio.pyz] [--requests 300] [--load 3000]

Starts an Anthropic API stand-in that answers instantly (bench/instant_provider.py, its own
process) and ``blufio serve`` (from this checkout, or the archive given with --pyz) as a real process
with SQLite persistence on. Every figure is measured in the same run against a baseline:

- non-streaming overhead: p50 of a gateway turn minus p50 of the same streamed call made
  straight to the fake (what the agent's provider does);
- time to first delta: p50 through the gateway minus p50 straight from the fake;
- throughput: requests/s with 32 concurrent clients, each turn persisted (driven by wrk when
  it is installed, `apt-get install wrk`, so the load generator costs little CPU; else httpx);
- memory: the serve process's RSS when idle, and after --load more messages.

A request the gateway drops (closes its connection without answering) ends the run with
that request and the end of serve's log: it is a bug to find, never retried.

Targets (issue 5): overhead p50 <= 3 ms; first-delta overhead <= 5 ms; >= 400 req/s;
idle RSS <= 55 MB (default archive) and no growth after 10,000 messages. Issue 17:
overhead p50 <= 2.5 ms, idle RSS <= 50 MB.
"""

import argparse
import asyncio
import collections
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import contextlib  # noqa: E402

import httpx  # noqa: E402

TOKEN = "bench-token"
BODY = {"model": "m", "max_tokens": 32, "messages": [{"role": "user", "content": "hello"}]}
PROVIDER_BODY = {**BODY, "stream": True, "system": [{"type": "text", "text": "s"}]}


def start_serve(fake_url, pyz, data_dir, *, token=TOKEN, checkout=ROOT, **extra_env):
    """``serve`` (from ``pyz``, else from ``checkout``) over the provider at ``fake_url``;
    ``(process, url)``. ``extra_env`` adds or overrides variables."""
    env = dict(os.environ, ANTHROPIC_BASE_URL=fake_url, ANTHROPIC_API_KEY="sk-bench",
               BLUFIO_GATEWAY__PORT="0", BLUFIO_GATEWAY__BEARER_TOKEN=token,
               BLUFIO_PLUGINS__TELEGRAM="false", BLUFIO_DATA_DIR=data_dir,
               BLUFIO_ANTHROPIC__MAX_RETRIES="0", PYTHONPATH=checkout, **extra_env)
    env.pop("BLUFIO_CONFIG", None)
    # -S: nothing from this interpreter's site-packages stands in for what the archive lacks
    command = ([sys.executable, "-S", os.path.abspath(pyz), "serve"] if pyz
               else [sys.executable, "-m", "blufio", "serve"])
    process = subprocess.Popen(command, env=env, cwd=data_dir, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    found = re.search(r"http://[\d.]+:\d+", process.stdout.readline())
    if not found:
        raise SystemExit(f"serve did not start: {process.communicate()[1]}")
    # keep reading its log so a full pipe never blocks it; its end is shown if a run fails
    process.log_tail = collections.deque(maxlen=40)
    threading.Thread(target=process.log_tail.extend, args=(process.stderr,), daemon=True).start()
    return process, found.group(0)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def timed_json(client, url, headers, body, count):
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = await client.post(url, json=body, headers=headers)
        await response.aread()
        response.raise_for_status()
        times.append(time.perf_counter() - started)
    return times


async def first_delta_times(client, url, headers, body, count):
    times = []
    for _ in range(count):
        started = time.perf_counter()
        first = None
        async with client.stream("POST", url, json=body, headers=headers) as response:
            async for line in response.aiter_lines():  # read to the end, note the first delta
                if first is None and '"text_delta"' in line:
                    first = time.perf_counter() - started
        times.append(first)
    return times


class DroppedRequest(Exception):
    """The gateway closed a connection without answering the request sent on it."""


async def post_turn(client, url, body):
    """One turn through the gateway, read whole. A request the server dropped ("Server
    disconnected without sending a response") raises ``DroppedRequest``: a client must never
    lose a request on a live keep-alive connection, so it is never retried here."""
    try:
        response = await client.post(f"{url}/v1/messages", json=body,
                                     headers={"x-api-key": TOKEN})
    except httpx.TransportError as exc:
        raise DroppedRequest(f"the gateway at {url} dropped a request: {exc!r}") from exc
    response.raise_for_status()
    return response


async def throughput(url, total, concurrency=32, body=BODY):
    """``(requests/s, seconds)`` of ``total`` turns sent by ``concurrency`` httpx clients."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        remaining = iter(range(total))

        async def worker():
            for _ in remaining:
                await post_turn(client, url, body)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        return total / elapsed, elapsed


def throughput_wrk(url, headers, body, seconds=8, concurrency=32):
    """Requests/s that wrk sustains against ``url`` (None when wrk is not installed)."""
    import json
    import shutil

    if shutil.which("wrk") is None:
        return None
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(body))}",
             'wrk.headers["content-type"] = "application/json"']
    lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write("\n".join(lines) + "\n")
        script.flush()
        out = subprocess.run(["wrk", "-t2", f"-c{concurrency}", f"-d{seconds}s", "-s", script.name,
                              url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:  # a refused turn is not throughput
        raise SystemExit(f"wrk saw failed requests against {url}:\n{out}")
    # wrk stops with a request on each connection: their turns go on and hold the gateway's
    # turn slots (429 beyond them) for a moment; let them end before the next phase
    time.sleep(1.0)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def failure_report(exc, process):
    """What a run that lost a request prints: the request, then the end of serve's log."""
    return f"{exc}\nthe end of serve's log:\n" + "".join(process.log_tail)


def ms(seconds):
    return seconds * 1000


@contextlib.contextmanager
def instant_provider(delay=0.0):
    """Run bench/instant_provider.py (waiting ``delay`` s before each reply); yield its URL."""
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "bench", "instant_provider.py"),
                                str(delay)], stdout=subprocess.PIPE, text=True)
    try:
        yield process.stdout.readline().strip()
    finally:
        process.kill()
        process.wait()


async def main(args):
    with instant_provider() as fake_url, tempfile.TemporaryDirectory() as data_dir:
        process, url = start_serve(fake_url, args.pyz, data_dir)
        try:
            await asyncio.sleep(1.0)
            idle = rss_mb(process.pid)
            provider_headers = {"x-api-key": "sk-bench", "anthropic-version": "2023-06-01"}
            gateway_headers = {"x-api-key": TOKEN}
            async with httpx.AsyncClient(timeout=60) as client:
                for _ in range(2):  # warm both paths (imports, connections, caches)
                    await timed_json(client, f"{fake_url}/v1/messages", provider_headers, PROVIDER_BODY, 20)
                    await timed_json(client, f"{url}/v1/messages", gateway_headers, BODY, 20)
                direct = await timed_json(client, f"{fake_url}/v1/messages", provider_headers,
                                          PROVIDER_BODY, args.requests)
                through = await timed_json(client, f"{url}/v1/messages", gateway_headers, BODY,
                                           args.requests)
                direct_first = await first_delta_times(client, f"{fake_url}/v1/messages",
                                                       provider_headers, PROVIDER_BODY, args.requests)
                through_first = await first_delta_times(client, f"{url}/v1/messages", gateway_headers,
                                                        {**BODY, "stream": True}, args.requests)
            direct_rps = throughput_wrk(f"{fake_url}/v1/messages", provider_headers, PROVIDER_BODY)
            rps = throughput_wrk(f"{url}/v1/messages", gateway_headers, BODY)
            driver = "wrk"
            if rps is None:
                direct_rps = await throughput_direct(fake_url, provider_headers, args.requests)
                rps, _ = await throughput(url, args.requests * 4)
                driver = "httpx"
            before_load = rss_mb(process.pid)
            await throughput(url, args.load)
            after_load = rss_mb(process.pid)
        except DroppedRequest as exc:
            raise SystemExit(failure_report(exc, process)) from None
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)

    p50 = statistics.median
    print(f"{'figure':44} {'baseline':>10} {'gateway':>10} {'overhead':>10}  target")
    print(f"{'non-streaming turn, p50 (ms)':44} {ms(p50(direct)):10.2f} {ms(p50(through)):10.2f} "
          f"{ms(p50(through) - p50(direct)):10.2f}  <= 2.5 ms")
    print(f"{'time to first delta, p50 (ms)':44} {ms(p50(direct_first)):10.2f} "
          f"{ms(p50(through_first)):10.2f} {ms(p50(through_first) - p50(direct_first)):10.2f}  <= 5 ms")
    print(f"{'requests/s, 32 concurrent clients (' + driver + ')':44} {direct_rps:10.0f} {rps:10.0f} "
          f"{rps / direct_rps:10.1%}  >= 400 req/s")
    print(f"{'serve RSS idle (MB)':44} {'':10} {idle:10.1f} {'':10}  <= 50 MB")
    print(f"{'RSS growth over ' + str(args.load) + ' more messages (MB)':44} {before_load:10.1f} "
          f"{after_load:10.1f} {after_load - before_load:10.1f}  ~0")


async def throughput_direct(base_url, headers, total, concurrency=32):
    """The fake's own capacity with the same concurrency: the ceiling for the gateway."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        remaining = iter(range(total))

        async def worker():
            for _ in remaining:
                response = await client.post(f"{base_url}/v1/messages", json=PROVIDER_BODY,
                                             headers=headers)
                await response.aread()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return total / (time.perf_counter() - started)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pyz", help="serve from this archive instead of the checkout")
    parser.add_argument("--requests", type=int, default=200, help="samples per latency figure")
    parser.add_argument("--load", type=int, default=10_000, help="messages for the memory check")
    asyncio.run(main(parser.parse_args()))
