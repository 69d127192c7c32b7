"""The data adapters exchange: sessions, messages, inbound queue entries, usage, costs.

Message content is a list of content blocks in Anthropic's shape (``{"type": "text",
"text": ...}``, ``tool_use``, ``tool_result``), so it round-trips through storage as JSON and
through the gateway unchanged.
"""

from dataclasses import dataclass, field
from datetime import datetime, timezone


def utc_now():
    """The current time as an ISO-8601 UTC string with microseconds, as stored.

    Microseconds keep "newest first" orderings exact between writes of one process.
    """
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
    """One provider call in the cost ledger."""

    session_id: str
    model: str
    usage: Usage
    cost_usd: float
    created_at: str = ""
