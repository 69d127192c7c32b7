"""Assembling one assistant message from a provider's streamed events.

``MessageBuilder.feed(event)`` takes the events of ``blufio.contracts.Provider.stream`` one at
a time and returns the text each adds (or ``""``); ``finish()`` checks the stream ended
properly and returns the content blocks. Usage follows Anthropic's rules: ``message_start``
carries the input counts, and ``message_delta`` counts are cumulative, so they replace, not add.
An event out of order or a tool input that is not JSON is a ``ProviderError``.

``TurnStream`` (``blufio.agent.turn_stream``) is the other stream of a turn: the agent's
events, as the channel reads them.
"""

import json

from blufio.errors import ProviderError
from blufio.model import USAGE_FIELDS, Usage


class MessageBuilder:
    """Accumulates content blocks, usage, model and stop reason from stream events."""

    __slots__ = ("blocks", "partial_json", "usage", "model", "provider", "stop_reason",
                 "stop_sequence", "started", "stopped")

    def __init__(self):
        self.blocks = {}
        self.partial_json = {}
        self.usage = Usage()
        self.model = ""
        self.provider = ""  # set when a provider chain says who answered
        self.stop_reason = ""
        self.stop_sequence = None
        self.started = False
        self.stopped = False

    def feed(self, event):
        """Take one event; return the text it adds to the reply ("" if none)."""
        handler = self._HANDLERS.get(event.get("type"))
        return (handler(self, event) or "") if handler is not None else ""

    def _content_block_start(self, event):
        block = dict(event.get("content_block") or {})
        if "type" not in block or "index" not in event:
            raise _malformed("a content block without a type or index")
        if block["type"] == "tool_use":
            block["input"] = {}
        self.blocks[event["index"]] = block

    def _content_block_delta(self, event):
        block = self._block(event)
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta":
            text = delta.get("text", "")
            block["text"] = block.get("text", "") + text
            return text
        if delta.get("type") == "input_json_delta":
            index = event["index"]
            self.partial_json[index] = self.partial_json.get(index, "") + delta.get(
                "partial_json", "")
        elif delta.get("type") == "thinking_delta":  # kept: the next call must send it back
            block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")
        elif delta.get("type") == "signature_delta":
            block["signature"] = delta.get("signature", "")
        return ""

    def _content_block_stop(self, event):
        block = self._block(event)
        if block["type"] == "tool_use":
            raw = self.partial_json.pop(event["index"], "")
            try:
                block["input"] = json.loads(raw) if raw.strip() else {}
            except ValueError:
                raise _malformed(f"the input of tool {block.get('name')!r} is not JSON") from None

    def _message_start(self, event):
        message = event.get("message") or {}
        self.started = True
        self.model = message.get("model") or ""
        self.provider = message.get("provider") or ""
        self._set_usage(message.get("usage"))

    def _message_delta(self, event):
        delta = event.get("delta") or {}
        self.stop_reason = delta.get("stop_reason") or self.stop_reason
        self.stop_sequence = delta.get("stop_sequence") or self.stop_sequence
        self._set_usage(event.get("usage"))

    def _message_stop(self, event):
        self.stopped = True

    _HANDLERS = {"content_block_start": _content_block_start,
                 "content_block_delta": _content_block_delta,
                 "content_block_stop": _content_block_stop,
                 "message_start": _message_start, "message_delta": _message_delta,
                 "message_stop": _message_stop}

    def _block(self, event):
        block = self.blocks.get(event.get("index"))
        if block is None:
            raise _malformed("an event for a content block that never started")
        return block

    def _set_usage(self, usage):
        for name in USAGE_FIELDS:
            value = (usage or {}).get(name)
            if isinstance(value, int):
                setattr(self.usage, name, value)

    def finish(self):
        """The message's content blocks; ProviderError if the stream did not end properly."""
        if not self.stopped:
            raise _malformed("the stream ended before message_stop")
        return self.content()

    def content(self):
        """The blocks so far, in order, without empty text blocks (the API rejects them)."""
        return [b for _, b in sorted(self.blocks.items())
                if not (b.get("type") == "text" and not b.get("text"))]


def _malformed(what):
    return ProviderError(f"the provider sent a malformed stream: {what}", error_type="api_error")
