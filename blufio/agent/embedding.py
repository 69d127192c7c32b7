"""Vectors for memory, made in the background: never on a turn's path.

``BackgroundEmbedding.poke()`` is called after each stored turn and saved memory (and once
at start-up). One task at a time asks the storage for what has no vector of the embedding
plugin's ``vector_model`` yet (newest first: ``Storage.unembedded``), embeds it in batches
and stores the vectors, until nothing is left. So a new model re-embeds everything, in the
background. When the embedding server fails, the task stops with one log line and the next
poke tries again; recall stays lexical meanwhile.
"""

import asyncio
import logging

from blufio.errors import BlufioError

log = logging.getLogger("blufio.memory")

BATCH = 32


class BackgroundEmbedding:
    """Keeps every memory and message embedded by ``embedder`` (see the module docstring)."""

    def __init__(self, storage, embedder, *, batch=BATCH):
        self.storage = storage
        self.embedder = embedder
        self.batch = batch
        self._task = None
        self._again = False
        self._failing = False

    def poke(self):
        """Embed what is new, in the background (coalesced with a run in progress)."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run(),
                                                            name="blufio-embedding")

    async def idle(self):
        """Wait until nothing is left to embed (or the server failed); for tests and tools."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def aclose(self):
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self):
        while True:
            self._again = False
            try:
                while await self._embed_batch():
                    pass
            except BlufioError as exc:
                if not self._failing:
                    log.warning("memory vectors are not being made: %s", exc)
                self._failing = True
                return
            if self._failing:
                log.info("memory vectors are being made again")
                self._failing = False
            if not self._again:
                return

    async def _embed_batch(self):
        """Embed one batch; False when there was nothing to do."""
        model = self.embedder.vector_model
        items = await self.storage.unembedded(model, limit=self.batch)
        if not items:
            return False
        texts = [(item, text) for item, text in items if text.strip()]
        vectors = await self.embedder.embed([text for _, text in texts]) if texts else []
        made = dict(zip((item for item, _ in texts), vectors))
        await self.storage.store_vectors(model, [(item, made.get(item)) for item, _ in items])
        return True
