"""``AnthropicProvider``: Anthropic's Messages API over httpx, streaming, with tool use.

The ``anthropic`` SDK is not used; this module speaks the HTTP API directly:

- ``POST {base_url}/v1/messages`` with ``"stream": true``; the server-sent events are parsed
  line by line (``event:``/``data:`` fields, blank-line dispatch, ``:`` comments) and passed
  on as dicts (see ``blufio.contracts.Provider``). ``ping`` is swallowed; an ``error`` event
  raises ``ProviderError``; a stream that ends without ``message_stop`` raises too.
- Prompt caching: ``cache_control: {"type": "ephemeral"}`` marks the end of the tools, the end
  of the system prompt and the last message, so the stable prefix (and the conversation so
  far) is read from the cache on the next call instead of being billed in full.
- Retries, as every HTTP provider's (``blufio.providers.post_stream``): 408, 409, 429, 5xx
  (529 included) and connection failures are retried up to ``max_retries`` times with
  jittered exponential backoff, honouring ``retry-after-ms``/``retry-after`` and
  ``x-should-retry``. Nothing is retried once an event has been passed on.
- A client's settings (``options``: ``tool_choice``, ``stop_sequences``, sampling,
  ``thinking``, ``metadata``) go into the body as they are; of its beta flags only those in
  ``KNOWN_BETAS`` are sent as ``anthropic-beta`` (an unknown or account-specific flag could
  change what the upstream does, e.g. its authentication), the others are dropped.
- ``count_tokens`` asks ``POST /v1/messages/count_tokens``, with the same retries.
- Every failure is a ``ProviderError`` carrying the upstream message, HTTP status, error
  type and ``request-id``; ``blufio.providers.provider_error`` says, once, what it means for
  Blufio (its class, and the HTTP answer the gateway gives its own clients).
- The API key is sent in a header and never logged or shown. Set to ``""`` on purpose, no
  key is sent (a local server that speaks the Messages API, e.g. Ollama with ``base_url``).
"""

import json
import logging

from blufio.errors import ProviderError, ProviderUnavailableError
from blufio.hints import command
from blufio.manifest import identity
from blufio.plugins.anthropic.prices import PRICES
from blufio.providers import (HttpProvider, drain, post_json, post_stream, provider_error,
                              read_body, sse_frames, streaming_client, with_request_id)

log = logging.getLogger("blufio.anthropic")

API_VERSION = "2023-06-01"
# Client settings copied into the request body (Anthropic's names).
BODY_OPTIONS = ("tool_choice", "stop_sequences", "temperature", "top_p", "top_k", "thinking",
                "metadata")
# Beta flags forwarded when a client sends them.
KNOWN_BETAS = frozenset({
    "prompt-caching-2024-07-31", "token-efficient-tools-2025-02-19",
    "fine-grained-tool-streaming-2025-05-14", "interleaved-thinking-2025-05-14",
    "output-128k-2025-02-19", "extended-cache-ttl-2025-04-11", "context-1m-2025-08-07",
    "context-management-2025-06-27", "pdfs-2024-09-25", "files-api-2025-04-14",
    "search-results-2025-06-09",
})

MISSING_KEY = ("no Anthropic API key is set; set ANTHROPIC_API_KEY, or run '{command}', or "
               "put api_key under [anthropic] in the configuration file")

_STATUS_WORDS = {400: "rejected the request", 401: "refused the API key",
                 403: "denied permission", 404: "does not know that resource",
                 413: "found the request too large", 429: "is rate limiting this key",
                 529: "is overloaded"}


class AnthropicProvider(HttpProvider):
    """The ``anthropic`` provider plugin (implements ``blufio.contracts.Provider``)."""

    name, version, adapter_type = identity("anthropic")
    prices = PRICES

    def __init__(self, config, **services):
        section = config.section("anthropic")
        self._api_key = section.get("api_key") or ""
        # No key set anywhere is a mistake; ``api_key = ""`` on purpose is a local server.
        self.missing_key = "" if self._api_key or config.is_set("anthropic.api_key") \
            else MISSING_KEY.format(command=command("config set-secret anthropic.api_key"))
        self.base_url = (section.get("base_url") or "https://api.anthropic.com").rstrip("/")
        if self.base_url.endswith("/v1"):
            self.base_url = self.base_url[:-3]
        self.default_model = section.get("model") or "claude-sonnet-4-5"
        self.configure_http(section, "the Anthropic API", "anthropic.base_url", log)

    # --- the provider (the plugin base is HttpProvider's) ---

    def _http(self):
        if self._client is None:
            self._client = streaming_client(self.connect_timeout, self.read_timeout,
                                            {"anthropic-version": API_VERSION})
        return self._client

    def request_body(self, *, model, system, messages, tools, max_tokens, options=None):
        """The JSON body of one streaming call, with prompt-caching marks added."""
        body = {"model": model, "max_tokens": max_tokens, "stream": True,
                "messages": _mark_last_message(messages)}
        if system:
            body["system"] = _mark_last(system)
        if tools:
            body["tools"] = _mark_last(tools)
        body.update({name: value for name, value in (options or {}).items()
                     if name in BODY_OPTIONS})
        return body

    def _headers(self, options):
        headers = {"x-api-key": self._api_key} if self._api_key else {}
        betas = [beta for beta in (options or {}).get("betas", ()) if beta in KNOWN_BETAS]
        if betas:
            headers["anthropic-beta"] = ",".join(dict.fromkeys(betas))
        return headers

    async def stream(self, *, model, system, messages, tools, max_tokens, options=None):
        """Yield the events of one streaming call (see the module docstring)."""
        self.check_configured()
        body = json.dumps(self.request_body(model=model, system=system, messages=messages,
                                            tools=tools, max_tokens=max_tokens,
                                            options=options)).encode()
        async for event in post_stream(self._http(), f"{self.base_url}/v1/messages", body,
                                       self._headers(options), upstream=self.upstream,
                                       policy=self.policy, read_error=_error_from_response,
                                       events=_stream_events):
            yield event

    async def count_tokens(self, *, model, system, messages, tools, options=None):
        """The input tokens of such a call, from ``POST /v1/messages/count_tokens``."""
        self.check_configured()
        body = {"model": model, "messages": messages}
        if system:
            body["system"] = system
        if tools:
            body["tools"] = tools
        body.update({name: value for name, value in (options or {}).items()
                     if name in ("tool_choice", "thinking")})
        response = await post_json(self._http(), f"{self.base_url}/v1/messages/count_tokens",
                                   json.dumps(body).encode(),
                                   {**self._headers(options), "accept": "application/json"},
                                   upstream=self.upstream, policy=self.policy,
                                   read_error=_error_from_response)
        return _input_tokens(response)


# --- helpers ---------------------------------------------------------------------------------


def _mark_last(blocks):
    """A copy of ``blocks`` whose last block carries an ephemeral cache mark."""
    if not blocks:
        return blocks
    marked = list(blocks)
    marked[-1] = {**marked[-1], "cache_control": {"type": "ephemeral"}}
    return marked


def _mark_last_message(messages):
    """Mark the last content block of the last message, so the next call reads the
    conversation so far from the cache. Plain-string content is left as it is."""
    if not messages or not isinstance(messages[-1].get("content"), list) \
            or not messages[-1]["content"]:
        return messages
    last = messages[-1]
    content = _mark_last(last["content"])
    if content[-1].get("type") == "text" and not content[-1].get("text"):
        return messages  # an empty text block cannot carry a cache mark
    return [*messages[:-1], {**last, "content": content}]


def _input_tokens(response):
    try:
        count = response.json()["input_tokens"]
        if isinstance(count, int) and not isinstance(count, bool):
            return count
    except (ValueError, KeyError, TypeError):
        pass
    raise ProviderError("the Anthropic API answered count_tokens without an input_tokens count",
                        error_type="api_error", request_id=response.headers.get("request-id"))


async def _error_from_response(response):
    """A ProviderError from a non-200 response and its error envelope."""
    raw, body_text = await read_body(response)
    request_id = response.headers.get("request-id")
    error_type, message = "api_error", ""
    try:
        envelope = json.loads(raw)
        error_type = envelope["error"].get("type") or error_type
        message = envelope["error"].get("message") or ""
        request_id = request_id or envelope.get("request_id")
    except (ValueError, KeyError, TypeError, AttributeError):
        message = body_text
    status = response.status_code
    what = _STATUS_WORDS.get(status, "failed" if status >= 500 else "rejected the request")
    text = f"the Anthropic API {what} (HTTP {status} {error_type})"
    if message:
        text += f": {message}"
    return provider_error(with_request_id(text, request_id), status=status,
                          error_type=error_type, request_id=request_id)


def _stream_events(response):
    return _events(response, response.headers.get("request-id"))


async def _events(response, request_id):
    """Parse the server-sent events of ``response`` into dicts; raise on errors."""
    lines = response.aiter_lines()
    async for event_name, data in sse_frames(lines):
        event = _decode(event_name, data, request_id)
        kind = event.get("type")
        if kind == "ping":
            continue
        if kind == "error":
            raise _error_event(event, request_id)
        yield event
        if kind == "message_stop":
            await drain(lines)
            return
    raise ProviderUnavailableError(
        with_request_id("the Anthropic API stream ended before the message was complete",
                        request_id), error_type="api_connection_error", request_id=request_id)


def _error_event(event, request_id):
    """The ProviderError for an ``error`` event in the middle of a stream."""
    error = event.get("error") or {}
    error_type = error.get("type") or "api_error"
    text = (f"the Anthropic API failed mid-stream ({error_type}): "
            f"{error.get('message') or 'no message'}")
    return provider_error(with_request_id(text, request_id), status=None,
                          error_type=error_type, request_id=request_id)


def _decode(event_name, data, request_id):
    try:
        event = json.loads(data)
        if not isinstance(event, dict):
            raise ValueError("not an object")
    except ValueError:
        raise ProviderError(with_request_id("the Anthropic API sent a malformed event",
                                            request_id),
                            error_type="api_error", request_id=request_id) from None
    if "type" not in event and event_name:
        event["type"] = event_name
    return event
