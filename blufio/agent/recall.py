"""Recall: what the agent remembers of other conversations, put in front of each turn.

Before a turn, ``Recall.block`` searches the saved memories and the messages of *other*
sessions for the new message (``Storage.search_memory``: BM25, plus vectors when an
embedding plugin is configured), weighs the hits by recency, and writes the best of them,
within ``[memory] recall_tokens``, as one text block with each item's date and source. The
agent sends it as a system block right after the owner's system prompt.

The query's own vector is the only embedding on a turn's path, and it is bounded: at most
``QUERY_TIMEOUT`` seconds, and after a failure the embedding server is left alone for
``RETRY_AFTER`` seconds (one log line per outage). Without a vector, recall is lexical.
"""

import asyncio
import logging
import time
from datetime import datetime, timezone

from blufio.errors import BlufioError

log = logging.getLogger("blufio.memory")

CHARS_PER_TOKEN = 4  # the estimate [agent] max_history_tokens uses too
CANDIDATES = 16
QUERY_TIMEOUT = 2.0
RETRY_AFTER = 60.0
MAX_ITEM_CHARS = 600
MIN_SIMILARITY = 0.3  # below this cosine, a vector match is noise for common embedding models
HALF_LIFE_DAYS = 30.0  # an item this old weighs 3/4 of a new one; a very old one, 1/2
MEMORY_WEIGHT = 1.5  # a saved memory outranks a message ranked the same
HEADER = ("Memory (from earlier conversations and saved memories, most relevant first; it "
          "may be out of date):")


class QueryEmbedder:
    """Vectors for queries, never slower than QUERY_TIMEOUT and quiet after a failure."""

    def __init__(self, embedder, *, timeout=QUERY_TIMEOUT, retry_after=RETRY_AFTER):
        self.embedder = embedder
        self.timeout = timeout
        self.retry_after = retry_after
        self._resting_until = 0.0

    @property
    def model(self):
        return self.embedder.vector_model if self.embedder is not None else None

    async def vector(self, text):
        """The vector of ``text``, or None (no embedder, resting, failed or too slow)."""
        if self.embedder is None or time.monotonic() < self._resting_until:
            return None
        try:
            [vector] = await asyncio.wait_for(self.embedder.embed([text]), self.timeout)
            return vector
        except (BlufioError, asyncio.TimeoutError, ValueError) as exc:
            self._resting_until = time.monotonic() + self.retry_after
            log.warning("memory recall is lexical for the next %gs: %s", self.retry_after,
                        exc if str(exc) else "the embedding server did not answer in time")
            return None


class Recall:
    """Builds the recall block of a turn (see the module docstring)."""

    def __init__(self, storage, *, embedder=None, recall_tokens=800, scope="all"):
        self.storage = storage
        self.queries = QueryEmbedder(embedder)
        self.budget_chars = max(0, recall_tokens) * CHARS_PER_TOKEN
        self.scope = scope

    async def search(self, text, *, limit=CANDIDATES, channel=None, exclude_session=None):
        """Hybrid search for ``text`` (lexical when no query vector can be had)."""
        vector = await self.queries.vector(text) if text.strip() else None
        return await self.storage.search_memory(
            text, limit=limit, vector=vector, model=self.queries.model, channel=channel,
            exclude_session=exclude_session, min_similarity=MIN_SIMILARITY)

    async def block(self, session_id, channel, text, *, now=None):
        """The recall text for a new message ``text`` in ``session_id``, or None."""
        if not self.budget_chars or not text.strip():
            return None
        hits = await self.search(text, channel=channel if self.scope == "channel" else None,
                                 exclude_session=session_id)
        lines = fit(weigh(hits, now or datetime.now(timezone.utc)), self.budget_chars)
        return "\n".join([HEADER, *lines]) if lines else None


def weigh(hits, now):
    """``hits`` (best first) reordered by rank, recency and kind."""
    def weight(rank, hit):
        age_days = max(0.0, (now - _parse(hit.created_at)).total_seconds() / 86400)
        recency = 0.5 + 0.5 * 2 ** (-age_days / HALF_LIFE_DAYS)
        kind = MEMORY_WEIGHT if hit.kind == "memory" else 1.0
        return recency * kind / (60 + rank)

    scored = [(weight(rank, hit), hit) for rank, hit in enumerate(hits, 1)]
    return [hit for _, hit in sorted(scored, key=lambda pair: pair[0], reverse=True)]


def fit(hits, budget_chars):
    """One line per hit, in order, while they fit in ``budget_chars``."""
    lines, used = [], len(HEADER)
    for hit in hits:
        line = describe(hit)
        if used + len(line) + 1 > budget_chars:
            continue  # a shorter one further down may still fit
        lines.append(line)
        used += len(line) + 1
    return lines


def describe(hit):
    """``- [2026-11-25, saved memory] text`` or ``- [date, you said on telegram] text``."""
    text = " ".join(hit.text.split())
    if len(text) > MAX_ITEM_CHARS:
        text = text[:MAX_ITEM_CHARS - 1] + "…"
    if hit.kind == "memory":
        source = "saved memory"
    else:
        who = "you said" if hit.role == "assistant" else "the user said"
        source = f"{who} on {hit.channel}" if hit.channel else who
    return f"- [{hit.created_at[:10]}, {source}] {text}"


def _parse(stamp):
    try:  # fromisoformat, not strptime: this runs for every hit of every turn
        return datetime.fromisoformat(stamp[:19]).replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return datetime.now(timezone.utc)
