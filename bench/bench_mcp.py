"""The mcp plugin's overheads, each against a baseline measured in the same run.

    .venv/bin/python bench/bench_mcp.py [--calls N]

*Tool call over stdio* (target: adds <= 2 ms p50 to the server's own time). Two copies of
the same server run side by side: the baseline client writes a ready-made ``tools/call``
line to one and reads the answer line back (the pipe and the server's own time, nothing
else); the plugin calls the other through ``McpServer.call`` (ids, JSON encoding and
decoding, the pending-request table, the supervisor's checks). Calls alternate so both see
the same machine state. Run against the small stdlib server (``rogue_server.py ok``) and the
official SDK's FastMCP server.

The start-up targets (five servers add <= 100 ms to ``serve``; ``plugin list`` and
``--version`` import nothing of the plugin) are measured by ``startup`` below.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
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
    asyncio.run(main(parser.parse_args().calls))
