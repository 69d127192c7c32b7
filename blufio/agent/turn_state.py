"""The pieces of a turn that need no provider or storage: what it has accumulated
(``TurnState``), how a round ends (``round_end``, ``closing_message``) and the message list
it sends (merging, bounds, sizes)."""

import time

from blufio.agent.cost import usd
from blufio.agent.events import TextDelta
from blufio.model import NewMessage, Usage, text_blocks

AS_WRITTEN = ("", "")  # a turn that ends as the model wrote it (``round_end``)


class TurnState:
    """What a turn has accumulated across its provider calls: its text by round (streamed
    as ``TextDelta`` events), usage, cost, and how it stopped."""

    __slots__ = ("started", "parts", "current", "usage", "cost", "stop_reason", "stop_sequence",
                 "first_token", "client_tool_uses", "model")

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
        self.model = ""  # the model that answered the last call

    def add_text(self, emit, inbound, text, observer=None, model=""):
        if self.current is None:
            self.current = []
            if any(self.parts):
                emit(TextDelta(inbound.session_id, inbound.id, text="\n\n"))
            self.parts.append(self.current)
        if not self.first_token and observer is not None:
            self.first_token = True
            observer.first_token(inbound.channel, time.monotonic() - self.started)
        self.current.append(text)
        emit(TextDelta(inbound.session_id, inbound.id, text=text, model=model))

    def end_round(self):
        self.current = None

    def text(self):
        return "\n\n".join("".join(p) for p in self.parts if p)


def round_end(inbound, round_number, max_tool_rounds, state, tool_uses, for_client):
    """Whether the turn ends after this round: None to run the tools the model asked for
    (or hand them to the client), ``AS_WRITTEN`` when it asked for none, or ``(stop_reason,
    note)`` when it must end though it asked: the limit of tool rounds, or the spend cap a
    scheduled run carries in its ``reply_to`` (``max_usd``)."""
    if state.stop_reason != "tool_use" or not tool_uses:
        return AS_WRITTEN
    if for_client:
        return None
    if round_number == max_tool_rounds:
        return "max_tool_rounds", (f"(I stopped here: this turn reached the limit of "
                                   f"{max_tool_rounds} tool rounds.)")
    cap = (inbound.reply_to or {}).get("max_usd")
    if cap is not None and state.cost >= cap:
        return "max_usd", (f"(I stopped here: this scheduled run has cost {usd(state.cost)}, "
                           f"which is its cap of {usd(cap)}.)")
    return None


def closing_message(inbound, content, usage, model, stop, emit, state):
    """The turn's last assistant message: as the model wrote it (``AS_WRITTEN``), or, when
    the turn stops (``stop``: reason and note) though the model asked for tools, without
    those calls and with the note."""
    if stop is AS_WRITTEN:
        return NewMessage("assistant", content or text_blocks(""), model, usage)
    state.stop_reason, note = stop
    state.add_text(emit, inbound, note)
    kept = [b for b in content if b.get("type") != "tool_use"] + text_blocks(note)
    return NewMessage("assistant", kept, model, usage)


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
