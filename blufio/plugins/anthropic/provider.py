"""``AnthropicProvider``: Anthropic's Messages API over httpx, streaming, with tool use.

The ``anthropic`` SDK is not used; this module speaks the HTTP API directly:

- ``POST {base_url}/v1/messages`` with ``"stream": true``; the server-sent events are parsed
  line by line (``event:``/``data:`` fields, blank-line dispatch, ``:`` comments) and passed
  on as dicts (see ``blufio.contracts.Provider``). ``ping`` is swallowed; an ``error`` event
  raises ``ProviderError``; a stream that ends without ``message_stop`` raises too.
- Prompt caching: ``cache_control: {"type": "ephemeral"}`` marks the end of the tools, the end
  of the system prompt and the last message, so the stable prefix (and the conversation so
  far) is read from the cache on the next call instead of being billed in full.
- Retries: 408, 409, 429, 5xx (529 included) and connection failures are retried up to
  ``max_retries`` times with jittered exponential backoff, honouring ``retry-after-ms`` or
  ``retry-after`` (capped at ``MAX_RETRY_AFTER`` seconds) and ``x-should-retry``. Nothing is
  retried once an event has been passed on: the caller has seen output.
- A client's settings (``options``: ``tool_choice``, ``stop_sequences``, sampling,
  ``thinking``, ``metadata``) go into the body as they are; of its beta flags only those in
  ``KNOWN_BETAS`` are sent as ``anthropic-beta`` (an unknown or account-specific flag could
  change what the upstream does, e.g. its authentication), the others are dropped.
- ``count_tokens`` asks ``POST /v1/messages/count_tokens``, with the same retries.
- Every failure is a ``ProviderError`` carrying the upstream message, HTTP status, error
  type and ``request-id``; ``_provider_error`` translates Anthropic's answer, once, into what
  it means for Blufio (its class, and the HTTP answer the gateway gives its own clients).
  The API key is sent in a header and never logged or shown.
"""

import asyncio
import json
import logging

from blufio.errors import (ConfigError, ProviderAuthError, ProviderError,
                           ProviderUnavailableError)
from blufio.retry import backoff_delay, retry_after
from blufio.manifest import identity
from blufio.plugins.anthropic.prices import PRICES

log = logging.getLogger("blufio.anthropic")

API_VERSION = "2023-06-01"
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
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
MAX_RETRY_AFTER = 60.0  # seconds; a longer retry-after is capped to this
BACKOFF_BASE = 0.5
BACKOFF_MAX = 8.0

MISSING_KEY = ("no Anthropic API key is set; set ANTHROPIC_API_KEY, or run 'blufio config "
               "set-secret anthropic.api_key', or put api_key under [anthropic] in the "
               "configuration file")

_STATUS_WORDS = {400: "rejected the request", 401: "refused the API key",
                 403: "denied permission", 404: "does not know that resource",
                 413: "found the request too large", 429: "is rate limiting this key",
                 529: "is overloaded"}
# The status an error type stands for when it arrives without one (an error event mid-stream).
_STATUS_OF_TYPE = {"overloaded_error": 529, "rate_limit_error": 429, "api_error": 500,
                   "timeout_error": 504}


class AnthropicProvider:
    """The ``anthropic`` provider plugin (implements ``blufio.contracts.Provider``)."""

    name, version, adapter_type = identity("anthropic")
    prices = PRICES

    def __init__(self, config, **services):
        section = config.section("anthropic")
        self._api_key = section.get("api_key") or ""
        self.base_url = (section.get("base_url") or "https://api.anthropic.com").rstrip("/")
        if self.base_url.endswith("/v1"):
            self.base_url = self.base_url[:-3]
        self.default_model = section.get("model") or "claude-sonnet-4-5"
        self.connect_timeout = float(section.get("connect_timeout") or 10.0)
        self.read_timeout = float(section.get("read_timeout") or 120.0)
        self.max_retries = max(0, int(section.get("max_retries") if section.get("max_retries")
                                      is not None else 2))
        self.backoff_base = BACKOFF_BASE
        self._client = None

    # --- plugin base ---

    def check_configured(self):
        """Raise ConfigError (one line naming the three ways to set it) without a key."""
        if not self._api_key:
            raise ConfigError(MISSING_KEY)

    async def health_check(self):
        if not self._api_key:
            return {"status": "down", "detail": "no API key"}
        return {"status": "ok", "detail": self.base_url}

    async def shutdown(self):
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # --- the provider ---

    def _http(self):
        if self._client is None:
            import httpx

            import socket

            timeout = httpx.Timeout(self.read_timeout, connect=self.connect_timeout)
            # No Nagle delay: a request is written in pieces and every streamed delta counts.
            transport = httpx.AsyncHTTPTransport(
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
            self._client = httpx.AsyncClient(timeout=timeout, transport=transport, headers={
                "anthropic-version": API_VERSION, "user-agent": "blufio/0.1",
                "accept": "text/event-stream", "content-type": "application/json"})
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
        headers = {"x-api-key": self._api_key}
        betas = [beta for beta in (options or {}).get("betas", ()) if beta in KNOWN_BETAS]
        if betas:
            headers["anthropic-beta"] = ",".join(dict.fromkeys(betas))
        return headers

    async def stream(self, *, model, system, messages, tools, max_tokens, options=None):
        """Yield the events of one streaming call (see the module docstring)."""
        self.check_configured()
        import httpx

        client = self._http()
        body = json.dumps(self.request_body(model=model, system=system, messages=messages,
                                            tools=tools, max_tokens=max_tokens,
                                            options=options)).encode()
        url = f"{self.base_url}/v1/messages"
        headers = self._headers(options)
        attempt = 0
        while True:
            started = False
            try:
                async with client.stream("POST", url, content=body,
                                         headers=headers) as response:
                    request_id = response.headers.get("request-id")
                    if response.status_code != 200:
                        error = await _error_from_response(response, request_id)
                        delay = self._retry_delay(attempt, response)
                        if delay is None:
                            raise error
                        log.warning("Anthropic %s (request %s); retrying in %.2fs",
                                    response.status_code, request_id, delay)
                    else:
                        async for event in _events(response, request_id):
                            started = True
                            yield event
                        return
            except httpx.HTTPError as exc:
                error = _transport_error(exc, started, self.read_timeout)
                if started or attempt >= self.max_retries:
                    raise error from exc
                delay = self._backoff(attempt)
                log.warning("Anthropic connection failed (%s); retrying in %.2fs", error, delay)
            attempt += 1
            await asyncio.sleep(delay)

    async def count_tokens(self, *, model, system, messages, tools, options=None):
        """The input tokens of such a call, from ``POST /v1/messages/count_tokens``."""
        self.check_configured()
        import httpx

        body = {"model": model, "messages": messages}
        if system:
            body["system"] = system
        if tools:
            body["tools"] = tools
        body.update({name: value for name, value in (options or {}).items()
                     if name in ("tool_choice", "thinking")})
        url = f"{self.base_url}/v1/messages/count_tokens"
        headers = {**self._headers(options), "accept": "application/json"}
        attempt = 0
        while True:
            try:
                response = await self._http().post(url, content=json.dumps(body).encode(),
                                                   headers=headers)
            except httpx.HTTPError as exc:
                if attempt >= self.max_retries:
                    raise _transport_error(exc, False, self.read_timeout) from exc
                delay = self._backoff(attempt)
            else:
                if response.status_code == 200:
                    return _input_tokens(response)
                delay = self._retry_delay(attempt, response)
                if delay is None:
                    raise await _error_from_response(response, response.headers.get("request-id"))
            attempt += 1
            await asyncio.sleep(delay)

    def _backoff(self, attempt):
        return backoff_delay(attempt, self.backoff_base, BACKOFF_MAX)

    def _retry_delay(self, attempt, response):
        """Seconds to wait before retrying ``response``, or None when it must not be retried."""
        if attempt >= self.max_retries:
            return None
        should = response.headers.get("x-should-retry")
        if should == "false":
            return None
        if should != "true" and response.status_code not in RETRY_STATUSES \
                and response.status_code < 500:
            return None
        hinted = retry_after(response.headers)
        if hinted is not None:
            return min(hinted, MAX_RETRY_AFTER)
        return self._backoff(attempt)


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


async def _error_from_response(response, request_id):
    """A ProviderError from a non-200 response and its error envelope."""
    try:
        raw = await response.aread()
    except Exception:  # the body is only for the message; the status says enough
        raw = b""
    error_type, message = "api_error", ""
    try:
        envelope = json.loads(raw)
        error_type = envelope["error"].get("type") or error_type
        message = envelope["error"].get("message") or ""
        request_id = request_id or envelope.get("request_id")
    except (ValueError, KeyError, TypeError, AttributeError):
        message = raw.decode("utf-8", "replace").strip()[:200]
    status = response.status_code
    what = _STATUS_WORDS.get(status, "failed" if status >= 500 else "rejected the request")
    text = f"the Anthropic API {what} (HTTP {status} {error_type})"
    if message:
        text += f": {message}"
    if request_id:
        text += f" [request-id {request_id}]"
    return _provider_error(text, status=status, error_type=error_type, request_id=request_id)


def _provider_error(text, *, status, error_type, request_id):
    """The ProviderError for Anthropic's ``status`` (None mid-stream) and ``error_type``.

    Blufio's clients get the same status and type (Anthropic's vocabulary is the gateway's
    too), except that a client error of Blufio's request is a 400 (413 kept), a refused key
    is Blufio's problem (ProviderAuthError), and an error that names no status is
    ProviderUnavailableError.
    """
    fields = {"status": status, "error_type": error_type, "request_id": request_id}
    answered = status or _STATUS_OF_TYPE.get(error_type)
    if answered is None:
        return ProviderUnavailableError(text, **fields)
    if answered in (401, 403):
        return ProviderAuthError(text, **fields)
    if answered < 500 and answered not in (413, 429):
        answered = 400
    return ProviderError(text, http_status=answered, http_error_type=error_type, **fields)


def _transport_error(exc, started, read_timeout):
    import httpx

    where = "mid-stream" if started else "before a response"
    if isinstance(exc, httpx.ConnectError):
        text = f"cannot connect to the Anthropic API ({exc}); check anthropic.base_url and the network"
    elif isinstance(exc, httpx.TimeoutException):
        text = (f"the Anthropic API sent nothing for {read_timeout:g}s ({where}); "
                "the connection was abandoned")
        if isinstance(exc, httpx.ConnectTimeout):
            text = "timed out connecting to the Anthropic API; check anthropic.base_url and the network"
    else:
        text = f"the connection to the Anthropic API failed {where}: {exc or type(exc).__name__}"
    return ProviderUnavailableError(text, status=None, error_type="api_connection_error")


async def _events(response, request_id):
    """Parse the server-sent events of ``response`` into dicts; raise on errors."""
    event_name, data_lines, finished = None, [], False
    lines = response.aiter_lines()
    async for line in lines:
        if line:
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field == "event":
                event_name = value
            elif field == "data":
                data_lines.append(value)
            continue  # id:, retry: and unknown fields are ignored
        if not data_lines:
            event_name = None
            continue
        event = _decode(event_name, "\n".join(data_lines), request_id)
        event_name, data_lines = None, []
        kind = event.get("type")
        if kind == "ping":
            continue
        if kind == "error":
            raise _error_event(event, request_id)
        yield event
        if kind == "message_stop":
            finished = True
            break
    if finished:
        await _drain(lines)
    else:
        raise ProviderUnavailableError(
            "the Anthropic API stream ended before the message was complete"
            + (f" [request-id {request_id}]" if request_id else ""),
            error_type="api_connection_error", request_id=request_id)


def _error_event(event, request_id):
    """The ProviderError for an ``error`` event in the middle of a stream."""
    error = event.get("error") or {}
    error_type = error.get("type") or "api_error"
    text = (f"the Anthropic API failed mid-stream ({error_type}): "
            f"{error.get('message') or 'no message'}")
    if request_id:
        text += f" [request-id {request_id}]"
    return _provider_error(text, status=None, error_type=error_type, request_id=request_id)


async def _drain(lines, timeout=1.0):
    """Read what follows ``message_stop`` (normally just the end of the body) so the
    connection goes back to the pool instead of being closed."""
    async def rest():
        async for _ in lines:
            pass

    try:
        await asyncio.wait_for(rest(), timeout)
    except Exception:  # the reply is complete; a bad ending only costs the connection
        pass


def _decode(event_name, data, request_id):
    try:
        event = json.loads(data)
        if not isinstance(event, dict):
            raise ValueError("not an object")
    except ValueError:
        raise ProviderError("the Anthropic API sent a malformed event"
                            + (f" [request-id {request_id}]" if request_id else ""),
                            error_type="api_error", request_id=request_id) from None
    if "type" not in event and event_name:
        event["type"] = event_name
    return event
