"""What the agent reports while it works on a turn: one small dataclass per event.

A turn's event stream is ``Typing``, then any number of ``TextDelta``, ``ToolUse`` and
``ToolResult`` events in the order they happen, and finally exactly one of ``TurnComplete``
or ``TurnError``. Every event names its session (``session_id``) and the inbound queue entry
it answers (``inbound_id``), so one connection can carry several conversations.
"""

from dataclasses import dataclass, field
from typing import Any, Optional

from blufio.model import Message, Usage


@dataclass(slots=True)
class AgentEvent:
    """The base of every event."""

    session_id: str
    inbound_id: int


@dataclass(slots=True)
class Typing(AgentEvent):
    """The agent has started on the message (show a typing indicator)."""


@dataclass(slots=True)
class TextDelta(AgentEvent):
    """More of the reply's text, as the model produces it."""

    text: str = ""


@dataclass(slots=True)
class ToolUse(AgentEvent):
    """The model asked for a tool; it is about to run."""

    tool_use_id: str = ""
    name: str = ""
    input: Any = None


@dataclass(slots=True)
class ToolResult(AgentEvent):
    """A tool finished; ``content`` is what the model is told."""

    tool_use_id: str = ""
    name: str = ""
    is_error: bool = False
    content: str = ""


@dataclass(slots=True)
class TurnComplete(AgentEvent):
    """The turn ended and is stored. ``message`` is the final assistant message; ``text``
    is all the text the turn produced (including text before tool calls); ``usage`` and
    ``cost_usd`` total every provider call of the turn."""

    message: Optional[Message] = None
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    stop_reason: str = ""
    model: str = ""
    cost_usd: float = 0.0


@dataclass(slots=True)
class TurnError(AgentEvent):
    """The turn failed; nothing of it is stored as a reply. ``kind`` is a low-cardinality
    label (``budget``, ``provider``, ``config``, ``storage``, ``internal``) and ``error`` the
    exception, whose text is fit to show a user."""

    error: Optional[BaseException] = None
    kind: str = "internal"

    @property
    def message(self) -> str:
        return str(self.error) if self.error is not None else "the turn failed"
