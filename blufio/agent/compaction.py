"""Compaction: a session that outgrows its history budget is summarised, never cut.

The history of a turn is the session's summary (if it has one) plus the messages after it.
When those messages pass ``[agent] max_history_messages`` or ``max_history_tokens``, the
oldest of them are summarised by the provider, together with the previous summary, into a
new summary kept with the session (``Storage.save_summary``); the newest messages, about half
of each budget, stay verbatim. The split is always at a user message that is not a tool
result, so a ``tool_use`` is never parted from its ``tool_result``. No message is deleted:
every one stays in the database, in ``GET /v1/sessions/{id}`` and in memory search.

The summary's provider call is checked against the budget and written to the cost ledger
like any other. If it fails, the turn still runs: the oldest messages are left out of this
turn's history instead (the old behaviour), with one log line.

A history far longer than the fetch window (``FETCH_FACTOR`` times the message budget)
that was never summarised is summarised from its most recent part only.
"""

import logging

from blufio.agent.stream import MessageBuilder
from blufio.agent.turn_state import clean_start, content_size

log = logging.getLogger("blufio.agent")

FETCH_FACTOR = 2
KEEP_FRACTION = 0.5
SUMMARY_MAX_TOKENS = 1024
TRANSCRIPT_CHARS = 120_000  # of the part being summarised (its end); older text is dropped
LINE_CHARS = 2_000
INSTRUCTIONS = (
    "You keep the running summary of a conversation between a user and their assistant. "
    "Merge the summary so far with the new part of the conversation into one updated "
    "summary: facts about the user, decisions, open tasks, names, numbers and dates that "
    "may matter later. Be concise and factual; write only the summary.")
SUMMARY_HEADER = "Summary of the earlier part of this conversation:"


def split_point(messages, max_messages, max_chars):
    """The index of the first message to keep verbatim, or None when all fit.

    The kept part is the longest tail within KEEP_FRACTION of both budgets that starts
    cleanly; if even the last turn is larger, the last clean start. 0 when no clean start
    leaves anything to summarise (then the caller trims)."""
    sizes = [content_size(m.content) for m in messages]
    if len(messages) <= max_messages and sum(sizes) <= max_chars:
        return None
    keep_messages = max(1, int(max_messages * KEEP_FRACTION))
    keep_chars = max_chars * KEEP_FRACTION
    starts = [i for i, m in enumerate(messages) if i > 0 and clean_start(m)]
    tail = sum(sizes)
    previous = 0
    for start in starts:
        tail -= sum(sizes[previous:start])
        previous = start
        if len(messages) - start <= keep_messages and tail <= keep_chars:
            return start
    return starts[-1] if starts else 0


def transcript(messages):
    """The messages as plain lines for the summariser (the end, if too long)."""
    lines = []
    for message in messages:
        for block in message.content:
            kind = block.get("type")
            if kind == "text" and block.get("text"):
                line = f"{message.role}: {block['text']}"
            elif kind == "tool_use":
                line = f"assistant used tool {block.get('name')} with {block.get('input')}"
            elif kind == "tool_result":
                inner = block.get("content", "")
                line = f"tool result: {inner if isinstance(inner, str) else inner!s}"
            else:
                continue
            lines.append(" ".join(line.split())[:LINE_CHARS])
    text = "\n".join(lines)
    return text[-TRANSCRIPT_CHARS:]


class Compactor:
    """Gives a turn its history: the summary and the messages after it (see above).

    ``check_budget()`` is awaited before the summary's provider call, and
    ``record(session_id, usage)`` after it (the agent's budget and ledger).
    """

    def __init__(self, storage, provider, *, model, max_messages, max_chars, check_budget,
                 record):
        self.storage = storage
        self.provider = provider
        self.model = model
        self.max_messages = max(2, max_messages)
        self.max_chars = max_chars
        self.check_budget = check_budget
        self.record = record

    async def history(self, session_id, *, summarise=True):
        """``(summary text or None, messages to send verbatim, oldest first)``; without
        ``summarise``, an overgrown history is trimmed instead (no provider call)."""
        summary = await self.storage.get_summary(session_id)
        through, text = summary if summary else (0, None)
        stored = await self.storage.get_messages(session_id,
                                                 limit=self.max_messages * FETCH_FACTOR)
        messages = [m for m in stored if m.id > through]
        start = split_point(messages, self.max_messages, self.max_chars)
        if start is None:
            return text, _from_clean_start(messages)
        if start > 0 and summarise:
            try:
                text = await self._summarise(session_id, text, messages[:start])
                return text, messages[start:]
            except Exception as exc:  # a failed summary must not fail the turn
                log.warning("could not summarise session %s (%s: %s); its oldest messages "
                            "are left out of this turn instead", session_id,
                            type(exc).__name__, exc)
        return text, trimmed(messages, self.max_messages, self.max_chars)

    async def _summarise(self, session_id, previous, old):
        await self.check_budget()
        prompt = (f"Summary so far:\n{previous or '(none)'}\n\n"
                  f"New part of the conversation:\n{transcript(old)}")
        builder = MessageBuilder()
        try:
            async for event in self.provider.stream(
                    model=self.model, system=[{"type": "text", "text": INSTRUCTIONS}],
                    messages=[{"role": "user", "content": [{"type": "text", "text": prompt}]}],
                    tools=[], max_tokens=SUMMARY_MAX_TOKENS):
                builder.feed(event)
            content = builder.finish()
        finally:
            if builder.started:  # a provider chain says who answered
                await self.record(session_id, builder.usage,
                                  builder.model if builder.provider else None, builder.provider)
        text = "".join(b.get("text", "") for b in content if b.get("type") == "text").strip()
        if not text:
            raise ValueError("the provider returned an empty summary")
        await self.storage.save_summary(session_id, old[-1].id, text)
        log.info("session %s: %d messages summarised", session_id, len(old))
        return text


def trimmed(messages, max_messages, max_chars):
    """The newest messages within both budgets, from a clean start (no summary)."""
    messages = messages[-max_messages:]
    sizes = [content_size(m.content) for m in messages]
    total, start = sum(sizes), 0
    while total > max_chars and start < len(messages):
        total -= sizes[start]
        start += 1
    return _from_clean_start(messages[start:])


def _from_clean_start(messages):
    start = 0
    while start < len(messages) and not clean_start(messages[start]):
        start += 1
    return messages[start:]
