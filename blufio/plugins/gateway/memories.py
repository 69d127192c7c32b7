"""``/v1/memories``: what the agent remembers, over HTTP (a token is required, as everywhere).

- ``GET /v1/memories``: saved memories, newest first (``limit``, ``offset``); with ``q``, a
  search of memories and every stored message instead (hybrid when an embedding plugin is
  configured), best first.
- ``POST /v1/memories`` with ``{"text": "...", "tags": ["..."]}``: save one (201).
- ``DELETE /v1/memories/{id}``: forget ``mem_<n>`` (the memory, its index entry and its
  vector) or ``msg_<n>`` (what a stored message said).

Ids and JSON shapes are those of ``blufio memory`` (``blufio.agent.tools.memory``).
"""

from quart import request

from blufio.agent.tools import memory as memory_tools
from blufio.errors import UsageError
from blufio.plugins.gateway.errors import GatewayError
from blufio.plugins.gateway.messages import int_arg, parse_body


def register_memory_routes(app, gateway):
    """Add the three routes to ``app``, over ``gateway``'s storage and agent."""

    def recall():
        from blufio.agent.recall import Recall

        memory = gateway.agent.memory if gateway.agent is not None else None
        return memory.recall if memory is not None else Recall(gateway.storage)

    @app.get("/v1/memories")
    async def list_or_search_memories():
        limit = int_arg("limit", 20, 1, 100)
        query = request.args.get("q")
        if query is not None:
            if not query.strip():
                raise GatewayError(400, "q: must not be empty (leave it out to list memories)")
            hits = await recall().search(query, limit=limit)
            return {"data": [memory_tools.hit_json(h) for h in hits], "query": query,
                    "limit": limit}
        offset = int_arg("offset", 0, 0, None)
        memories = await gateway.storage.list_memories(limit=limit, offset=offset)
        total = await gateway.storage.count_memories()
        return {"data": [memory_tools.memory_json(m) for m in memories],
                "has_more": offset + len(memories) < total, "total": total, "limit": limit,
                "offset": offset}

    @app.post("/v1/memories")
    async def save_memory():
        body = parse_body(await request.get_data())
        text, tags = body.get("text"), body.get("tags", [])
        if not isinstance(text, str):
            raise GatewayError(400, "text: required, a string")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise GatewayError(400, "tags: must be a list of strings")
        try:
            memory = await gateway.storage.save_memory(text, channel="gateway", tags=tags)
        except UsageError as exc:
            raise GatewayError(400, f"text: {exc}") from None
        if gateway.agent is not None and gateway.agent.memory is not None:
            gateway.agent.memory.poke()
        return memory_tools.memory_json(memory), 201

    @app.delete("/v1/memories/<memory_id>")
    async def forget_memory(memory_id):
        try:
            found = await memory_tools.forget(gateway.storage, memory_id)
        except UsageError as exc:
            raise GatewayError(400, str(exc)) from None
        if not found:
            raise GatewayError(404, f"nothing to forget by the id '{memory_id}'")
        return {"id": memory_id, "deleted": True}
