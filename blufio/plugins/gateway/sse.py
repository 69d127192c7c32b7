"""Writing Anthropic's Messages API responses: the message body, and its server-sent events.

Pure functions and a small class, no I/O: ``replies`` feeds them a turn's outcome.
"""

import json
import secrets


def new_message_id():
    return "msg_" + secrets.token_hex(12)


def reply_content(text, tool_uses=()):
    """A reply's content blocks as a client sees them: the turn's text, then the client tool
    calls it ended on. Server tool rounds are not shown (their text is part of ``text``)."""
    content = [{"type": "text", "text": text}] if text else []
    return content + [{"type": "tool_use", "id": b.get("id", ""), "name": b.get("name", ""),
                       "input": b.get("input") or {}} for b in tool_uses]


def message_body(message_id, model, content, stop_reason, usage, stop_sequence=None):
    """The complete non-streaming response body."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage,
    }


def sse(event, data):
    """One server-sent event, with its ``event:`` line (the SDK drops events without one)."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class EventStream:
    """Writes the Messages API event sequence for one streamed reply.

    ``start`` → ``text`` (any number) → ``finish`` (or ``error``). The text is one block at
    index 0, opened by its first delta; the client tool calls given to ``finish`` follow as
    ``tool_use`` blocks, their input in one ``input_json_delta``.
    """

    def __init__(self, message_id, model):
        self.message_id = message_id
        self.model = model
        self._block_open = False
        self._blocks = 0

    def start(self):
        message = message_body(self.message_id, self.model, [], None,
                               {"input_tokens": 0, "output_tokens": 0})
        return sse("message_start", {"type": "message_start", "message": message})

    def text(self, text):
        out = b""
        if not self._block_open:
            out += self._open({"type": "text", "text": ""})
        return out + sse("content_block_delta", {"type": "content_block_delta",
                                                 "index": self._blocks - 1,
                                                 "delta": {"type": "text_delta", "text": text}})

    def finish(self, stop_reason, usage, stop_sequence=None, tool_uses=()):
        out = self._close_block()
        for block in reply_content("", tool_uses):
            out += self._open({**block, "input": {}})
            out += sse("content_block_delta", {"type": "content_block_delta",
                                               "index": self._blocks - 1, "delta": {
                                                   "type": "input_json_delta",
                                                   "partial_json": json.dumps(block["input"])}})
            out += self._close_block()
        out += sse("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": stop_reason,
                                               "stop_sequence": stop_sequence},
                                     "usage": usage})
        return out + sse("message_stop", {"type": "message_stop"})

    def error(self, error_type, message):
        return self._close_block() + sse("error", {"type": "error", "error": {
            "type": error_type, "message": message}})

    @staticmethod
    def ping():
        return sse("ping", {"type": "ping"})

    def _open(self, block):
        self._block_open = True
        self._blocks += 1
        return sse("content_block_start", {"type": "content_block_start",
                                           "index": self._blocks - 1, "content_block": block})

    def _close_block(self):
        if not self._block_open:
            return b""
        self._block_open = False
        return sse("content_block_stop", {"type": "content_block_stop", "index": self._blocks - 1})
