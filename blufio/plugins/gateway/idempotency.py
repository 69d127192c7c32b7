"""``Idempotency-Key``: a repeated request gets the first one's answer, never a second turn.

The first request with a key runs; until it has answered, a request with the same key gets
a 409 (Anthropic's SDKs retry a 409 after a short wait); afterwards it gets the first
answer again: status, body (a stream's events as they were sent) and the session header.
Answers are kept in memory for ``TTL`` seconds, at most ``LIMIT`` of them.
"""

import time
from collections import OrderedDict

from blufio.plugins.gateway.errors import GatewayError

TTL = 24 * 3600.0
LIMIT = 1000
_KEPT_HEADERS = ("content-type", "x-blufio-session", "x-should-retry", "retry-after")
_RUNNING = object()


class IdempotentRequests:
    """Answers by idempotency key."""

    def __init__(self, ttl=TTL, limit=LIMIT):
        self.ttl = ttl
        self.limit = limit
        self._answers = OrderedDict()  # key -> (time, _RUNNING or (status, headers, body))

    async def run(self, key, answer):
        """The response to a request carrying ``key``: ``await answer()`` the first time."""
        self._expire()
        kept = self._answers.get(key)
        if kept is not None and kept[1] is _RUNNING:
            raise GatewayError(409, "a request with this Idempotency-Key is still running; "
                                    "retry shortly to get its answer", retry=True)
        from quart import Response

        if kept is not None:
            status, headers, body = kept[1]
            return Response(body, status=status, headers=headers)
        self._answers[key] = (time.monotonic(), _RUNNING)
        try:
            return await self._keep(key, await answer())
        except BaseException:
            del self._answers[key]  # nothing answered: the key is free again
            raise

    async def _keep(self, key, response):
        from quart import Response, current_app, g

        response = await current_app.make_response(response)
        headers = {name: response.headers[name] for name in _KEPT_HEADERS
                   if name in response.headers}
        if getattr(g, "session_id", None):  # set on the response later, by the app
            headers["x-blufio-session"] = g.session_id
        if response.mimetype != "text/event-stream":
            body = await response.get_data()
            self._answers[key] = (time.monotonic(), (response.status_code, headers, body))
            return response
        chunks = []
        source = response.response

        async def relay():
            try:
                async with source as body:
                    async for chunk in body:
                        chunks.append(chunk)
                        yield chunk
            finally:
                self._answers[key] = (time.monotonic(),
                                      (response.status_code, headers, b"".join(chunks)))

        relayed = Response(relay(), status=response.status_code, headers=response.headers)
        relayed.timeout = None
        return relayed

    def _expire(self):
        now = time.monotonic()
        while self._answers:
            key, (at, answer) = next(iter(self._answers.items()))
            if now - at < self.ttl and len(self._answers) <= self.limit:
                break
            if answer is _RUNNING and now - at < self.ttl:
                break
            del self._answers[key]

