"""Per-turn overhead of the ``openai`` provider plugin against the ``anthropic`` one, one run.

    .venv/bin/python bench/bench_openai.py [--calls 300]

Starts bench/instant_provider.py in its own process: it answers ``/v1/messages`` and
``/v1/chat/completions`` at once with the same short streamed reply, so what is measured is
the plugin's own cost (building the request, HTTP, parsing the stream, translating it).
Interleaved, so both plugins see the same machine state:

- *provider call*: each plugin's ``stream()`` consumed to the end, same system prompt,
  tools and message;
- *agent turn*: ``Agent.submit`` for a full turn with SQLite persistence over each plugin.

Prints medians, p90s and the ratio openai / anthropic for each; the target (issue 14) is a
ratio of at most 1.10. Exit status 1 when a ratio misses it.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
TARGET = 1.10
WARMUP = 20


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def start_upstream():
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "bench", "instant_provider.py")],
                               stdout=subprocess.PIPE, text=True)
    return process, process.stdout.readline().strip()


async def bench(calls, upstream, tmp):
    from blufio.agent.loop import Agent
    from blufio.plugins.anthropic.provider import AnthropicProvider
    from blufio.plugins.openai.provider import OpenAIProvider
    from blufio.plugins.sqlite.storage import SqliteStorage
    from tests.fakes.config import make_config

    config = make_config(tmp, f'[anthropic]\nbase_url = "{upstream}"\n'
                         f'[openai]\nbase_url = "{upstream}/v1"\n'
                         f'[storage]\npath = "{tmp}/bench.db"\n[tools]\nworkspace = "{tmp}/ws"\n'
                         '[cost]\ndaily_budget_usd = 1000.0\n',
                         environ={"ANTHROPIC_API_KEY": "sk-bench", "OPENAI_API_KEY": "sk-bench"},
                         features=["openai"])
    storage = SqliteStorage(config)
    await storage.open()
    plugins = {"anthropic": AnthropicProvider(config), "openai": OpenAIProvider(config)}
    agents = {name: Agent.from_config(config, provider=provider, storage=storage)
              for name, provider in plugins.items()}
    any_agent = agents["anthropic"]
    system = [{"type": "text", "text": any_agent.system_prompt}]
    tools = any_agent.tools.definitions()

    async def call(name, text):
        provider = plugins[name]
        started = time.perf_counter()
        async for _ in provider.stream(model=provider.default_model, system=system, tools=tools,
                                       max_tokens=1024, messages=[{"role": "user", "content": [
                                           {"type": "text", "text": text}]}]):
            pass
        return time.perf_counter() - started

    async def turn(name, text):
        agent = agents[name]
        session = await agent.new_session("bench")
        started = time.perf_counter()
        async for event in agent.submit(session.id, "bench", text):
            last = event
        elapsed = time.perf_counter() - started
        assert type(last).__name__ == "TurnComplete", last
        return elapsed

    times = {(kind, name): [] for kind in ("call", "turn") for name in plugins}
    for i in range(calls + WARMUP):
        for kind, measure in (("call", call), ("turn", turn)):
            for name in (("anthropic", "openai") if i % 2 else ("openai", "anthropic")):
                elapsed = await measure(name, f"question {i}")
                if i >= WARMUP:
                    times[(kind, name)].append(elapsed)
    for agent in agents.values():
        await agent.aclose()
    for provider in plugins.values():
        await provider.shutdown()
    await storage.shutdown()
    return times


def report(times, calls):
    ms = lambda s: f"{s * 1000:7.3f} ms"  # noqa: E731
    worst = 0.0
    for kind, title in (("call", "provider call"), ("turn", "agent turn (SQLite)")):
        print(f"{title}, {calls} each, interleaved")
        medians = {}
        for name in ("anthropic", "openai"):
            values = times[(kind, name)]
            medians[name] = statistics.median(values)
            print(f"  {name:10} median {ms(medians[name])}   p90 {ms(percentile(values, 0.9))}")
        ratio = medians["openai"] / medians["anthropic"]
        worst = max(worst, ratio)
        print(f"  ratio openai/anthropic {ratio:5.3f}   target <= {TARGET}: "
              f"{'PASS' if ratio <= TARGET else 'FAIL'}")
    return worst


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    process, upstream = start_upstream()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            times = asyncio.run(bench(args.calls, upstream, tmp))
    finally:
        process.terminate()
        process.wait()
    return 0 if report(times, args.calls) <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
