"""Anthropic's Messages API shapes: reading a request, writing a message, framing SSE.

Pure functions and small classes, no I/O: the routes in ``app.py`` feed them.
"""

import json
import secrets

from blufio.plugins.gateway.errors import GatewayError
from blufio.plugins.gateway.limits import decode_json

_ROLES = ("user", "assistant")


class MessagesRequest:
    """A checked ``POST /v1/messages`` body. Fields Blufio does not use are ignored, as
    Anthropic's SDKs send only what the caller set."""

    __slots__ = ("messages", "stream", "model", "max_tokens")

    def __init__(self, messages, stream, model, max_tokens):
        self.messages = messages  # [{"role", "content": [blocks]}], the last one a user turn
        self.stream = stream
        self.model = model
        self.max_tokens = max_tokens

    @property
    def history(self):
        """Every message before the new turn."""
        return self.messages[:-1]

    @property
    def turn(self):
        """The new turn's content blocks."""
        return self.messages[-1]["content"]


def parse_body(raw):
    """Decode a request body as a JSON object, or raise a 400 that says what is wrong."""
    if not raw or not raw.strip():
        raise GatewayError(400, "the request body is empty; send a JSON object")
    body = decode_json(raw, "the request body")
    if not isinstance(body, dict):
        raise GatewayError(400, "the request body must be a JSON object")
    return body


def _fail(field, problem):
    raise GatewayError(400, f"{field}: {problem}")


def parse_messages_request(body, wants_event_stream=False):
    """Check a Messages API body; raise a 400 naming the first field at fault."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        _fail("model", "field required: a model name string")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        _fail("max_tokens", "field required: an integer of at least 1")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        _fail("stream", "must be true or false")
    messages = _parse_messages(body.get("messages"))
    if "system" in body and not isinstance(body["system"], (str, list)):
        _fail("system", "must be a string or a list of text blocks")
    return MessagesRequest(messages, stream or wants_event_stream, model, max_tokens)


def _parse_messages(messages):
    if not isinstance(messages, list) or not messages:
        _fail("messages", "field required: a non-empty list of messages")
    checked = []
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        if not isinstance(message, dict):
            _fail(where, "must be an object with 'role' and 'content'")
        if message.get("role") not in _ROLES:
            _fail(f"{where}.role", "must be 'user' or 'assistant'")
        checked.append({"role": message["role"],
                        "content": parse_content(message.get("content"), f"{where}.content")})
    if checked[-1]["role"] != "user":
        _fail(f"messages.{len(checked) - 1}.role", "the last message must be from the user")
    return checked


def parse_content(content, where="content"):
    """A message's content as content blocks: a non-empty string, or a non-empty list of
    blocks that each have a ``type`` (and a text block its ``text``). Else a 400 naming
    ``where``. The one check of content, for HTTP and ``/ws`` alike."""
    if isinstance(content, str):
        if not content:
            _fail(where, "must not be empty")
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not content:
        _fail(where, "must be a string or a non-empty list of content blocks")
    for index, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            _fail(f"{where}.{index}", "must be a content block object with a 'type'")
        if block["type"] == "text" and not isinstance(block.get("text"), str):
            _fail(f"{where}.{index}.text", "field required: a string")
    return content


def new_message_id():
    return "msg_" + secrets.token_hex(12)


def message_body(message_id, model, text, stop_reason, usage):
    """The complete non-streaming response body."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}] if text else [],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


def sse(event, data):
    """One server-sent event, with its ``event:`` line (the SDK drops events without one)."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class EventStream:
    """Writes the Messages API event sequence for one streamed reply.

    ``start`` → ``text`` (any number) → ``finish`` (or ``error``); one text content block at
    index 0, opened by its first delta.
    """

    def __init__(self, message_id, model):
        self.message_id = message_id
        self.model = model
        self._block_open = False

    def start(self):
        message = message_body(self.message_id, self.model, "", None,
                               {"input_tokens": 0, "output_tokens": 0})
        return sse("message_start", {"type": "message_start", "message": message})

    def text(self, text):
        out = b""
        if not self._block_open:
            self._block_open = True
            out += sse("content_block_start", {"type": "content_block_start", "index": 0,
                                               "content_block": {"type": "text", "text": ""}})
        return out + sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                 "delta": {"type": "text_delta", "text": text}})

    def finish(self, stop_reason, usage):
        out = self._close_block()
        out += sse("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                     "usage": usage})
        return out + sse("message_stop", {"type": "message_stop"})

    def error(self, error_type, message):
        return self._close_block() + sse("error", {"type": "error", "error": {
            "type": error_type, "message": message}})

    @staticmethod
    def ping():
        return sse("ping", {"type": "ping"})

    def _close_block(self):
        if not self._block_open:
            return b""
        self._block_open = False
        return sse("content_block_stop", {"type": "content_block_stop", "index": 0})
