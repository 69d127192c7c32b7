"""Memory: recall latency over a large database, vector search, and the cost in a turn.

    .venv/bin/python bench/bench_memory.py [--messages 100000] [--memories 10000]
        [--vectors 10000] [--dims 768] [--queries 200] [--turns 200]

Builds a database of ``--messages`` stored messages and ``--memories`` memories (text drawn
from a Zipf-distributed vocabulary, like chat), then measures, in one run:

1. *Lexical recall*: ``SqliteStorage.search_memory`` (FTS5, BM25) for chat-like queries.
   Target: p50 <= 5 ms.
2. *Vector search* over ``--vectors`` vectors of ``--dims`` dimensions: through sqlite-vec
   when this interpreter can load it (target p50 <= 20 ms), and the pure-Python path always
   (sign-bit prefilter, then exact cosine; measured and reported, no target).
3. *A turn with recall against a turn without* (same agent, same fake Messages API, same
   database): the median of each and their difference. Target: recall adds <= 5 ms p50.

The one-time cost of indexing the existing messages (the migration) is printed too.
Run it with an interpreter that can load extensions (e.g. a venv of the system Python with
``sqlite-vec`` installed) to measure the sqlite-vec path.
"""

import argparse
import asyncio
import itertools
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SYLLABLES = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "da", "gu", "shi", "mor",
             "len", "tas", "bri", "qua", "zel", "fon", "dra"]


def vocabulary(size, rng):
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


class Text:
    """Chat-like text: words drawn from a Zipf distribution over a fixed vocabulary."""

    def __init__(self, seed=7, size=20000):
        self.rng = random.Random(seed)
        self.words = vocabulary(size, self.rng)
        self.cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(size)))

    def sentence(self, low, high):
        count = self.rng.randint(low, high)
        return " ".join(self.rng.choices(self.words, cum_weights=self.cumulative, k=count))


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def ms(seconds):
    return f"{seconds * 1000:8.3f} ms"


def fill(path, text, messages, memories):
    """Write a version-1 database (what an existing user has) plus memories, directly."""
    from blufio.plugins.sqlite.migrations import MIGRATIONS

    conn = sqlite3.connect(path)
    for script in MIGRATIONS:
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    now = "2026-01-01T00:00:00.000000Z"
    sessions = max(1, messages // 50)
    conn.executemany("INSERT INTO sessions (id, channel, created_at, updated_at) "
                     "VALUES (?, 'bench', ?, ?)", [(f"s{i}", now, now) for i in range(sessions)])
    conn.executemany(
        "INSERT INTO messages (session_id, role, content, created_at) VALUES (?, ?, ?, ?)",
        ((f"s{i % sessions}", "user" if i % 2 == 0 else "assistant",
          json.dumps([{"type": "text", "text": text.sentence(8, 40)}]), now)
         for i in range(messages)))
    conn.executemany("INSERT INTO memories (text, created_at) VALUES (?, ?)",
                     ((text.sentence(5, 15), now) for _ in range(memories)))
    conn.commit()
    conn.close()


async def lexical(storage, text, queries):
    times = []
    for _ in range(queries + 20):
        query = text.sentence(6, 14)
        started = time.perf_counter()
        await storage.search_memory(query, limit=8)
        times.append(time.perf_counter() - started)
    return times[20:]


async def vector_times(storage, dims, count, memories, queries, rng, *, extension):
    """Store ``count`` random vectors (on memories first, then messages) and time searches
    through sqlite-vec (``extension``) or the pure-Python scan."""
    from blufio.plugins.sqlite import vectors

    on_memories = min(count, memories)
    items = [-i for i in range(1, on_memories + 1)] + list(range(1, count - on_memories + 1))
    for start in range(0, len(items), 2000):
        await storage.store_vectors("bench", [(item, [rng.gauss(0, 1) for _ in range(dims)])
                                              for item in items[start:start + 2000]])
    storage._similarity = await vectors.enable_similarity(storage._reader, extension=extension)
    if extension and storage._similarity.backend != "sqlite-vec":
        return None
    times = []
    for _ in range(queries + 2):
        query = [rng.gauss(0, 1) for _ in range(dims)]
        started = time.perf_counter()
        hits = await storage.vector_search(query, "bench", limit=8)
        times.append(time.perf_counter() - started)
        assert len(hits) == 8, hits
    return times[2:]


def report(name, times, target=None):
    p50 = statistics.median(times)
    verdict = ""
    if target is not None:
        verdict = f"   target <= {target * 1000:g} ms: {'PASS' if p50 <= target else 'FAIL'}"
    print(f"  {name:<34} p50 {ms(p50)}   p90 {ms(percentile(times, 0.9))}{verdict}")
    return target is None or p50 <= target


async def storage_benchmarks(args, tmp):
    from blufio.plugins.sqlite.storage import SqliteStorage
    from tests.fakes.config import make_config

    text = Text()
    path = os.path.join(tmp, "bench.db")
    started = time.perf_counter()
    fill(path, text, args.messages, args.memories)
    print(f"database: {args.messages} messages, {args.memories} memories "
          f"(written in {time.perf_counter() - started:.1f} s)")
    config = make_config(tmp, f'[storage]\npath = "{path}"\n')
    storage = SqliteStorage(config)
    started = time.perf_counter()
    await storage.open()
    print(f"  indexing them on first open (the migration): "
          f"{time.perf_counter() - started:.2f} s")
    ok = report("lexical recall (FTS5 BM25)", await lexical(storage, text, args.queries),
                0.005)
    rng = random.Random(11)
    fast = await vector_times(storage, args.dims, args.vectors, args.memories,
                              args.queries, rng, extension=True)
    label = f"{args.vectors} x {args.dims} vectors"
    if fast is None:
        print(f"  {label} via sqlite-vec: not measured (this interpreter cannot load it)")
    else:
        ok &= report(f"{label}, sqlite-vec", fast, 0.020)
    slow = await vector_times(storage, args.dims, 0, 0, max(5, args.queries // 20), rng,
                              extension=False)
    report(f"{label}, pure Python", slow)
    await storage.shutdown()
    return ok


async def turn_benchmarks(args, tmp, path):
    """Turns with recall against turns without, interleaved, over the same database and the
    same fake Messages API; each turn in a new session, so no history is sent."""
    from blufio.agent.loop import Agent
    from blufio.plugins.anthropic.provider import AnthropicProvider
    from blufio.plugins.sqlite.storage import SqliteStorage
    from tests.fakes.anthropic_server import FakeAnthropic, text_reply
    from tests.fakes.config import make_config

    text = Text(seed=5)
    with FakeAnthropic(default=lambda request: text_reply("A short answer.")) as fake:
        base = (f'[anthropic]\nbase_url = "{fake.base_url}"\n[storage]\npath = "{path}"\n'
                f'[tools]\nworkspace = "{tmp}/ws"\n')
        environ = {"ANTHROPIC_API_KEY": "sk-bench"}
        for name in ("a", "b"):
            os.makedirs(os.path.join(tmp, name))
        with_memory = make_config(os.path.join(tmp, "a"), base, environ=environ)
        without = make_config(os.path.join(tmp, "b"), base + "[memory]\nenabled = false\n",
                              environ=environ)
        storage = SqliteStorage(with_memory)
        await storage.open()
        provider = AnthropicProvider(with_memory)
        agents = {"with recall": Agent.from_config(with_memory, provider=provider,
                                                   storage=storage),
                  "without memory": Agent.from_config(without, provider=provider,
                                                      storage=storage)}
        times = {name: [] for name in agents}
        recalled = 0
        for i in range(args.turns + 10):
            question = text.sentence(6, 14)
            for name, agent in agents.items():
                session = await agent.new_session("bench")
                started = time.perf_counter()
                async for event in agent.submit(session.id, "bench", question):
                    last = event
                elapsed = time.perf_counter() - started
                assert type(last).__name__ == "TurnComplete", last
                if i >= 10:
                    times[name].append(elapsed)
            system = fake.message_requests[-2].json.get("system", [])
            recalled += len(system) > 1
        for agent in agents.values():
            await agent.aclose()
        await provider.shutdown()
        await storage.shutdown()
    plain = statistics.median(times["without memory"])
    full = statistics.median(times["with recall"])
    print(f"turns over that database ({args.turns} each, interleaved; recall found something "
          f"for {recalled} of {args.turns + 10}):")
    report("turn without memory (baseline)", times["without memory"])
    report("turn with recall", times["with recall"])
    verdict = "PASS" if full - plain <= 0.005 else "FAIL"
    print(f"  recall adds p50 {ms(full - plain)}   ratio {full / plain:5.2f}x   "
          f"target <= 5 ms: {verdict}")
    return full - plain <= 0.005


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--vectors", type=int, default=10_000)
    parser.add_argument("--dims", type=int, default=768)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ok = asyncio.run(storage_benchmarks(args, tmp))
        ok &= asyncio.run(turn_benchmarks(args, tmp, os.path.join(tmp, "bench.db")))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
