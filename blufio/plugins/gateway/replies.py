"""A turn's events as the answer to ``POST /v1/messages``: one JSON message, or SSE.

Both are ``EventRenderer``s over the agent's events. A turn that fails before any output
is answered with a plain HTTP error (the SDK cannot retry an error event); once output has
been sent, with an SSE ``error`` event. While the agent is busy (e.g. in a tool) the stream
carries a ``ping`` every ``PING_INTERVAL`` seconds.
"""

import asyncio
import json

from quart import Response, g

from blufio.agent.events import EventRenderer, TurnError, is_outcome
from blufio.errors import BlufioError
from blufio.plugins.gateway.errors import GatewayError, error_body
from blufio.plugins.gateway.sse import EventStream, message_body, new_message_id, reply_content

PING_INTERVAL = 10.0  # seconds between SSE pings while the agent is busy (e.g. in a tool)
OVERLOAD_RETRY_AFTER = "2"  # seconds, on a 429 or 529 passed on: short, as clients obey it
_PING = object()


def error_response(exc):
    """The HTTP answer to ``exc``, as its class says: status, envelope (with this request's
    id) and, when the class says whether to retry, ``x-should-retry`` (and ``retry-after``)."""
    error = BlufioError.wrap(exc)
    body = error_body(error, getattr(g, "request_id", None))
    response = Response(json.dumps(body), status=error.http_status,
                        content_type="application/json")
    if error.retryable is not None:
        response.headers["x-should-retry"] = "true" if error.retryable else "false"
    if getattr(error, "retry_after", None) is not None:  # the error says when
        response.headers["retry-after"] = str(error.retry_after)
    elif error.http_status in (429, 529):
        response.headers["retry-after"] = OVERLOAD_RETRY_AFTER
    return response


class _JSONReply(EventRenderer):
    """Waits for the outcome: the message body, or the error response."""

    answer = None

    async def on_turn_complete(self, event):
        self.answer = message_body(new_message_id(), event.model,
                                   reply_content(event.text, event.tool_uses),
                                   event.stop_reason, event.usage.as_dict(), event.stop_sequence)

    async def on_turn_error(self, event):
        self.answer = error_response(event.error)


async def json_reply(events):
    """The whole reply as one Messages API body (or an error response)."""
    reply = _JSONReply()
    await reply.render(events)
    if reply.answer is None:
        raise GatewayError(500, "the turn ended without a reply")
    return reply.answer


class _EventStreamReply(EventRenderer):
    """The Messages API's server-sent events; each method returns the bytes to send."""

    def __init__(self, model):
        self.stream = EventStream(new_message_id(), model)

    async def on_text_delta(self, event):
        self.stream.model = event.model or self.stream.model  # who answers, for message_start
        return self.stream.text(event.text)

    async def on_turn_complete(self, event):
        self.stream.model = event.model
        return self.stream.finish(event.stop_reason, event.usage.as_dict(),
                                  event.stop_sequence, event.tool_uses)

    async def on_turn_error(self, event):
        error = BlufioError.wrap(event.error)
        return self.stream.error(error.http_error_type, error.for_client())


async def stream_reply(events, model):
    """The reply as SSE, or an error response if the turn fails before any output."""
    events = _with_pings(events)
    reply = _EventStreamReply(model)
    async for event in events:
        if isinstance(event, TurnError):  # before any output: a plain HTTP error
            await events.aclose()
            return error_response(event.error)
        first = None if event is _PING else await reply.render_event(event)
        if first:
            ended = is_outcome(event)
            opening = reply.stream.start()  # after the first event: it names the model
            break
    else:
        raise GatewayError(500, "the turn ended without a reply")

    async def body():
        try:
            yield opening
            yield first
            if ended:
                return
            async for later in events:
                out = reply.stream.ping() if later is _PING else await reply.render_event(later)
                if out:
                    yield out
                if is_outcome(later):
                    return
        finally:
            await events.aclose()

    response = Response(body(), content_type="text/event-stream",
                        headers={"cache-control": "no-cache"})
    response.timeout = None
    return response


async def _with_pings(events):
    """Pass ``events`` through, adding ``_PING`` whenever none came for PING_INTERVAL."""
    iterator = events.__aiter__()
    pending = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=PING_INTERVAL)
            if not done:
                yield _PING
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield event
    finally:
        if pending is not None:
            pending.cancel()
