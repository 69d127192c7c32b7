"""``OpenAIProvider``: any OpenAI-compatible Chat Completions server over httpx, streaming.

The ``openai`` SDK is not used; this module speaks the HTTP API directly:

- ``POST {base_url}/chat/completions`` with ``"stream": true`` and
  ``stream_options.include_usage``; ``base_url`` is the API root as every such server
  documents it (``https://api.openai.com/v1``, ``http://localhost:11434/v1``, ...).
- The request and the streamed chunks are translated to and from the provider contract's
  Anthropic-shaped events by ``blufio.plugins.openai.translate``; ``data: [DONE]`` ends the
  stream, and an ``{"error": ...}`` chunk raises ``ProviderError``.
- The API key is sent as ``Authorization: Bearer``; it may be empty for a local server, and
  is never logged or shown. ``headers`` adds fixed headers (OpenRouter's ``HTTP-Referer``,
  ``X-Title``).
- Retries and errors as the anthropic plugin's (``blufio.providers.post_stream``): 408, 409,
  429 (not an exhausted quota), 5xx and connection failures are retried before any output.
"""

import json
import logging

from blufio.errors import ConfigError, ProviderError, ProviderUnavailableError
from blufio.hints import command
from blufio.manifest import identity
from blufio.plugins.openai.prices import PRICES
from blufio.plugins.openai.translate import ChunkTranslator, chat_request
from blufio.providers import (HttpProvider, drain, post_stream, provider_error, read_body,
                              sse_frames, streaming_client, with_request_id)

log = logging.getLogger("blufio.openai")

# Error types in the Anthropic vocabulary ProviderError speaks, by HTTP status.
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                402: "billing_error", 403: "permission_error", 404: "not_found_error",
                408: "timeout_error", 413: "request_too_large", 422: "invalid_request_error",
                429: "rate_limit_error", 503: "overloaded_error", 529: "overloaded_error"}
_STATUS_WORDS = {400: "rejected the request", 401: "refused the API key",
                 403: "denied permission", 404: "does not know that model or path",
                 413: "found the request too large", 429: "is rate limiting this key",
                 503: "is unavailable", 529: "is overloaded"}
_FINAL_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
# A client's settings (Anthropic's names) that Chat Completions has a field for.
CHAT_OPTIONS = ("tool_choice", "stop_sequences", "temperature", "top_p")
OPENAI_HOST = "api.openai.com"
MISSING_KEY = ("no OpenAI API key is set; set OPENAI_API_KEY, or run '{command}', or put "
               "api_key under [openai] in the configuration file (a local server needs none: "
               "set [openai] base_url to it)")


class OpenAIProvider(HttpProvider):
    """The ``openai`` provider plugin (implements ``blufio.contracts.Provider``)."""

    name, version, adapter_type = identity("openai")
    prices = PRICES

    def __init__(self, config, **services):
        section = config.section("openai")
        self._api_key = section.get("api_key") or ""
        self.base_url = (section.get("base_url") or "https://api.openai.com/v1").rstrip("/")
        self.default_model = section.get("model") or "gpt-4.1-mini"
        self._is_openai = _host(self.base_url) == OPENAI_HOST
        # OpenAI's own API needs a key; other servers decide for themselves.
        self.missing_key = MISSING_KEY.format(command=command("config set-secret openai.api_key")) \
            if self._is_openai and not self._api_key else ""
        self.extra_headers = _parse_headers(section.get("headers") or [])
        self.configure_http(section, f"the OpenAI-compatible API at {_host(self.base_url)}",
                            "openai.base_url", log)
        field = section.get("max_tokens_field") or "auto"
        if field == "auto":
            field = "max_completion_tokens" if self._is_openai else "max_tokens"
        self.max_tokens_field = field
        include = section.get("include_usage")
        self.include_usage = True if include is None else bool(include)

    # --- plugin base ---

    # --- the provider ---

    def _http(self):
        if self._client is None:
            headers = dict(self.extra_headers)
            if self._api_key:
                headers["authorization"] = f"Bearer {self._api_key}"
            self._client = streaming_client(self.connect_timeout, self.read_timeout, headers)
        return self._client

    def request_body(self, *, model, system, messages, tools, max_tokens, options=None):
        """The Chat Completions body of one streaming call."""
        given = {name: value for name, value in (options or {}).items() if name in CHAT_OPTIONS}
        return chat_request(model=model, system=system, messages=messages, tools=tools,
                            max_tokens=max_tokens, max_tokens_field=self.max_tokens_field,
                            include_usage=self.include_usage, **given)

    async def stream(self, *, model, system, messages, tools, max_tokens, options=None):
        """Yield the Anthropic-shaped events of one streaming call.

        Of a client's ``options`` (Anthropic's names), ``tool_choice``, ``stop_sequences``,
        ``temperature`` and ``top_p`` are passed on; Chat Completions has no equivalent of
        the rest (``top_k``, ``thinking``, ``metadata``, betas), which are left out.
        """
        self.check_configured()
        body = json.dumps(self.request_body(model=model, system=system, messages=messages,
                                            tools=tools, max_tokens=max_tokens,
                                            options=options), ensure_ascii=False).encode()
        async for event in post_stream(self._http(), f"{self.base_url}/chat/completions", body,
                                       None, upstream=self.upstream, policy=self.policy,
                                       read_error=self._error, events=self._events):
            yield event

    async def count_tokens(self, *, model, system, messages, tools, options=None):
        """An estimate of the input tokens: Chat Completions has no counting endpoint, so
        the request's text is counted at about four characters a token."""
        body = chat_request(model=model, system=system, messages=messages, tools=tools,
                            max_tokens=1)
        text = json.dumps([body["messages"], body.get("tools", [])], ensure_ascii=False)
        return max(1, (len(text) + 3) // 4)

    async def _error(self, response):
        """A ProviderError from a non-200 reply and its ``{"error": {...}}`` envelope."""
        raw, text = await read_body(response)
        request_id = _request_id(response)
        error = {}
        try:
            error = json.loads(raw).get("error") or {}
            if isinstance(error, str):
                error = {"message": error}
        except (ValueError, AttributeError):
            error = {"message": text}
        status = response.status_code
        what = _STATUS_WORDS.get(status, "failed" if status >= 500 else "rejected the request")
        message = f"{self.upstream.label} {what} (HTTP {status})"
        if error.get("message"):
            message += f": {error['message']}"
        exc = provider_error(with_request_id(message, request_id), status=status,
                             error_type=_ERROR_TYPES.get(status, "api_error"),
                             request_id=request_id)
        if error.get("code") in _FINAL_CODES or error.get("type") in _FINAL_CODES:
            exc.final = True  # waiting does not refill a quota: no retry
        return exc

    async def _events(self, response):
        """The Anthropic-shaped events of a 200 reply's chunks."""
        request_id = _request_id(response)
        translator = ChunkTranslator()
        lines = response.aiter_lines()
        done = False
        async for _, data in sse_frames(lines):
            if data.strip() == "[DONE]":
                done = True
                break
            chunk = _decode(data, request_id)
            if chunk.get("error"):  # OpenRouter sends it beside a choice that finished
                raise _stream_error(chunk["error"], self.upstream.label, request_id)
            for event in translator.feed(chunk):
                yield event
        try:
            closing = translator.finish()
        except ProviderError as exc:
            raise ProviderUnavailableError(with_request_id(str(exc), request_id),
                                           error_type=exc.error_type,
                                           request_id=request_id) from None
        for event in closing:
            yield event
        if done:
            await drain(lines)


def _decode(data, request_id):
    try:
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            raise ValueError("not an object")
    except ValueError:
        raise ProviderError(with_request_id("the OpenAI-compatible API sent a malformed chunk",
                                            request_id),
                            error_type="api_error", request_id=request_id) from None
    return chunk


def _stream_error(error, label, request_id):
    """The ProviderError for an error chunk in the middle of a stream."""
    if not isinstance(error, dict):
        error = {"message": str(error)}
    kind = str(error.get("type") or error.get("code") or "api_error")
    text = f"{label} failed mid-stream ({kind}): {error.get('message') or 'no message'}"
    error_type = "overloaded_error" if "overload" in kind else "api_error"
    return provider_error(with_request_id(text, request_id), status=None,
                          error_type=error_type, request_id=request_id)


def _request_id(response):
    return response.headers.get("x-request-id") or response.headers.get("request-id")


def _host(url):
    from urllib.parse import urlsplit

    return urlsplit(url).netloc or url


def _parse_headers(lines):
    """``["Name: value", ...]`` as a dict; a line without a colon is a ConfigError."""
    headers = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise ConfigError(f"openai.headers: {line!r} is not 'Name: value'")
        headers[name.strip()] = value.strip()
    return headers
