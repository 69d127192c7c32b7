"""``blufio memory list | search QUERY | add TEXT | forget ID | export``.

What the agent remembers: saved memories (``mem_<n>``) and, for ``search``, every stored
message (``msg_<n>``). ``search`` is hybrid when the ``embeddings`` plugin is configured
(the query is embedded; if the server cannot answer, the search is lexical with a note on
stderr). ``forget`` removes a memory, its index entry and its vector, or blanks what a
message said. ``export`` prints every memory as JSON (a list), for backup or moving.
Vectors of memories added here are made by the next ``serve`` or ``shell``.
"""

import json
import sys

from blufio import eventloop
from blufio.errors import UsageError
from blufio.hints import command

DEFAULT_LIMIT = 20


def run(args):
    from blufio.config import load_config

    config = load_config(args["--config"])
    return eventloop.run(_run(config, args))


async def _run(config, args):
    from blufio.registry import PluginRegistry

    registry = PluginRegistry(config)
    storage = registry.create(registry.require("storage").name)
    await storage.open()
    try:
        for name in ("list", "search", "add", "forget", "export"):
            if args[name]:
                return await globals()[f"cmd_{name}"](storage, args, registry)
        raise UsageError("unknown memory command")  # pragma: no cover - docopt prevents it
    finally:
        await storage.shutdown()


def _limit(args):
    raw = args["--limit"]
    if raw is None:
        return DEFAULT_LIMIT
    if not str(raw).isdigit() or not 1 <= int(raw) <= 1000:
        raise UsageError(f"--limit must be a number from 1 to 1000, not {raw!r}")
    return int(raw)


async def cmd_list(storage, args, registry):
    from blufio.agent.tools.memory import memory_json
    from blufio.commands import print_table

    memories = await storage.list_memories(limit=_limit(args))
    if args["--json"]:
        print(json.dumps([memory_json(m) for m in memories], indent=2, ensure_ascii=False))
        return 0
    if not memories:
        print(f"no memories saved yet; '{command('memory add TEXT')}' saves one")
        return 0
    print_table(("ID", "SAVED", "TAGS", "TEXT"),
                [(f"mem_{m.id}", m.created_at[:10], ",".join(m.tags) or "-", _line(m.text))
                 for m in memories])
    total = await storage.count_memories()
    print(f"\n{len(memories)} of {total} memor{'y' if total == 1 else 'ies'} shown.")
    return 0


async def cmd_search(storage, args, registry):
    from blufio.agent.tools.memory import describe_hit, hit_json

    query = args["QUERY"] or ""
    if not query.strip():
        raise UsageError("memory search needs a query, e.g. blufio memory search locker")
    recall, embedder = _recall(storage, registry)
    try:
        hits = await recall.search(query, limit=_limit(args))
    finally:
        if embedder is not None:
            await embedder.shutdown()
    if args["--json"]:
        print(json.dumps([hit_json(h) for h in hits], indent=2, ensure_ascii=False))
        return 0
    for hit in hits:
        print(_line(describe_hit(hit), 200))
    if not hits:
        print(f"nothing found for {query!r}")
    return 0


async def cmd_add(storage, args, registry):
    tags = [t.strip() for t in (args["--tags"] or "").split(",") if t.strip()]
    memory = await storage.save_memory(args["TEXT"] or "", channel="cli", tags=tags)
    print(f"saved mem_{memory.id}")
    return 0


async def cmd_forget(storage, args, registry):
    from blufio.agent.tools.memory import forget

    ident = args["ID"]
    if not await forget(storage, ident):
        raise UsageError(f"nothing to forget by the id {ident!r}; "
                         f"'{command('memory search')}' and '{command('memory list')}' show ids")
    print(f"forgot {ident}")
    return 0


async def cmd_export(storage, args, registry):
    from blufio.agent.tools.memory import memory_json

    memories, offset = [], 0
    while batch := await storage.list_memories(limit=500, offset=offset):
        memories += batch
        offset += len(batch)
    json.dump([memory_json(m) for m in memories], sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


def _recall(storage, registry):
    """A Recall over ``storage``, with the embedding plugin when it is enabled."""
    from blufio.agent.recall import Recall

    enabled = registry.enabled("embedding")
    embedder = registry.create(enabled[0].name) if enabled else None
    return Recall(storage, embedder=embedder), embedder


def _line(text, width=100):
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"
