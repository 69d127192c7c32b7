"""What the agent reports while it works on a turn: one small dataclass per event.

A turn's event stream is ``Typing``, then any number of ``TextDelta``, ``ToolUse`` and
``ToolResult`` events in the order they happen, and finally exactly one of ``TurnComplete``
or ``TurnError``. Every event names its session (``session_id``) and the inbound queue entry
it answers (``inbound_id``), so one connection can carry several conversations.

A channel shows a turn by subclassing ``EventRenderer`` and overriding the ``on_*`` method of
each event it shows; ``render(events)`` walks the stream. A new kind of event is added here:
its dataclass, a default ``on_*`` method and a case in ``EventRenderer.render_event``.
"""

from dataclasses import dataclass, field
from typing import Any, AsyncIterable, Optional

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
    """More of the reply's text, as the model produces it (``model``: the one answering)."""

    text: str = ""
    model: str = ""


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
    """The turn ended and is stored. ``message`` is the last message stored; ``text``
    is all the text the turn produced (including text before tool calls); ``usage`` and
    ``cost_usd`` total every provider call of the turn. ``tool_uses`` are the ``tool_use``
    blocks of client tools the turn ended on (``stop_reason`` ``tool_use``); ``stop_sequence``
    is the one that ended it, when one did."""

    message: Optional[Message] = None
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    stop_reason: str = ""
    model: str = ""
    cost_usd: float = 0.0
    stop_sequence: Optional[str] = None
    tool_uses: list = field(default_factory=list)


@dataclass(slots=True)
class TurnError(AgentEvent):
    """The turn failed; nothing of it is stored as a reply. ``error`` is a
    ``blufio.errors.BlufioError``, whose text is fit to show a user and whose class says what
    it means; ``kind`` is its low-cardinality label (``budget``, ``provider``, ``config``,
    ``storage``, ``internal``)."""

    error: Optional[BaseException] = None
    kind: str = "internal"

    @property
    def message(self) -> str:
        return str(self.error) if self.error is not None else "the turn failed"


class EventRenderer:
    """Shows a turn's events on one channel: each ``on_*`` method gets the events of its
    kind and, by default, ignores them. A method's return value is handed back by
    ``render_event``, so a renderer may produce output (bytes, frames) instead of sending it.
    """

    async def on_typing(self, event: Typing):
        """The agent has started on the message."""

    async def on_text_delta(self, event: TextDelta):
        """More of the reply's text."""

    async def on_tool_use(self, event: ToolUse):
        """A tool is about to run."""

    async def on_tool_result(self, event: ToolResult):
        """A tool finished."""

    async def on_turn_complete(self, event: TurnComplete):
        """The turn ended and is stored (the last event)."""

    async def on_turn_error(self, event: TurnError):
        """The turn failed (the last event)."""

    async def render_event(self, event: AgentEvent):
        """Pass ``event`` to its method; return what the method returns."""
        match event:
            case Typing():
                return await self.on_typing(event)
            case TextDelta():
                return await self.on_text_delta(event)
            case ToolUse():
                return await self.on_tool_use(event)
            case ToolResult():
                return await self.on_tool_result(event)
            case TurnComplete():
                return await self.on_turn_complete(event)
            case TurnError():
                return await self.on_turn_error(event)
        raise TypeError(f"not an agent event: {event!r}")

    async def render(self, events: AsyncIterable[AgentEvent]) -> Optional[AgentEvent]:
        """Render every event of ``events``; return the turn's outcome (its TurnComplete or
        TurnError), or None when the stream ended without one."""
        outcome = None
        async for event in events:
            await self.render_event(event)
            if is_outcome(event):
                outcome = event
        return outcome


def is_outcome(event) -> bool:
    """Whether ``event`` ends its turn (a TurnComplete or TurnError)."""
    return isinstance(event, (TurnComplete, TurnError))
