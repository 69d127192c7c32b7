"""The gateway's Quart app: ``/v1/*``, ``/ws`` and ``/metrics`` on one port.

``create_app(gateway)`` wires routes to a ``Gateway`` (the services a request needs: the
agent, storage, token check, observer and the plugins whose health ``/v1/health`` reports).
Every error, including 404, 405 and 413, is answered in Anthropic's error envelope, and every
response carries a ``request-id`` header. A turn's reply is written by ``replies`` (JSON or
SSE) and, on ``/ws``, by ``websocket``.
"""

import secrets

from quart import Quart, Response, g, request, websocket
from werkzeug.exceptions import HTTPException

from blufio.model import NewMessage
from blufio.plugins.gateway.errors import GatewayError, unexpected
from blufio.plugins.gateway.messages import parse_body, parse_messages_request
from blufio.plugins.gateway.openapi import openapi_document
from blufio.plugins.gateway.page import is_page_path
from blufio.plugins.gateway.replies import error_response, json_reply, stream_reply

CHANNEL = "gateway"
SESSION_HEADER = "x-blufio-session"
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
        if (request.path in _PUBLIC_PATHS or gateway.is_public(request.path)
                or is_page_path(request.path)):
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
        return error_response(exc)

    @app.errorhandler(HTTPException)
    async def http_error(exc):
        messages = {404: f"not found: {request.method} {request.path}",
                    405: f"method {request.method} is not allowed on {request.path}",
                    413: f"request body too large: the limit is {gateway.max_body_bytes} bytes"}
        return error_response(GatewayError(exc.code, messages.get(exc.code, exc.description)))

    @app.errorhandler(Exception)
    async def unexpected_error(exc):
        return error_response(unexpected(exc, f"{request.method} {request.path}"))

    @app.get("/v1/health")
    async def health():
        report = await gateway.health()
        return report, 200 if report["status"] != "down" else 503

    @app.get("/v1/openapi.json")
    async def openapi():
        return openapi_document(metrics=gateway.metrics is not None, ui=gateway.ui)

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
            return await stream_reply(events, gateway.model_name())
        return await json_reply(events)

    from blufio.plugins.gateway import page, usage

    page.add_routes(app, gateway)
    usage.add_routes(app, gateway)

    if gateway.metrics is not None:
        @app.get("/metrics")
        async def metrics():
            payload, content_type = gateway.metrics.render(request.headers.get("accept"))
            return Response(payload, content_type=content_type)

    @app.websocket("/ws")
    async def ws():
        from blufio.plugins.gateway.websocket import serve_socket

        if not gateway.authorized(_bearer(websocket.headers, websocket.args.get("token"))):
            return error_response(GatewayError(401, "missing or invalid token: send an "
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
