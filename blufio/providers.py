"""What the HTTP model providers share: retries, server-sent events, transport errors.

A provider plugin (``anthropic``, ``openai``) says what differs: its URL and headers, how its
error envelope reads, and how its stream's events become the provider contract's events.
``post_stream`` does the rest:

- one streaming ``POST``; a non-200 reply becomes the vendor's ``ProviderError``;
- retries of 408, 409, 429 and 5xx (529 included) and of connection failures, up to
  ``RetryPolicy.max_retries`` times, with jittered exponential backoff, honouring
  ``retry-after-ms`` or ``retry-after`` (capped at ``max_retry_after`` seconds) and
  ``x-should-retry``; a reply the vendor's plugin marks as final (``final = True`` on the
  error, e.g. an exhausted quota) is not retried;
- nothing is retried once an event has been passed on: the caller has seen output.

``provider_error`` says once what a vendor's failure means for Blufio (its class, and the
HTTP answer the gateway gives its own clients); ``transport_error`` does the same for a
connection that failed. ``sse_frames`` parses a body of server-sent events (``event:``/
``data:`` fields, blank-line dispatch, ``:`` comments, multi-line data) into ``(event,
data)`` pairs.
"""

import asyncio
import logging
from dataclasses import dataclass

from blufio.errors import (ConfigError, ProviderAuthError, ProviderError,
                           ProviderUnavailableError)
from blufio.retry import backoff_delay, retry_after

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


@dataclass
class RetryPolicy:
    """How often and how long to wait before trying a failed call again."""

    max_retries: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0  # seconds; a longer retry-after is capped to this

    def backoff(self, attempt):
        return backoff_delay(attempt, self.backoff_base, self.backoff_max)

    def delay(self, attempt, response, error=None):
        """Seconds to wait before retrying ``response``, or None when it must not be."""
        if attempt >= self.max_retries or getattr(error, "final", False):
            return None
        should = response.headers.get("x-should-retry")
        if should == "false":
            return None
        if should != "true" and response.status_code not in RETRY_STATUSES \
                and response.status_code < 500:
            return None
        hinted = retry_after(response.headers)
        if hinted is not None:
            return min(hinted, self.max_retry_after)
        return self.backoff(attempt)


# The status an error type stands for when it arrives without one (an error event mid-stream).
_STATUS_OF_TYPE = {"overloaded_error": 529, "rate_limit_error": 429, "api_error": 500,
                   "timeout_error": 504}


def provider_error(text, *, status, error_type, request_id=None):
    """The ProviderError for a vendor's HTTP ``status`` (None mid-stream) and ``error_type``
    (Anthropic's vocabulary, which the vendor's plugin translates its own into).

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


class HttpProvider:
    """What the HTTP provider plugins do alike: the missing-key check, ``health_check`` and
    ``shutdown``. A subclass sets ``missing_key`` (the one-line ConfigError text, or "" when
    the key it has is enough), ``base_url`` and ``_client`` (an httpx client or None)."""

    missing_key = ""
    base_url = ""
    _client = None

    def configure_http(self, section, label, base_url_key, log):
        """Timeouts and retries from the plugin's config ``section`` (a dict), and who the
        upstream is in messages (``label``, the ``base_url_key`` to check)."""
        self.connect_timeout = float(section.get("connect_timeout") or 10.0)
        self.read_timeout = float(section.get("read_timeout") or 120.0)
        retries = section.get("max_retries")
        self.policy = RetryPolicy(max_retries=max(0, int(retries if retries is not None else 2)))
        self.upstream = Upstream(label, base_url_key, self.read_timeout, log)
        self._client = None

    def check_configured(self):
        """Raise ConfigError (one line naming the ways to set it) without a needed key."""
        if self.missing_key:
            raise ConfigError(self.missing_key)

    async def health_check(self):
        if self.missing_key:
            return {"status": "down", "detail": "no API key"}
        return {"status": "ok", "detail": self.base_url}

    async def shutdown(self):
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def streaming_client(connect_timeout, read_timeout, headers):
    """An ``httpx.AsyncClient`` (keeping no cookies) for streamed calls, sending ``headers``
    with each."""
    import socket

    import httpx

    from blufio.http_transport import CookielessClient, lean_transport

    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    # No Nagle delay: a request is written in pieces and every streamed delta counts.
    transport = lean_transport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return CookielessClient(timeout=timeout, transport=transport, headers={
        "user-agent": "blufio/0.1", "accept": "text/event-stream",
        "content-type": "application/json", **headers})


@dataclass
class Upstream:
    """Who a provider talks to, as its messages name it (``the Anthropic API``) and the
    configuration key a user fixes when it cannot be reached (``anthropic.base_url``)."""

    label: str
    base_url_key: str
    read_timeout: float
    log: logging.Logger


async def post_stream(client, url, body, headers, *, upstream, policy, read_error, events):
    """POST ``body`` and yield the events ``events(response)`` parses from a 200 reply.

    ``read_error(response)`` (a coroutine) turns a non-200 reply into a ``ProviderError``.
    Failures are retried under ``policy`` until the first event has been yielded.
    """
    import httpx

    attempt = 0
    while True:
        started = False
        try:
            async with client.stream("POST", url, content=body, headers=headers) as response:
                if response.status_code != 200:
                    error = await read_error(response)
                    delay = policy.delay(attempt, response, error)
                    if delay is None:
                        raise error
                    upstream.log.warning("%s answered %s; retrying in %.2fs", upstream.label,
                                         response.status_code, delay)
                else:
                    async for event in events(response):
                        started = True
                        yield event
                    return
        except httpx.HTTPError as exc:
            error = transport_error(exc, started, upstream)
            if started or attempt >= policy.max_retries:
                raise error from exc
            delay = policy.backoff(attempt)
            upstream.log.warning("%s: %s; retrying in %.2fs", upstream.label, error, delay)
        attempt += 1
        await asyncio.sleep(delay)


async def post_json(client, url, body, headers, *, upstream, policy, read_error):
    """POST ``body`` and return the 200 response (read whole), retrying as ``post_stream``
    does; ``read_error(response)`` turns another status into a ``ProviderError``."""
    import httpx

    attempt = 0
    while True:
        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            if attempt >= policy.max_retries:
                raise transport_error(exc, False, upstream) from exc
            delay = policy.backoff(attempt)
        else:
            if response.status_code == 200:
                return response
            error = await read_error(response)
            delay = policy.delay(attempt, response, error)
            if delay is None:
                raise error
        attempt += 1
        await asyncio.sleep(delay)


def transport_error(exc, started, upstream):
    """A ``ProviderError`` saying, in a user's words, how the connection failed."""
    import httpx

    where = "mid-stream" if started else "before a response"
    check = f"check {upstream.base_url_key} and the network"
    if isinstance(exc, httpx.ConnectTimeout):
        text = f"timed out connecting to {upstream.label}; {check}"
    elif isinstance(exc, httpx.ConnectError):
        text = f"cannot connect to {upstream.label} ({exc}); {check}"
    elif isinstance(exc, httpx.TimeoutException):
        text = (f"{upstream.label} sent nothing for {upstream.read_timeout:g}s ({where}); "
                "the connection was abandoned")
    else:
        text = f"the connection to {upstream.label} failed {where}: {exc or type(exc).__name__}"
    return ProviderUnavailableError(text, status=None, error_type="api_connection_error")


async def read_body(response, limit=200):
    """The body of an error reply (empty if it cannot be read), and its text start."""
    try:
        raw = await response.aread()
    except Exception:  # the body is only for the message; the status says enough
        raw = b""
    return raw, raw.decode("utf-8", "replace").strip()[:limit]


async def sse_frames(lines):
    """``(event name or None, data)`` for each event in an async iterator of lines."""
    event_name, data_lines = None, []
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
        if data_lines:
            yield event_name, "\n".join(data_lines)
        event_name, data_lines = None, []
    if data_lines:  # a last event without its blank line
        yield event_name, "\n".join(data_lines)


async def drain(lines, timeout=1.0):
    """Read what follows the end of a message (normally just the end of the body) so the
    connection goes back to the pool instead of being closed."""
    async def rest():
        async for _ in lines:
            pass

    try:
        await asyncio.wait_for(rest(), timeout)
    except Exception:  # the reply is complete; a bad ending only costs the connection
        pass


def with_request_id(text, request_id):
    """``text`` with ``[request-id …]`` appended when there is one."""
    return f"{text} [request-id {request_id}]" if request_id else text
