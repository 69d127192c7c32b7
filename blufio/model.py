"""The data adapters exchange: sessions, messages, inbound queue entries, usage, costs,
schedules and their runs.

Message content is a list of content blocks in Anthropic's shape (``{"type": "text",
"text": ...}``, ``tool_use``, ``tool_result``), so it round-trips through storage as JSON and
through the gateway unchanged.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone


def utc_now():
    """The current time as an ISO-8601 UTC string with microseconds, as stored.

    Microseconds keep "newest first" orderings exact between writes of one process.
    """
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# surrogates that surrogateescape does not make (it makes U+DC80..U+DCFF, one per byte)
_LONE_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def clean_text(text):
    """``text`` as valid UTF-8: bytes smuggled in by ``surrogateescape`` (e.g. undecodable
    command-line arguments) are decoded again as far as they go, and what is left of them,
    like any lone surrogate, becomes U+FFFD, instead of failing the write."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    text = _LONE_SURROGATE.sub("\ufffd", text)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def text_blocks(text):
    """``text`` as a content block list."""
    return [{"type": "text", "text": text}]


def text_of(content):
    """The concatenated text of a content block list (or a plain string)."""
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if block.get("type") == "text")


@dataclass(slots=True)
class Usage:
    """Token counts of one provider call or one turn (Anthropic's four kinds)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def __add__(self, other):
        return Usage(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple())))

    def as_tuple(self):
        return (self.input_tokens, self.output_tokens, self.cache_creation_input_tokens,
                self.cache_read_input_tokens)

    def as_dict(self):
        return dict(zip(USAGE_FIELDS, self.as_tuple()))


# The four counts by their API names, in ``Usage``'s order, with the metrics label of each.
USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                "cache_read_input_tokens")
USAGE_LABELS = dict(zip(USAGE_FIELDS, ("input", "output", "cache_write", "cache_read")))


@dataclass(slots=True)
class Session:
    """A conversation: its id, the channel it started on, and bookkeeping."""

    id: str
    channel: str
    created_at: str
    updated_at: str
    message_count: int = 0
    title: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass(slots=True)
class Message:
    """One stored message of a session (``role`` is ``user`` or ``assistant``)."""

    id: int
    session_id: str
    role: str
    content: list
    created_at: str
    model: str = ""
    usage: Usage = field(default_factory=Usage)


@dataclass(slots=True)
class NewMessage:
    """A message to append to a session (the storage assigns id and time)."""

    role: str
    content: list
    model: str = ""
    usage: Usage = field(default_factory=Usage)


@dataclass(slots=True)
class Inbound:
    """A received message in the inbound queue: ``pending`` → ``processing`` → ``done`` or
    ``failed``. ``reply_to`` is the channel's own address for the reply (e.g. a Telegram
    chat id), so a restarted Blufio can still answer."""

    id: int
    session_id: str
    channel: str
    content: list
    status: str
    received_at: str
    reply_to: dict = field(default_factory=dict)
    error: str = ""


@dataclass(slots=True)
class CostEntry:
    """One provider call in the cost ledger: which provider and model answered, and what it
    cost."""

    session_id: str
    model: str
    usage: Usage
    cost_usd: float
    created_at: str = ""
    provider: str = ""


@dataclass(slots=True)
class Memory:
    """A fact saved to remember: its text, where it came from, when, and tags."""

    id: int
    text: str
    created_at: str
    session_id: str = None
    message_id: int = None
    channel: str = ""
    tags: list = field(default_factory=list)


@dataclass(slots=True)
class MemoryHit:
    """One search result: a saved memory (``kind`` ``memory``) or a stored message
    (``message``, said by ``role``), with its text, date, source and score (higher is
    better)."""

    kind: str
    id: int
    text: str
    created_at: str
    session_id: str = None
    channel: str = ""
    score: float = 0.0
    role: str = ""


@dataclass(slots=True)
class Schedule:
    """A recurring (``cron`` in ``timezone``) or one-shot (``cron`` empty) prompt, run as an
    inbound message for ``target`` (``telegram:<chat>`` or ``session:<id>``).

    ``status`` is ``active``, ``paused`` (by hand or by a spend cap: ``paused_reason``) or
    ``done`` (a one-shot that ran). Times are ISO-8601 UTC strings as ``utc_now`` writes
    them; ``next_run_at`` is None when nothing more is due. ``catch_up`` says what a run
    missed while Blufio was down becomes: ``once`` (run once on start) or ``skip``.
    """

    id: str
    prompt: str
    target: str
    next_run_at: str | None
    cron: str = ""
    timezone: str = "UTC"
    status: str = "active"
    catch_up: str = "once"
    max_run_usd: float | None = None
    max_day_usd: float | None = None
    paused_reason: str = ""
    run_now: bool = False
    last_run_at: str | None = None
    last_outcome: str = ""
    last_error: str = ""
    run_count: int = 0
    spent_usd: float = 0.0
    created_at: str = ""
    updated_at: str = ""

    @property
    def kind(self):
        return "cron" if self.cron else "once"


@dataclass(slots=True)
class ScheduleRun:
    """One run of a schedule: ``outcome`` is ``running`` until it is ``ok``, ``failed``,
    ``skipped`` (missed while down, with ``catch_up = "skip"``) or ``capped`` (a spend cap
    stopped it). ``inbound_id`` is the inbound queue entry the run's prompt became."""

    id: int
    schedule_id: str
    due_at: str
    started_at: str
    outcome: str
    inbound_id: int | None = None
    cost_usd: float = 0.0
    error: str = ""
    finished_at: str | None = None
