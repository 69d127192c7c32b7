"""A fake OpenAI Chat Completions API: a real HTTP server on ``127.0.0.1:<ephemeral>``.

It answers ``POST /v1/chat/completions`` from a script of responses, one per request, and
records every request (see ``tests.fakes.scripted_server`` for the scripting)::

    from tests.fakes.openai_server import FakeOpenAI, text_reply, tool_calls_reply, http_error

    with FakeOpenAI([http_error(429, retry_after=0), text_reply("Hello!")]) as fake:
        ...  # point the client at fake.base_url (the API root with /v1)
        assert fake.chat_requests[-1].json["messages"][-1]["role"] == "user"

Streaming replies are ``data: <chunk>`` server-sent events ending with ``data: [DONE]``, as
OpenAI sends them: a first chunk with the role, content deltas, tool-call deltas, a chunk
with the ``finish_reason``, and, when the request asked for ``stream_options.include_usage``,
a last chunk with empty ``choices`` and the ``usage``. Tool calls are sent the way different
servers send them (``tool_calls_reply(style=...)``): ``"split"`` (OpenAI: id and name first,
then argument fragments, by index), ``"whole"`` (each call complete in one chunk), or
``"index0"`` (every call at index 0, told apart by its id). Failure modes: ``http_error``
(OpenAI's error envelope, with ``retry-after``), ``stream_error`` (an ``error`` chunk after
some text), ``dropped``, ``stalled``, ``malformed``, ``unfinished`` (``[DONE]`` without a
``finish_reason``).
"""

import itertools
import json

from tests.fakes.scripted_server import Drop, FakeResponse, ScriptedServer, Stall

_ids = itertools.count(1)
MODEL = "gpt-4.1-mini"


class UsageChunk(bytes):
    """The usage-only chunk: sent only when the request asked for it."""


def data(payload) -> bytes:
    """One server-sent event as OpenAI frames it (no ``event:`` line)."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {text}\n\n".encode()


def chunk(delta=None, *, finish_reason=None, model=MODEL, completion_id="chatcmpl-fake"):
    """One ``chat.completion.chunk`` with a single choice."""
    return data({"id": completion_id, "object": "chat.completion.chunk", "created": 1700000000,
                 "model": model, "choices": [{"index": 0, "delta": delta or {},
                                              "finish_reason": finish_reason}]})


def usage_chunk(prompt_tokens=10, completion_tokens=5, cached_tokens=0, model=MODEL,
                completion_id="chatcmpl-fake"):
    return UsageChunk(data({
        "id": completion_id, "object": "chat.completion.chunk", "created": 1700000000,
        "model": model, "choices": [],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens,
                  "prompt_tokens_details": {"cached_tokens": cached_tokens}}}))


def _headers(extra=None):
    headers = {"content-type": "text/event-stream", "cache-control": "no-cache",
               "x-request-id": f"req_fake_{next(_ids)}"}
    headers.update(extra or {})
    return headers


def _text_chunks(text, chunk_size, ids):
    return [chunk({"content": text[i:i + chunk_size]}, **ids)
            for i in range(0, len(text), chunk_size)]


def reply(parts, *, finish_reason, usage=None, model=MODEL, done=True) -> FakeResponse:
    """A streamed reply: the role chunk, ``parts``, the finish chunk, usage, ``[DONE]``."""
    usage = usage or {}
    ids = {"model": model, "completion_id": f"chatcmpl-fake{next(_ids)}"}
    body = [chunk({"role": "assistant", "content": ""}, **ids), *parts,
            chunk({}, finish_reason=finish_reason, **ids),
            usage_chunk(usage.get("prompt_tokens", 10), usage.get("completion_tokens", 5),
                        usage.get("cached_tokens", 0), **ids)]
    return FakeResponse(headers=_headers(), parts=body + ([data("[DONE]")] if done else []))


def text_reply(text, *, model=MODEL, usage=None, chunk_size=4, finish_reason="stop"):
    """A streamed assistant reply of plain ``text``."""
    return reply(_text_chunks(text, chunk_size, {"model": model}), finish_reason=finish_reason,
                 usage=usage, model=model)


def tool_calls_reply(calls, *, text="", style="split", chunk_size=6, model=MODEL, usage=None,
                     finish_reason="tool_calls"):
    """A reply asking for ``calls`` (``(name, arguments dict[, id])`` each), after ``text``."""
    parts = _text_chunks(text, 4, {"model": model}) if text else []
    for index, call in enumerate(calls):
        name, arguments = call[0], json.dumps(call[1])
        call_id = call[2] if len(call) > 2 else f"call_fake{next(_ids)}"
        at = 0 if style == "index0" else index
        if style == "whole":
            parts.append(chunk({"tool_calls": [{"index": at, "id": call_id, "type": "function",
                                                "function": {"name": name,
                                                             "arguments": arguments}}]}))
            continue
        parts.append(chunk({"tool_calls": [{"index": at, "id": call_id, "type": "function",
                                            "function": {"name": name, "arguments": ""}}]}))
        for start in range(0, len(arguments), chunk_size):
            parts.append(chunk({"tool_calls": [{"index": at, "function": {
                "arguments": arguments[start:start + chunk_size]}}]}))
    return reply(parts, finish_reason=finish_reason, usage=usage, model=model)


def http_error(status, message=None, *, error_type=None, code=None, retry_after=None,
               headers=None) -> FakeResponse:
    """An error before the stream starts, in OpenAI's error envelope."""
    error_type = error_type or {400: "invalid_request_error", 401: "invalid_request_error",
                                429: "rate_limit_exceeded"}.get(status, "server_error")
    extra = {"content-type": "application/json", "x-request-id": f"req_fake_{next(_ids)}"}
    if retry_after is not None:
        extra["retry-after"] = str(retry_after)
    extra.update(headers or {})
    body = json.dumps({"error": {"message": message or f"fake {error_type}", "type": error_type,
                                 "param": None, "code": code}}).encode()
    return FakeResponse(status=status, headers=extra, parts=[body], stream=False)


def _partial(text):
    return [chunk({"role": "assistant", "content": ""}), *_text_chunks(text, 4, {})]


def stream_error(partial_text="Hel", message="The server is overloaded", error_type="server_error"):
    """Some text, then an ``{"error": ...}`` chunk (how OpenAI-compatible servers fail
    mid-stream)."""
    return FakeResponse(headers=_headers(), parts=[
        *_partial(partial_text), data({"error": {"message": message, "type": error_type}})])


def openrouter_error(partial_text="Hel", message="Provider disconnected"):
    """Some text, then OpenRouter's mid-stream error: an ``error`` beside a choice whose
    ``finish_reason`` is ``"error"``."""
    failed = json.loads(chunk({"content": ""}, finish_reason="error")[6:])
    failed["error"] = {"code": 502, "message": message}
    return FakeResponse(headers=_headers(), parts=[*_partial(partial_text), data(failed)])


def dropped(partial_text="Hel"):
    """A stream whose connection closes after some text."""
    return FakeResponse(headers=_headers(), parts=[*_partial(partial_text), Drop()])


def stalled(partial_text=None, seconds=3600.0, before_headers=False):
    """Silence: before the status line (``before_headers``), or after some chunks."""
    if before_headers:
        late = text_reply("late")
        late.delay = seconds
        return late
    parts = _partial(partial_text) if partial_text else []
    return FakeResponse(headers=_headers(), parts=[*parts, Stall(seconds)])


def malformed(partial_text="Hel"):
    """A stream that turns into bytes that are not JSON."""
    return FakeResponse(headers=_headers(), parts=[*_partial(partial_text), b"data: {not json\n\n"])


def unfinished(partial_text="Hel"):
    """``[DONE]`` without any ``finish_reason``: the reply was cut short."""
    return FakeResponse(headers=_headers(), parts=[*_partial(partial_text), data("[DONE]")])


def echo(request) -> FakeResponse:
    """The default responder: ``echo: <the last user message's text>``."""
    content = ((request.json or {}).get("messages") or [{}])[-1].get("content") or ""
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if p.get("type") == "text")
    return text_reply(f"echo: {content}")


class FakeOpenAI(ScriptedServer):
    """The fake Chat Completions API; ``prefix`` is the API root's path (``/v1``, or e.g.
    ``/v1beta/openai`` like Gemini's)."""

    thread_name = "fake-openai"

    def __init__(self, script=(), *, default=echo, api_key=None, prefix="/v1"):
        super().__init__(script, default=default, api_key=api_key)
        self.prefix = prefix
        self.route = f"{prefix}/chat/completions"

    @property
    def base_url(self) -> str:
        """The API root, with its version path (what ``[openai] base_url`` takes)."""
        return self.root_url + self.prefix

    @property
    def chat_requests(self) -> list:
        """The ``POST .../chat/completions`` requests received."""
        return self.route_requests

    def error_response(self, status, message):
        return http_error(status, message, code="invalid_api_key" if status == 401 else None)

    def adapt(self, request, response):
        body = request.json or {}
        if response.status == 200 and not body.get("stream"):
            return http_error(400, "this fake answers only streaming requests")
        if not (body.get("stream_options") or {}).get("include_usage"):
            parts = [p for p in response.parts if not isinstance(p, UsageChunk)]
            response = FakeResponse(response.status, response.headers, parts, response.stream,
                                    response.delay)
        return response
