"""The pieces of a turn that need no provider or storage: what it has accumulated
(``TurnState``) and the message list it sends (merging, bounds, sizes)."""

import time

from blufio.agent.events import TextDelta
from blufio.model import Usage


class TurnState:
    """What a turn has accumulated across its provider calls: its text by round (streamed
    as ``TextDelta`` events), usage, cost, and how it stopped."""

    __slots__ = ("started", "parts", "current", "usage", "cost", "stop_reason", "stop_sequence",
                 "first_token", "client_tool_uses")

    def __init__(self, started):
        self.started = started
        self.parts = []  # text of earlier rounds
        self.current = None  # text of this round so far
        self.usage = Usage()
        self.cost = 0.0
        self.stop_reason = ""
        self.stop_sequence = None
        self.first_token = False
        self.client_tool_uses = []  # tool_use blocks the client runs

    def add_text(self, emit, inbound, text, observer=None):
        if self.current is None:
            self.current = []
            if any(self.parts):
                emit(TextDelta(inbound.session_id, inbound.id, text="\n\n"))
            self.parts.append(self.current)
        if not self.first_token and observer is not None:
            self.first_token = True
            observer.first_token(inbound.channel, time.monotonic() - self.started)
        self.current.append(text)
        emit(TextDelta(inbound.session_id, inbound.id, text=text))

    def end_round(self):
        self.current = None

    def text(self):
        return "\n\n".join("".join(p) for p in self.parts if p)


def append_message(messages, role, content):
    """Append a message, merging with the previous one of the same role; skip empties."""
    content = [b for b in content if not (b.get("type") == "text" and not b.get("text"))]
    if not content:
        return
    if messages and messages[-1]["role"] == role:
        messages[-1] = {"role": role, "content": [*messages[-1]["content"], *content]}
    else:
        messages.append({"role": role, "content": content})


def clean_start(message):
    return message.role == "user" and not any(
        block.get("type") == "tool_result" for block in message.content)


def content_size(content):
    size = 0
    for block in content:
        kind = block.get("type")
        if kind == "text":
            size += len(block.get("text", ""))
        elif kind == "tool_result":
            inner = block.get("content", "")
            size += len(inner) if isinstance(inner, str) else len(str(inner))
        else:
            size += len(str(block.get("input", ""))) + 50
    return size
