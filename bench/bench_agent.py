"""Agent overhead per turn, against the provider call alone, in the same run.

    .venv/bin/python bench/bench_agent.py [--turns N]

A fake Messages API on 127.0.0.1 answers every call at once with the same streamed reply.
*Baseline*: ``AnthropicProvider.stream`` consuming that reply, with the same system prompt,
tools and message the agent sends. *Agent*: ``Agent.submit`` for a full turn with SQLite
persistence (enqueue, claim, history, budget check, ledger row, finish_turn) over the same
provider and fake. Runs are interleaved so both see the same machine state. Prints medians,
p90s and the overhead (agent median minus baseline median); the target is <= 3 ms.
Two cases: a fresh session per turn, and one session that keeps growing (history sent).
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

REPLY = ("Sure. Here is a short answer of about the length a chat reply has, streamed in "
         "small pieces the way the real API streams it.")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def bench(turns, growing):
    from blufio.agent.loop import Agent
    from blufio.plugins.anthropic.provider import AnthropicProvider
    from blufio.plugins.sqlite.storage import SqliteStorage
    from tests.fakes.anthropic_server import FakeAnthropic, text_reply
    from tests.fakes.config import make_config

    with tempfile.TemporaryDirectory() as tmp, \
            FakeAnthropic(default=lambda request: text_reply(REPLY)) as fake:
        config = make_config(tmp, f'[anthropic]\nbase_url = "{fake.base_url}"\n'
                             f'[storage]\npath = "{tmp}/bench.db"\n'
                             f'[tools]\nworkspace = "{tmp}/ws"\n'
                             '[cost]\ndaily_budget_usd = 1000.0\nmonthly_budget_usd = 10000.0\n'
                             '[agent]\nmax_history_messages = 40\n',
                             environ={"ANTHROPIC_API_KEY": "sk-bench"})
        storage = SqliteStorage(config)
        await storage.open()
        provider = AnthropicProvider(config)
        agent = Agent.from_config(config, provider=provider, storage=storage)
        system = [{"type": "text", "text": agent.system_prompt}]
        tools = agent.tools.definitions()
        session = await agent.new_session("bench")

        async def baseline(messages):
            started = time.perf_counter()
            async for _ in provider.stream(model=agent.model, system=system, messages=messages,
                                           tools=tools, max_tokens=agent.max_tokens):
                pass
            return time.perf_counter() - started

        async def agent_turn(text):
            nonlocal session
            if not growing:
                session = await agent.new_session("bench")
            started = time.perf_counter()
            async for event in agent.submit(session.id, "bench", text):
                last = event
            elapsed = time.perf_counter() - started
            assert type(last).__name__ == "TurnComplete", last
            return elapsed

        # interleaved: the baseline sends the same request shape, then the agent runs a turn
        base_times, agent_times = [], []
        for i in range(turns + 20):
            text = f"question {i}"
            if not growing:
                messages = [{"role": "user", "content": [{"type": "text", "text": text}]}]
            else:
                _, history = await agent._history(session.id)
                messages = history + [{"role": "user", "content": [{"type": "text", "text": text}]}]
            b = await baseline(messages)
            a = await agent_turn(text)
            if i >= 20:
                base_times.append(b)
                agent_times.append(a)
        await agent.aclose()
        await provider.shutdown()
        await storage.shutdown()
    return base_times, agent_times


def report(name, base, agent):
    ms = lambda s: f"{s * 1000:7.3f} ms"
    bm, am = statistics.median(base), statistics.median(agent)
    print(f"{name}")
    print(f"  provider alone   median {ms(bm)}   p90 {ms(percentile(base, 0.9))}")
    print(f"  agent turn       median {ms(am)}   p90 {ms(percentile(agent, 0.9))}")
    print(f"  overhead         median {ms(am - bm)}   ratio {am / bm:5.2f}x   "
          f"target <= 3 ms: {'PASS' if am - bm <= 0.003 else 'FAIL'}")
    return am - bm


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    worst = 0.0
    for name, growing in (("fresh session per turn", False), ("one growing session", True)):
        base, agent = asyncio.run(bench(args.turns, growing))
        worst = max(worst, report(f"{name} ({args.turns} turns)", base, agent))
    return 0 if worst <= 0.003 else 1


if __name__ == "__main__":
    sys.exit(main())
