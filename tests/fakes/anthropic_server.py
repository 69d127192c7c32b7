"""A fake Anthropic Messages API: a real HTTP server on ``127.0.0.1:<ephemeral>``.

It answers ``POST /v1/messages`` from a script of responses, one per request, and records
every request it receives. Use it from sync or async tests (it runs in its own thread)::

    from tests.fakes.anthropic_server import FakeAnthropic, text_reply, tool_use_reply, http_error

    with FakeAnthropic([http_error(529), text_reply("Hello!")]) as fake:
        ...  # point the client at fake.base_url (e.g. ANTHROPIC_BASE_URL=fake.base_url)
        assert fake.requests[-1].json["messages"][-1]["role"] == "user"

Script items are ``FakeResponse`` objects, built by the helpers below, or callables
``f(request) -> FakeResponse`` for replies that depend on the request. When the script runs
out, ``default`` answers (a callable or a response; by default a text reply echoing the last
user message as ``"echo: <text>"``). ``fake.add(...)`` appends to the script while it runs.

Streaming replies follow Anthropic's documented event sequence, every event with its
``event:`` line, chunked transfer encoding, and a ``request-id`` header. A request without
``"stream": true`` gets the equivalent JSON message. Failure modes: ``http_error`` (with
``retry-after``/``retry-after-ms`` headers), ``stream_error`` (a mid-stream ``error`` event),
``dropped`` (the connection closes mid-stream), ``slow_text_reply`` (a pause between deltas),
``stalled`` (headers and maybe some events, then silence), ``malformed`` (bytes that are not
SSE). ``POST /v1/messages/count_tokens`` answers a count (``tests.fakes.anthropic_model``).
"""

import itertools
import json
from typing import Optional

from tests.fakes.anthropic_model import answer, count_tokens, problem
from tests.fakes.scripted_server import (Drop, FakeResponse, RecordedRequest, Responder,
                                         ScriptedServer, Stall, wait_for)

__all__ = ["FakeAnthropic", "FakeResponse", "RecordedRequest", "Stall", "Drop", "wait_for",
           "sse", "message_events", "text_reply", "tool_use_reply", "http_error",
           "stream_error", "dropped", "stalled", "malformed", "echo"]

_ids = itertools.count(1)


# --- building responses ----------------------------------------------------------------------


def sse(event: str, data: dict) -> bytes:
    """One server-sent event, framed as Anthropic frames them."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _message_start(model, usage):
    return sse("message_start", {"type": "message_start", "message": {
        "id": f"msg_fake_{next(_ids)}", "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": usage.get("input_tokens", 10), "output_tokens": 1,
                  "cache_creation_input_tokens": usage.get("cache_creation_input_tokens", 0),
                  "cache_read_input_tokens": usage.get("cache_read_input_tokens", 0)}}})


def _text_block_events(index, text, chunk_size):
    parts = [sse("content_block_start", {"type": "content_block_start", "index": index,
                                         "content_block": {"type": "text", "text": ""}})]
    for start in range(0, len(text), chunk_size):
        parts.append(sse("content_block_delta", {
            "type": "content_block_delta", "index": index,
            "delta": {"type": "text_delta", "text": text[start:start + chunk_size]}}))
    parts.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    return parts


def _tool_block_events(index, tool_id, name, tool_input, chunk_size):
    encoded = json.dumps(tool_input)
    parts = [sse("content_block_start", {"type": "content_block_start", "index": index,
                                         "content_block": {"type": "tool_use", "id": tool_id,
                                                           "name": name, "input": {}}})]
    for start in range(0, len(encoded), chunk_size):
        parts.append(sse("content_block_delta", {
            "type": "content_block_delta", "index": index,
            "delta": {"type": "input_json_delta", "partial_json": encoded[start:start + chunk_size]}}))
    parts.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    return parts


def _finish(stop_reason, output_tokens, stop_sequence=None):
    return [sse("message_delta", {"type": "message_delta",
                                  "delta": {"stop_reason": stop_reason,
                                            "stop_sequence": stop_sequence},
                                  "usage": {"output_tokens": output_tokens}}),
            sse("message_stop", {"type": "message_stop"})]


def _headers(extra=None):
    headers = {"content-type": "text/event-stream", "cache-control": "no-cache",
               "request-id": f"req_fake_{next(_ids)}"}
    headers.update(extra or {})
    return headers


def message_events(blocks, *, model="claude-sonnet-4-5", stop_reason="end_turn", usage=None,
                   chunk_size=4, ping=True, stop_sequence=None):
    """The full event list (bytes parts) for a message made of ``blocks``.

    ``blocks`` are ``{"type": "text", "text": ...}`` or ``{"type": "tool_use", "id", "name",
    "input"}`` dicts; text streams in ``chunk_size``-character deltas, tool input as
    ``input_json_delta`` fragments of the JSON.
    """
    usage = usage or {}
    parts = [_message_start(model, usage)]
    if ping:
        parts.append(sse("ping", {"type": "ping"}))
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            parts += _text_block_events(index, block["text"], chunk_size)
        else:
            parts += _tool_block_events(index, block["id"], block["name"], block["input"],
                                        chunk_size)
    return parts + _finish(stop_reason, usage.get("output_tokens", 5), stop_sequence)


def text_reply(text, *, model="claude-sonnet-4-5", usage=None, chunk_size=4,
               stop_reason="end_turn", headers=None) -> FakeResponse:
    """A streamed assistant reply of plain ``text``."""
    return FakeResponse(headers=_headers(headers), parts=message_events(
        [{"type": "text", "text": text}], model=model, usage=usage, chunk_size=chunk_size,
        stop_reason=stop_reason), stream=True)


def slow_text_reply(text, *, pause=0.15, chunk_size=6, usage=None) -> FakeResponse:
    """A streamed reply of ``text`` with ``pause`` seconds between its deltas, so a client
    can see it arrive piece by piece (and stop it half-way)."""
    parts = []
    for part in text_reply(text, chunk_size=chunk_size, usage=usage).parts:
        parts.append(part)
        if b"content_block_delta" in part:
            parts.append(Stall(pause))
    return FakeResponse(headers=_headers(), parts=parts)


def paused_text_reply(text, until, *, chunk_size=6) -> FakeResponse:
    """A streamed reply of ``text`` that stops after its first delta until the
    ``threading.Event`` ``until`` is set: a turn a test holds in flight, then lets finish."""
    parts = text_reply(text, chunk_size=chunk_size).parts
    first = next(i for i, part in enumerate(parts) if b"content_block_delta" in part)
    return FakeResponse(headers=_headers(),
                        parts=[*parts[:first + 1], Stall(10.0, until=until), *parts[first + 1:]])


def tool_use_reply(name, tool_input, *, text="", tool_id=None, model="claude-sonnet-4-5",
                   usage=None, chunk_size=4) -> FakeResponse:
    """A streamed reply that asks for tool ``name`` with ``tool_input`` (after optional text)."""
    blocks = [{"type": "text", "text": text}] if text else []
    blocks.append({"type": "tool_use", "id": tool_id or f"toolu_fake_{next(_ids)}", "name": name,
                   "input": tool_input})
    return FakeResponse(headers=_headers(), parts=message_events(
        blocks, model=model, usage=usage, chunk_size=chunk_size, stop_reason="tool_use"))


def http_error(status, error_type=None, message=None, *, retry_after=None,
               retry_after_ms=None, headers=None) -> FakeResponse:
    """An error before the stream starts, in Anthropic's error envelope."""
    error_type = error_type or {400: "invalid_request_error", 401: "authentication_error",
                                403: "permission_error", 404: "not_found_error",
                                408: "timeout_error", 429: "rate_limit_error",
                                529: "overloaded_error"}.get(status, "api_error")
    message = message or f"fake {error_type}"
    request_id = f"req_fake_{next(_ids)}"
    extra = {"content-type": "application/json", "request-id": request_id}
    if retry_after is not None:
        extra["retry-after"] = str(retry_after)
    if retry_after_ms is not None:
        extra["retry-after-ms"] = str(retry_after_ms)
    extra.update(headers or {})
    body = json.dumps({"type": "error", "error": {"type": error_type, "message": message},
                       "request_id": request_id}).encode()
    return FakeResponse(status=status, headers=extra, parts=[body], stream=False)


def stream_error(partial_text="Hel", error_type="overloaded_error", message="Overloaded"):
    """A stream that starts a text reply, then sends an ``error`` event."""
    parts = [_message_start("claude-sonnet-4-5", {})]
    parts += _text_block_events(0, partial_text, 4)[:-1]  # the block never stops
    parts.append(sse("error", {"type": "error", "error": {"type": error_type, "message": message}}))
    return FakeResponse(headers=_headers(), parts=parts)


def dropped(partial_text="Hel"):
    """A stream whose connection closes after some text."""
    parts = [_message_start("claude-sonnet-4-5", {})]
    parts += _text_block_events(0, partial_text, 4)[:-1]
    return FakeResponse(headers=_headers(), parts=parts + [Drop()])


def stalled(partial_text=None, seconds=3600.0, before_headers=False):
    """Silence: before the status line (``before_headers``), or after some events."""
    if before_headers:
        return FakeResponse(headers=_headers(), delay=seconds, parts=message_events(
            [{"type": "text", "text": "late"}]))
    parts = [_message_start("claude-sonnet-4-5", {})]
    if partial_text:
        parts += _text_block_events(0, partial_text, 4)[:-1]
    return FakeResponse(headers=_headers(), parts=parts + [Stall(seconds)])


def malformed(partial_text="Hel"):
    """A stream that turns into bytes that are not valid events."""
    parts = [_message_start("claude-sonnet-4-5", {})]
    parts += _text_block_events(0, partial_text, 4)[:-1]
    parts.append(b"event: content_block_delta\ndata: {not json\n\n")
    return FakeResponse(headers=_headers(), parts=parts)


def echo(request: RecordedRequest) -> FakeResponse:
    """The default responder: ``echo: <the last user message's text>``, within the request's
    ``max_tokens`` and ``stop_sequences``, or a ``tool_use`` its ``tool_choice`` asks for
    (see ``tests.fakes.anthropic_model``)."""
    refused = problem(request.json or {})
    if refused:
        return http_error(400, "invalid_request_error", refused)
    blocks, stop_reason, stop_sequence, output_tokens = answer(request.json or {})
    return FakeResponse(headers=_headers(), parts=message_events(
        blocks, stop_reason=stop_reason, stop_sequence=stop_sequence,
        usage={"output_tokens": output_tokens}))


# --- the server --------------------------------------------------------------------------------


def _as_json(response: FakeResponse) -> FakeResponse:
    """The non-streaming form of a streamed message reply (for ``"stream": false``)."""
    message, blocks, partial = None, {}, {}
    for part in response.parts:
        if not isinstance(part, bytes):
            continue
        for frame in part.decode().split("\n\n"):
            data = next((line[6:] for line in frame.splitlines() if line.startswith("data: ")), None)
            if data is None:
                continue
            event = json.loads(data)
            kind = event["type"]
            if kind == "message_start":
                message = event["message"]
            elif kind == "content_block_start":
                blocks[event["index"]] = dict(event["content_block"])
            elif kind == "content_block_delta":
                delta = event["delta"]
                if delta["type"] == "text_delta":
                    blocks[event["index"]]["text"] += delta["text"]
                else:
                    partial[event["index"]] = partial.get(event["index"], "") + delta["partial_json"]
            elif kind == "message_delta":
                message.update(event["delta"])
                message["usage"].update(event["usage"])
    for index, text in partial.items():
        blocks[index]["input"] = json.loads(text)
    message["content"] = [blocks[i] for i in sorted(blocks)]
    headers = {k: v for k, v in response.headers.items() if k != "content-type"}
    headers["content-type"] = "application/json"
    return FakeResponse(status=200, headers=headers, parts=[json.dumps(message).encode()],
                        stream=False)


class FakeAnthropic(ScriptedServer):
    """The fake Messages API (see ``ScriptedServer`` for the lifecycle and scripting)."""

    route = "/v1/messages"
    thread_name = "fake-anthropic"

    def __init__(self, script=(), *, default: Optional[Responder] = echo, api_key=None):
        super().__init__(script, default=default, api_key=api_key)

    @property
    def base_url(self) -> str:
        """The API root, without ``/v1`` (what ``ANTHROPIC_BASE_URL`` takes)."""
        return self.root_url

    @property
    def message_requests(self) -> list:
        """The ``POST /v1/messages`` requests received."""
        return self.route_requests

    def side_route(self, request):
        """``POST /v1/messages/count_tokens`` is answered with a count, never scripted."""
        if request.path.split("?")[0] != "/v1/messages/count_tokens":
            return None
        body = json.dumps({"input_tokens": count_tokens(request.json or {})}).encode()
        return FakeResponse(headers={"content-type": "application/json",
                                     "request-id": f"req_fake_{next(_ids)}"}, parts=[body],
                            stream=False)

    def error_response(self, status, message):
        kind = {401: "authentication_error", 404: "not_found_error"}.get(status, "api_error")
        if status == 401:
            message = "invalid x-api-key"
        return http_error(status, kind, message)

    def adapt(self, request, response):
        wants_stream = bool((request.json or {}).get("stream"))
        plain = all(isinstance(part, bytes) for part in response.parts)
        if not wants_stream and response.stream and response.status == 200 and plain:
            return _as_json(response)
        return response
