"""Anthropic's shapes to OpenAI's Chat Completions and back: pure functions, no I/O.

``chat_request`` turns a request in the provider contract's vocabulary (Anthropic's Messages
API: ``system``, messages of content blocks, ``tools``, ``tool_choice``, ``max_tokens``,
``stop_sequences``, ``temperature``) into a Chat Completions body:

- ``system`` text → a ``system`` message; text blocks → the message's text (a string when a
  message is only text, so servers without content parts understand it);
- ``image`` blocks (base64 or URL) → ``image_url`` parts (a ``data:`` URL for base64);
- an assistant's ``tool_use`` blocks → its ``tool_calls`` (arguments as a JSON string);
- a user's ``tool_result`` blocks → ``tool`` messages (which must follow the assistant's call
  at once), before the rest of that user message; an error result says so in its text,
  and images in a result follow as a user message (tool messages carry text only);
- ``thinking`` blocks (from another provider's earlier answer) are left out;
- ``tool_choice`` ``auto``/``any``/``tool``/``none`` → ``auto``/``required``/a named
  function/``none``; ``disable_parallel_tool_use`` → ``parallel_tool_calls: false``.

``ChunkTranslator`` turns the streamed ``chat.completion.chunk`` objects back into
Anthropic's events (``message_start``, content blocks, ``message_delta``, ``message_stop``):
text streams as it comes; tool calls are assembled from their ``tool_calls`` deltas and
passed on whole when the choice finishes, because servers differ in how they send them
(fragments by ``index``, a whole call in one chunk, several calls all at index 0, no index
at all): a delta that carries a new ``id`` starts a new call, one without an id continues
the call with its index (or the last call). ``finish_reason`` maps to ``stop_reason``
(``stop`` → ``end_turn``, ``length`` → ``max_tokens``, ``tool_calls`` → ``tool_use``,
``content_filter`` → ``refusal``), and usage (``prompt_tokens`` less its cached part is
``input_tokens``; ``cached_tokens`` is ``cache_read_input_tokens``) is reported in the final
``message_delta``, wherever in the stream it arrived.
"""

import json
import re

from blufio.errors import ProviderError

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                "function_call": "tool_use", "content_filter": "refusal"}
_TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}
_SKIPPED_BLOCKS = frozenset({"thinking", "redacted_thinking"})


def chat_request(*, model, system, messages, tools, max_tokens, tool_choice=None,
                 stop_sequences=None, temperature=None, top_p=None,
                 max_tokens_field="max_tokens", include_usage=True):
    """The Chat Completions body (a dict) for one streaming call."""
    body = {"model": model, "messages": chat_messages(system, messages), "stream": True,
            max_tokens_field: max_tokens}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    if tools:
        body["tools"] = [_function(tool) for tool in tools]
        if tool_choice:
            body.update(_tool_choice(tool_choice))
    if stop_sequences:
        body["stop"] = list(stop_sequences)
    if temperature is not None:
        body["temperature"] = temperature
    if top_p is not None:
        body["top_p"] = top_p
    return body


def chat_messages(system, messages):
    """The ``messages`` list: the system prompt, then each message translated."""
    out = []
    system_text = system if isinstance(system, str) else _joined_text(system or [])
    if system_text:
        out.append({"role": "system", "content": system_text})
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            out.append({"role": message["role"], "content": content})
        elif message["role"] == "assistant":
            out.append(_assistant(content))
        else:
            out.extend(_user(content))
    return out


def _assistant(blocks):
    text, calls = [], []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            text.append(block.get("text", ""))
        elif kind == "tool_use":
            calls.append({"id": block["id"], "type": "function", "function": {
                "name": block["name"],
                "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False)}})
        elif kind not in _SKIPPED_BLOCKS:
            raise _unsupported(kind, "an assistant message")
    message = {"role": "assistant", "content": "\n".join(text) if text else None}
    if calls:
        message["tool_calls"] = calls
    elif message["content"] is None:
        message["content"] = ""
    return message


def _user(blocks):
    """A user message's blocks: its tool results as ``tool`` messages, then the rest."""
    tool_messages, parts = [], []
    for block in blocks:
        kind = block.get("type")
        if kind == "tool_result":
            text, images = _tool_result(block)
            tool_messages.append({"role": "tool", "tool_call_id": block["tool_use_id"],
                                  "content": text})
            parts.extend(images)
        elif kind == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif kind == "image":
            parts.append(_image(block))
        elif kind not in _SKIPPED_BLOCKS:
            raise _unsupported(kind, "a user message")
    if not parts:
        return tool_messages
    if all(part["type"] == "text" for part in parts):
        return [*tool_messages, {"role": "user",
                                 "content": "\n".join(part["text"] for part in parts)}]
    return [*tool_messages, {"role": "user", "content": parts}]


def _tool_result(block):
    """``(text, image parts)`` of a ``tool_result`` block."""
    content = block.get("content")
    if content is None:
        content = []
    elif isinstance(content, str):
        content = [{"type": "text", "text": content}]
    texts = [b.get("text", "") for b in content if b.get("type") == "text"]
    images = [_image(b) for b in content if b.get("type") == "image"]
    text = "\n".join(texts)
    if block.get("is_error"):
        text = f"Error: {text}" if text else "Error"
    return text, images


def _image(block):
    source = block.get("source") or {}
    if source.get("type") == "url":
        url = source.get("url", "")
    else:
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    return {"type": "image_url", "image_url": {"url": url}}


def _function(tool):
    if "input_schema" not in tool:
        raise _unsupported(tool.get("type") or tool.get("name"), "the tool list")
    function = {"name": tool["name"], "parameters": tool["input_schema"]}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _tool_choice(choice):
    kind = choice.get("type")
    fields = {}
    if kind == "tool":
        fields["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    elif kind in _TOOL_CHOICES:
        fields["tool_choice"] = _TOOL_CHOICES[kind]
    if choice.get("disable_parallel_tool_use"):
        fields["parallel_tool_calls"] = False
    return fields


def _joined_text(blocks):
    return "\n".join(b.get("text", "") for b in blocks if b.get("type") == "text")


def _unsupported(kind, where):
    return ProviderError(f"an OpenAI-compatible provider cannot take a {kind!r} block in "
                         f"{where}", error_type="invalid_request_error", http_status=400,
                         http_error_type="invalid_request_error")


# --- the stream back -------------------------------------------------------------------------


class ChunkTranslator:
    """Feed it each decoded chunk; it returns the Anthropic-shaped events to pass on."""

    def __init__(self):
        self.started = False
        self.text_open = False
        self.calls = []          # [{"id", "name", "arguments", "index"}], in arrival order
        self.finish_reason = None
        self.usage = None
        self.block_count = 0

    def feed(self, chunk):
        """The events one chunk adds (the first chunk also starts the message)."""
        events = []
        if not self.started:
            self.started = True
            events.append(_message_start(chunk))
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # only one choice is asked for; ignore any other
            events.extend(self._delta(choice.get("delta") or {}))
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def _delta(self, delta):
        events = []
        text = delta.get("content") or delta.get("refusal")
        if text:
            if not self.text_open:
                self.text_open = True
                self.block_count = 1
                events.append({"type": "content_block_start", "index": 0,
                               "content_block": {"type": "text", "text": ""}})
            events.append({"type": "content_block_delta", "index": 0,
                           "delta": {"type": "text_delta", "text": text}})
        for fragment in delta.get("tool_calls") or ():
            self._tool_fragment(fragment)
        return events

    def _tool_fragment(self, fragment):
        function = fragment.get("function") or {}
        index = fragment.get("index")
        call = self._call_for(fragment.get("id"), index, bool(function.get("name")))
        call["name"] += function.get("name") or ""
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # a few servers send the object itself
            arguments = json.dumps(arguments)
        call["arguments"] += arguments or ""

    def _call_for(self, call_id, index, named):
        """The call a fragment belongs to: a new id, or a name without an id after a
        named call, starts one; a fragment without an id continues one."""
        if call_id:
            for call in reversed(self.calls):
                if call["id"] == _safe_id(call_id):
                    return call
        elif self.calls and not (named and self.calls[-1]["name"]):
            same_index = [c for c in self.calls if c["index"] == index]
            return (same_index or self.calls)[-1]
        call = {"id": _safe_id(call_id) or f"call_{len(self.calls)}", "name": "",
                "arguments": "", "index": index}
        self.calls.append(call)
        return call

    def finish(self):
        """The closing events; ``ProviderError`` when the stream never finished a choice."""
        if not self.started or self.finish_reason is None:
            raise ProviderError("the OpenAI-compatible stream ended before the reply was "
                                "complete", error_type="api_connection_error")
        if self.finish_reason == "error":
            raise ProviderError("the OpenAI-compatible server ended the reply with an error",
                                error_type="api_error")
        events = []
        if self.text_open:
            events.append({"type": "content_block_stop", "index": 0})
        for call in self.calls:
            events.extend(self._tool_block(call))
        stop_reason = STOP_REASONS.get(self.finish_reason, "end_turn")
        if self.calls and stop_reason == "end_turn":
            stop_reason = "tool_use"  # some servers say "stop" after a tool call
        events.append({"type": "message_delta",
                       "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                       "usage": anthropic_usage(self.usage)})
        events.append({"type": "message_stop"})
        return events

    def _tool_block(self, call):
        index = self.block_count
        self.block_count += 1
        if not call["name"]:
            raise ProviderError("the OpenAI-compatible stream sent a tool call without a name",
                                error_type="api_error")
        yield {"type": "content_block_start", "index": index, "content_block": {
            "type": "tool_use", "id": call["id"], "name": call["name"], "input": {}}}
        if call["arguments"].strip():
            yield {"type": "content_block_delta", "index": index,
                   "delta": {"type": "input_json_delta", "partial_json": call["arguments"]}}
        yield {"type": "content_block_stop", "index": index}


def _safe_id(call_id):
    """A call id Anthropic would accept too (letters, digits, ``_`` and ``-``), so a
    conversation can move between providers."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", call_id or "")


def _message_start(chunk):
    return {"type": "message_start", "message": {
        "id": chunk.get("id") or "chatcmpl", "type": "message", "role": "assistant",
        "model": chunk.get("model") or "", "content": [], "stop_reason": None,
        "stop_sequence": None, "usage": anthropic_usage(None)}}


def anthropic_usage(usage):
    """OpenAI's usage object in Anthropic's four counts (cached prompt tokens apart)."""
    usage = usage or {}
    prompt = usage.get("prompt_tokens") or 0
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return {"input_tokens": max(0, prompt - cached),
            "output_tokens": usage.get("completion_tokens") or 0,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": cached}
