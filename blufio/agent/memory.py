"""The agent's memory, in one object: recall, compaction, background embedding and tools.

``AgentMemory.from_config`` reads ``[memory]`` (``enabled``, ``recall_tokens``, ``scope``)
and returns None when memory is off. The agent then

- puts ``recall.block(...)`` after the owner's system prompt on every turn
  (``blufio.agent.recall``);
- compacts long sessions into summaries instead of trimming them
  (``blufio.agent.compaction``);
- calls ``poke()`` after each stored turn, so new messages get vectors in the background
  (``blufio.agent.embedding``; only with an embedding plugin);
- offers the ``memory_*`` tools (``blufio.agent.tools.memory``).
"""

from blufio.agent.embedding import BackgroundEmbedding
from blufio.agent.recall import Recall
from blufio.errors import ConfigError

SCOPES = ("all", "channel")


class AgentMemory:
    """Memory of one agent over ``storage`` and an optional embedding adapter."""

    def __init__(self, storage, *, embedder=None, recall_tokens=800, scope="all",
                 compaction=True):
        if scope not in SCOPES:
            raise ConfigError(f"memory.scope must be 'all' or 'channel', not {scope!r}")
        self.storage = storage
        self.recall = Recall(storage, embedder=embedder, recall_tokens=recall_tokens,
                             scope=scope)
        self.embedding = BackgroundEmbedding(storage, embedder) if embedder else None
        self.compaction = compaction

    @classmethod
    def from_config(cls, config, storage, embedder=None):
        """The memory ``[memory]`` asks for, or None when it is switched off."""
        if not config.get("memory.enabled"):
            return None
        return cls(storage, embedder=embedder,
                   recall_tokens=config.get("memory.recall_tokens"),
                   scope=config.get("memory.scope"))

    def register_tools(self, registry):
        """Offer ``memory_save``, ``memory_search`` and ``memory_forget``."""
        from blufio.agent.tools import memory as memory_tools

        memory_tools.register(registry, self.storage, self.recall, on_saved=self.poke)
        registry.allowed.add("memory")

    def poke(self):
        """Embed what is new, in the background (nothing without an embedding plugin)."""
        if self.embedding is not None:
            self.embedding.poke()

    async def aclose(self):
        if self.embedding is not None:
            await self.embedding.aclose()
