"""The gateway's Quart app: ``/v1/*``, ``/ws`` and ``/metrics`` on one port.

``create_app(gateway)`` wires routes to a ``Gateway`` (the services a request needs: the
agent, storage, token check, observer and the plugins whose health ``/v1/health`` reports).
Every error, including 404, 405 and 413, is answered in Anthropic's error envelope, and every
response carries a ``request-id`` header.
"""

import asyncio
import json
import logging
import secrets

from quart import Quart, Response, g, request, websocket
from werkzeug.exceptions import HTTPException

from blufio.agent.events import TextDelta, TurnComplete, TurnError
from blufio.model import NewMessage
from blufio.plugins.gateway.errors import GatewayError, envelope, from_exception
from blufio.plugins.gateway.messages import (EventStream, message_body, new_message_id,
                                             parse_body, parse_messages_request)
from blufio.plugins.gateway.openapi import openapi_document

log = logging.getLogger("blufio.gateway")

CHANNEL = "gateway"
SESSION_HEADER = "x-blufio-session"
PING_INTERVAL = 10.0  # seconds between SSE pings while the agent is busy (e.g. in a tool)
_PUBLIC_PATHS = {"/v1/health"}


def create_app(gateway):
    """The Quart app serving ``gateway`` (a ``blufio.plugins.gateway.channel.Gateway``)."""
    app = Quart("blufio.gateway")
    app.config.update(MAX_CONTENT_LENGTH=gateway.max_body_bytes, RESPONSE_TIMEOUT=None,
                      BODY_TIMEOUT=60)
    app.json.sort_keys = False

    @app.before_request
    async def authenticate():
        g.request_id = "req_" + secrets.token_hex(12)
        if request.path in _PUBLIC_PATHS or gateway.is_public(request.path):
            return None
        if not gateway.authorized(_bearer(request.headers, None)):
            raise GatewayError(401, "missing or invalid token: send 'Authorization: Bearer "
                                    "<token>' or 'x-api-key: <token>'")
        return None

    @app.after_request
    async def stamp(response):
        response.headers["request-id"] = getattr(g, "request_id", "")
        if getattr(g, "session_id", None):  # errors of a turn name its session too
            response.headers[SESSION_HEADER] = g.session_id
        return response

    @app.errorhandler(GatewayError)
    async def gateway_error(exc):
        return _error_response(exc)

    @app.errorhandler(HTTPException)
    async def http_error(exc):
        messages = {404: f"not found: {request.method} {request.path}",
                    405: f"method {request.method} is not allowed on {request.path}",
                    413: f"request body too large: the limit is {gateway.max_body_bytes} bytes"}
        return _error_response(GatewayError(exc.code, messages.get(exc.code, exc.description)))

    @app.errorhandler(Exception)
    async def unexpected(exc):
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return _error_response(from_exception(exc))

    @app.get("/v1/health")
    async def health():
        report = await gateway.health()
        return report, 200 if report["status"] != "down" else 503

    @app.get("/v1/openapi.json")
    async def openapi():
        return openapi_document(metrics=gateway.metrics is not None)

    @app.get("/v1/sessions")
    async def list_sessions():
        limit = _int_arg("limit", 20, 1, 100)
        offset = _int_arg("offset", 0, 0, None)
        sessions = await gateway.storage.list_sessions(limit=limit, offset=offset)
        total = await gateway.storage.count_sessions()
        return {"data": [_session_json(s) for s in sessions], "has_more": offset + len(sessions) < total,
                "total": total, "limit": limit, "offset": offset}

    @app.get("/v1/sessions/<session_id>")
    async def get_session(session_id):
        session = await _existing_session(gateway, session_id)
        messages = await gateway.storage.get_messages(session_id)
        return {**_session_json(session), "messages": [
            {"id": m.id, "role": m.role, "content": m.content, "created_at": m.created_at,
             "model": m.model, "usage": m.usage.as_dict()} for m in messages]}

    @app.post("/v1/messages")
    async def messages():
        body = parse_body(await request.get_data())
        wants_stream = "text/event-stream" in request.headers.get("accept", "")
        turn = parse_messages_request(body, wants_stream)
        session_id = g.session_id = await _session_for(
            gateway, request.headers.get(SESSION_HEADER), turn)
        events = gateway.agent.submit(session_id, CHANNEL, turn.turn)
        if turn.stream:
            return await _stream_reply(gateway, events)
        return await _json_reply(events)

    from blufio.plugins.gateway.schedules import add_routes

    add_routes(app, gateway)

    if gateway.metrics is not None:
        @app.get("/metrics")
        async def metrics():
            payload, content_type = gateway.metrics.render(request.headers.get("accept"))
            return Response(payload, content_type=content_type)

    @app.websocket("/ws")
    async def ws():
        from blufio.plugins.gateway.websocket import serve_socket

        if not gateway.authorized(_bearer(websocket.headers, websocket.args.get("token"))):
            return _error_response(GatewayError(401, "missing or invalid token: send an "
                                                     "Authorization header or ?token="))
        await websocket.accept()
        await serve_socket(gateway, websocket)
        return None

    return app


def _bearer(headers, query_token):
    authorization = headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return headers.get("x-api-key") or query_token


def _error_response(error):
    body = envelope(error.error_type, error.message, getattr(g, "request_id", None))
    response = Response(json.dumps(body), status=error.status, content_type="application/json")
    if error.retry is not None:
        response.headers["x-should-retry"] = "true" if error.retry else "false"
    return response


def _int_arg(name, default, low, high):
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise GatewayError(400, f"{name}: must be a whole number {bounds}")
    return value


def _session_json(session):
    return {"id": session.id, "channel": session.channel, "created_at": session.created_at,
            "updated_at": session.updated_at, "message_count": session.message_count}


async def _existing_session(gateway, session_id):
    session = await gateway.storage.get_session(session_id)
    if session is None:
        raise GatewayError(404, f"no session with id '{session_id}'")
    return session


async def _session_for(gateway, header_id, turn):
    """Continue the session named by the header, or start one seeded with the history."""
    if header_id:
        return (await _existing_session(gateway, header_id)).id
    session = await gateway.agent.new_session(CHANNEL)
    if turn.history:
        await gateway.storage.append_messages(
            session.id, [NewMessage(m["role"], m["content"]) for m in turn.history])
    return session.id


async def _until_outcome(events):
    """Yield the turn's events; the last one is its TurnComplete or TurnError."""
    async for event in events:
        yield event
        if isinstance(event, (TurnComplete, TurnError)):
            return


async def _json_reply(events):
    async for event in _until_outcome(events):
        if isinstance(event, TurnError):
            raise from_exception(event.error)
        if isinstance(event, TurnComplete):
            body = message_body(new_message_id(), event.model, event.text, event.stop_reason,
                                event.usage.as_dict())
            return body
    raise GatewayError(500, "the turn ended without a reply")


async def _stream_reply(gateway, events):
    """SSE for one turn. Errors known before any output are a plain HTTP error instead (the
    SDK cannot retry an error event); after that they are an ``error`` event."""
    events = _with_pings(_until_outcome(events))
    first = None
    async for event in events:
        if isinstance(event, TurnError):
            raise from_exception(event.error)
        if isinstance(event, (TextDelta, TurnComplete)):
            first = event
            break
    if first is None:
        raise GatewayError(500, "the turn ended without a reply")

    async def body():
        stream = EventStream(new_message_id(), gateway.model_name())
        yield stream.start()
        pending = [first]
        while True:
            event = pending.pop() if pending else await anext_or_none(events)
            if event is None:
                return
            if event == "ping":
                yield stream.ping()
            elif isinstance(event, TextDelta):
                yield stream.text(event.text)
            elif isinstance(event, TurnComplete):
                stream.model = event.model
                yield stream.finish(event.stop_reason, event.usage.as_dict())
                return
            elif isinstance(event, TurnError):
                error = from_exception(event.error)
                yield stream.error(error.error_type, error.message)
                return

    response = Response(body(), content_type="text/event-stream",
                        headers={"cache-control": "no-cache"})
    response.timeout = None
    return response


async def anext_or_none(iterator):
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return None


async def _with_pings(events):
    """Pass ``events`` through, adding ``"ping"`` whenever none came for PING_INTERVAL."""
    iterator = events.__aiter__()
    pending = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=PING_INTERVAL)
            if not done:
                yield "ping"
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

