"""A small async client for the Telegram Bot API, over httpx.

Every method is ``await api.call("sendMessage", chat_id=..., text=...)``, which returns the
``result`` of the Bot API's ``{"ok": true, "result": ...}`` envelope or raises
``BotAPIError``; ``call_with_retry`` retries transient failures a few times. Requests go to ``{api_base_url}/bot{token}/{method}``, but the token is put
into the URL by the transport, the last step before the socket: httpx's own log lines,
exceptions and ``response.request`` only ever see ``.../bot/{method}``, so the token cannot
leak through them.

Retries wait with ``blufio.retry.Backoff``, the one backoff every client uses.
"""

import asyncio
import logging
from urllib.parse import quote

import httpx

from blufio.errors import PluginError
from blufio.retry import Backoff

log = logging.getLogger("blufio.telegram")

# The Bot API's answers to a bad token: 401 Unauthorized, or 404 Not Found for a token
# that is not even shaped like one.
FATAL_STATUSES = (401, 404)


class BotAPIError(PluginError):
    """A Bot API call failed.

    ``status`` is the HTTP status or the Bot API's ``error_code`` (None when no response
    arrived), ``description`` the Bot API's reason, ``retry_after`` the seconds a 429 asks
    to wait. ``retryable`` (also ``transient``) errors (network, 5xx, 429) are worth
    retrying; ``fatal`` ones mean the token is wrong and retrying soon will not help;
    ``not_modified`` means an edit changed nothing (the message already says it).
    """

    def __init__(self, method, message, *, status=None, description="", retry_after=None):
        super().__init__(f"Telegram {method} failed: {message}")
        self.method = method
        self.status = status
        self.description = description
        self.retry_after = retry_after

    @property
    def retryable(self):
        return self.status is None or self.status == 429 or self.status >= 500

    @property
    def transient(self):
        return self.retryable

    @property
    def not_modified(self):
        # The Bot API says so only in words: "Bad Request: message is not modified: ..."
        return "not modified" in self.description

    @property
    def fatal(self):
        return self.status in FATAL_STATUSES


class _TokenTransport(httpx.AsyncBaseTransport):
    """Turns ``.../bot/{method}`` into ``.../bot{token}/{method}`` on the way out."""

    def __init__(self, token, inner):
        self._token = quote(token, safe=":")
        self._inner = inner

    async def handle_async_request(self, request):
        head, _, method = request.url.raw_path.rpartition(b"/")
        url = request.url.copy_with(raw_path=head + self._token.encode() + b"/" + method)
        outgoing = httpx.Request(request.method, url, headers=request.headers,
                                 stream=request.stream, extensions=request.extensions)
        return await self._inner.handle_async_request(outgoing)

    async def aclose(self):
        await self._inner.aclose()


class BotAPI:
    """The Bot API at ``base_url`` for the bot with ``token``; close with ``aclose()``."""

    def __init__(self, base_url, token, *, timeout=15.0, backoff=(1.0, 30.0), transport=None):
        self._base = base_url.rstrip("/") + "/bot"
        self._token = token
        self._timeout = timeout
        self._backoff = backoff
        self._client = httpx.AsyncClient(
            transport=_TokenTransport(token, transport or httpx.AsyncHTTPTransport()),
            timeout=timeout, trust_env=False)

    def __repr__(self):
        return f"BotAPI({self._base!r})"  # never the token

    async def call(self, method, *, http_timeout=None, **params):
        """Call ``method`` with JSON ``params``; return its result or raise BotAPIError.

        ``http_timeout`` (seconds) overrides the default for this call, e.g. for long polls.
        """
        try:
            response = await self._client.post(
                f"{self._base}/{method}", json=params,
                timeout=self._timeout if http_timeout is None else http_timeout)
        except httpx.TimeoutException as exc:
            raise BotAPIError(method, "the Bot API did not answer in time") from exc
        except httpx.TransportError as exc:
            text = str(exc)
            if self._token in text:  # a transport that names the URL: keep the token out
                raise BotAPIError(method, f"network error ({type(exc).__name__}: "
                                          f"{text.replace(self._token, '[secret]')})") from None
            raise BotAPIError(method, f"network error ({type(exc).__name__}: {text})") from exc
        return _result(method, response)

    async def call_with_retry(self, method, *, attempts=4, **params):
        """``call``, retrying transient failures (after backoff or ``retry_after``)."""
        backoff = Backoff(*self._backoff)
        for attempt in range(1, attempts + 1):
            try:
                return await self.call(method, **params)
            except BotAPIError as exc:
                if not exc.retryable or attempt == attempts:
                    raise
                delay = backoff.next_delay(exc.retry_after)
                log.debug("%s; retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)

    async def aclose(self):
        await self._client.aclose()


def _result(method, response):
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("ok") is True:
        return body.get("result")
    body = body if isinstance(body, dict) else {}
    status = body.get("error_code") or response.status_code
    description = str(body.get("description") or response.reason_phrase or "")
    retry_after = (body.get("parameters") or {}).get("retry_after")
    message = f"{status} {description}".strip()
    if status in FATAL_STATUSES:
        message += " (the bot token was refused: check telegram.bot_token and " \
                   "telegram.api_base_url)"
    raise BotAPIError(method, message, status=status, description=description,
                      retry_after=retry_after)
