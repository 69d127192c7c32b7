"""The memory tools (capability ``memory``): ``memory_save``, ``memory_search``,
``memory_forget``: the model remembers on request ("remember that…") and looks things up.

A saved memory records where it was said: the agent sets ``CURRENT_TURN`` to
``(session_id, channel)`` while a turn runs, and ``memory_save`` reads it. Hits are named
``mem_<id>`` (a saved memory) or ``msg_<id>`` (a stored message), as ``blufio memory`` and
the gateway name them; ``memory_forget`` takes either.
"""

import contextvars

from blufio.agent.tools import Tool
from blufio.errors import ToolError, UsageError

CURRENT_TURN = contextvars.ContextVar("blufio_current_turn", default=(None, ""))
SEARCH_LIMIT = 8


def hit_id(hit):
    """The public name of a search hit: ``mem_12`` or ``msg_345``."""
    return f"{'mem' if hit.kind == 'memory' else 'msg'}_{hit.id}"


def memory_json(memory):
    """A saved memory as JSON (``blufio memory list --json``, the gateway)."""
    return {"id": f"mem_{memory.id}", "text": memory.text, "created_at": memory.created_at,
            "tags": memory.tags, "session_id": memory.session_id, "channel": memory.channel}


def hit_json(hit):
    """A search hit as JSON (``blufio memory search --json``, the gateway)."""
    return {"id": hit_id(hit), "kind": hit.kind, "text": hit.text,
            "created_at": hit.created_at, "session_id": hit.session_id,
            "channel": hit.channel, "role": hit.role, "score": hit.score}


def parse_id(text):
    """``("memory" | "message", id)`` from ``mem_12``, ``msg_345`` or ``12`` (a memory);
    UsageError otherwise."""
    text = str(text).strip()
    kind, _, number = text.rpartition("_")
    kinds = {"": "memory", "mem": "memory", "msg": "message"}
    if kind not in kinds or not number.isdigit() or len(number) > 18:
        raise UsageError(f"{text!r} is not a memory id (expected mem_<n>, msg_<n> or <n>)")
    return kinds[kind], int(number)


async def forget(storage, ident):
    """Forget a memory or what a message said; False when there was nothing by that id."""
    kind, number = parse_id(ident)
    if kind == "memory":
        return await storage.forget_memory(number)
    return await storage.forget_message(number)


def describe_hit(hit):
    """One line for a person or a model: id, date, source, text."""
    source = "saved memory" if hit.kind == "memory" else \
        f"{hit.role or 'message'} on {hit.channel or '?'}"
    return f"{hit_id(hit)} [{hit.created_at[:10]}, {source}] {' '.join(hit.text.split())}"


def register(registry, storage, recall, *, on_saved=None):
    """Register the three tools over ``storage`` and ``recall`` (a ``Recall``, for hybrid
    search); ``on_saved()`` runs after a memory is saved (to embed it)."""

    async def save(arguments):
        text = arguments.get("text")
        tags = arguments.get("tags") or []
        if not isinstance(text, str) or not isinstance(tags, list):
            raise ToolError("memory_save takes {\"text\": string, \"tags\": [string]}")
        session_id, channel = CURRENT_TURN.get()
        try:
            memory = await storage.save_memory(text, session_id=session_id, channel=channel,
                                               tags=[str(t) for t in tags])
        except UsageError as exc:
            raise ToolError(str(exc)) from None
        if on_saved is not None:
            on_saved()
        return f"Saved as mem_{memory.id}."

    async def search(arguments):
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ToolError("memory_search needs a non-empty \"query\" string")
        limit = arguments.get("limit") or SEARCH_LIMIT
        if not isinstance(limit, int) or not 1 <= limit <= 50:
            raise ToolError("\"limit\" is a number from 1 to 50")
        hits = await recall.search(query, limit=limit)
        return "\n".join(describe_hit(h) for h in hits) or "Nothing found."

    async def forget_tool(arguments):
        ident = arguments.get("id")
        try:
            found = await forget(storage, ident)
        except UsageError as exc:
            raise ToolError(str(exc)) from None
        if not found:
            raise ToolError(f"there is nothing to forget by the id {ident}")
        return f"Forgot {ident}."

    registry.register(Tool(
        "memory_save", "Save a fact to remember in later conversations (e.g. when the user "
        "says 'remember that…'). Write it as a self-contained statement.",
        {"type": "object", "properties": {
            "text": {"type": "string", "description": "The fact, self-contained"},
            "tags": {"type": "array", "items": {"type": "string"}}},
         "required": ["text"]},
        "memory", save, timeout=30.0))
    registry.register(Tool(
        "memory_search", "Search saved memories and past conversations; returns matches "
        "with their id, date and source.",
        {"type": "object", "properties": {
            "query": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50}},
         "required": ["query"]},
        "memory", search, timeout=30.0))
    registry.register(Tool(
        "memory_forget", "Forget a saved memory (mem_<n>) or what a past message said "
        "(msg_<n>), by the id memory_search gave.",
        {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
        "memory", forget_tool, timeout=30.0))
