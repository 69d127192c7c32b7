"""The mcp plugin's overheads, each against a baseline measured in the same run.

    .venv/bin/python bench/bench_mcp.py [--calls N]

*Tool call over stdio* (target: adds <= 2 ms p50 to the server's own time). Two copies of
the same server run side by side: the baseline client writes a ready-made ``tools/call``
line to one and reads the answer line back (the pipe and the server's own time, nothing
else); the plugin calls the other through ``McpServer.call`` (ids, JSON encoding and
decoding, the pending-request table, the supervisor's checks). Calls alternate so both see
the same machine state. Run against the small stdlib server (``rogue_server.py ok``) and the
official SDK's FastMCP server.

*serve's start with five servers* (target: adds <= 100 ms). ``serve`` is started from this
checkout with a gateway on port 0 and timed until it prints its URL (it is then answering),
alternately with no MCP server and with five (the stdlib server over stdio), ``--runs``
times each; the servers' own start-up happens in the background, and the time until all
five are ready is shown beside it for information.

*The light path* (target: nothing of the plugin imported): ``-X importtime`` of
``plugin list`` and ``--version``, with five servers configured, counting modules of
``blufio.plugins.mcp``.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


class RawClient:
    """The baseline: one line out, one line in, over the child's pipes."""

    def __init__(self, settings):
        self.settings = settings
        self.process = None

    async def start(self):
        self.process = await asyncio.create_subprocess_exec(
            self.settings.command, *self.settings.args, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, limit=2 ** 24)
        await self.exchange({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"}}})
        self.process.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')

    async def exchange(self, message):
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        await self.process.stdin.drain()
        return await self.process.stdout.readline()

    async def aclose(self):
        self.process.stdin.close()
        await self.process.wait()


async def bench_calls(settings_factory, tool, arguments, calls):
    from blufio.plugins.mcp.supervisor import McpServer

    raw = RawClient(settings_factory("raw"))
    server = McpServer(settings_factory("plugin"))
    await raw.start()
    await server.ready()
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": tool, "arguments": arguments}}
    baseline, plugin = [], []
    try:
        for _ in range(50):  # warm up both
            await raw.exchange(request)
            await server.call(tool, arguments)
        for _ in range(calls):
            started = time.perf_counter()
            await raw.exchange(request)
            baseline.append(time.perf_counter() - started)
            started = time.perf_counter()
            await server.call(tool, arguments)
            plugin.append(time.perf_counter() - started)
    finally:
        await raw.aclose()
        await server.aclose()
    return baseline, plugin


def report(name, baseline, plugin, target_ms):
    base50, plug50 = statistics.median(baseline) * 1000, statistics.median(plugin) * 1000
    print(f"{name}:")
    print(f"  baseline (raw pipe)  p50 {base50:7.3f} ms   p90 {percentile(baseline, .9) * 1000:7.3f} ms")
    print(f"  plugin (McpServer)   p50 {plug50:7.3f} ms   p90 {percentile(plugin, .9) * 1000:7.3f} ms")
    overhead = plug50 - base50
    verdict = "OK" if overhead <= target_ms else "OVER TARGET"
    print(f"  overhead p50 {overhead:+.3f} ms (ratio {plug50 / base50:.2f}x); target <= "
          f"{target_ms} ms: {verdict}")


def start_serve(config, env, servers=0):
    """Seconds until ``serve`` prints its URL; then health is polled until the MCP servers
    are all ready (seconds, or None without servers); then SIGTERM."""
    import httpx

    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "blufio", "-c", config, "serve"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    try:
        line = process.stdout.readline()
        up = time.perf_counter() - started
        url = line.split()[2]
        ready = None
        while servers:
            detail = httpx.get(f"{url}/v1/health").json()["plugins"]["mcp"]["detail"]
            if detail.startswith(f"{servers} of {servers}"):
                ready = time.perf_counter() - started
                break
            time.sleep(0.005)
        return up, ready
    finally:
        process.terminate()
        process.wait(30)


def bench_serve(runs):
    from tests.plugins.mcp.conftest import ROGUE

    with tempfile.TemporaryDirectory() as tmp:
        plain = os.path.join(tmp, "plain.toml")
        with open(plain, "w") as f:
            f.write("[plugins]\ntelegram = false\n")
        five = os.path.join(tmp, "five.toml")
        with open(five, "w") as f:
            f.write("[plugins]\ntelegram = false\n")
            for i in range(5):
                f.write(f"[mcp.servers.s{i}]\ncommand = {json.dumps(sys.executable)}\n"
                        f"args = {json.dumps([ROGUE, 'ok'])}\n")
        env = dict(os.environ, PYTHONPATH=ROOT, BLUFIO_GATEWAY__PORT="0",
                   BLUFIO_DATA_DIR=os.path.join(tmp, "data"), ANTHROPIC_API_KEY="sk-bench",
                   BLUFIO_GATEWAY__BEARER_TOKEN="bench")
        start_serve(plain, env)  # warm up (creates the database)
        baseline, with_five, ready = [], [], []
        for _ in range(runs):
            baseline.append(start_serve(plain, env)[0])
            up, all_ready = start_serve(five, env, servers=5)
            with_five.append(up)
            ready.append(all_ready)
    base, five_ms = statistics.median(baseline) * 1000, statistics.median(with_five) * 1000
    print("serve start (until the gateway answers):")
    print(f"  no MCP server       p50 {base:7.1f} ms")
    print(f"  five stdio servers  p50 {five_ms:7.1f} ms   (all five ready after "
          f"{statistics.median(ready) * 1000:.1f} ms)")
    added = five_ms - base
    print(f"  added p50 {added:+.1f} ms (ratio {five_ms / base:.3f}x); target <= 100 ms: "
          f"{'OK' if added <= 100 else 'OVER TARGET'}")


def light_path():
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "blufio.toml")
        with open(config, "w") as f:
            for i in range(5):
                f.write(f'[mcp.servers.s{i}]\ncommand = "server-{i}"\n')
        env = dict(os.environ, PYTHONPATH=ROOT, BLUFIO_DATA_DIR=os.path.join(tmp, "data"))
        print("the light path (modules of blufio.plugins.mcp imported):")
        for argv in (["plugin", "list"], ["--version"]):
            result = subprocess.run([sys.executable, "-X", "importtime", "-m", "blufio", "-c",
                                     config, *argv], env=env, capture_output=True, text=True)
            count = sum(1 for line in result.stderr.splitlines() if "blufio.plugins.mcp" in line)
            print(f"  {' '.join(argv):<12} {count}; target 0: {'OK' if count == 0 else 'OVER'}")


async def main(calls):
    from tests.plugins.mcp.conftest import fastmcp_stdio, rogue

    cases = [("stdio, stdlib server (poke)", lambda n: rogue("ok", name=n), "poke",
              {"text": "hello"}),
             ("stdio, FastMCP server (echo)", lambda n: fastmcp_stdio(name=n), "echo",
              {"text": "hello"})]
    for name, factory, tool, arguments in cases:
        baseline, plugin = await bench_calls(factory, tool, arguments, calls)
        report(name, baseline, plugin, 2.0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args()
    asyncio.run(main(options.calls))
    bench_serve(options.runs)
    light_path()
