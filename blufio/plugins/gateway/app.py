"""The gateway's Quart app: ``/v1/*``, ``/ws`` and ``/metrics`` on one port.

``create_app(gateway)`` wires routes to a ``Gateway`` (the services a request needs: the
agent, storage, token check, observer and the plugins whose health ``/v1/health`` reports).
Every error, including 404, 405 and 413, is answered in Anthropic's error envelope, and every
response carries a ``request-id`` header. A turn's reply is written by ``replies`` (JSON or
SSE) and, on ``/ws``, by ``websocket``.

The Messages API side (what each field and header means here) is described in
``docs/gateway.md``: requests are checked by ``request``/``messages``, their session found by
``sessions``, repeated ``Idempotency-Key`` requests answered by ``idempotency``, and browser
origins handled by ``cors``. ``?beta=true`` is accepted on every route (queries are ignored
where they mean nothing).
"""

import secrets

from quart import Quart, Response, g, has_request_context, request, websocket
from werkzeug.exceptions import HTTPException

from blufio.errors import BlufioError
from blufio.plugins.gateway.errors import GatewayError, unexpected
from blufio.plugins.gateway.limits import SQLITE_MAX_INT
from blufio.plugins.gateway.memories import register_memory_routes
from blufio.plugins.gateway.messages import int_arg, parse_body
from blufio.plugins.gateway.openapi import openapi_document
from blufio.plugins.gateway import page, usage
from blufio.plugins.gateway.page import is_page_path
from blufio.plugins.gateway.replies import error_response, json_reply, stream_reply
from blufio.plugins.gateway.request import parse_messages_request
from blufio.plugins.gateway.schedules import add_routes as add_schedule_routes
from blufio.plugins.gateway.sessions import CHANNEL, last_reply, open_session
from blufio.plugins.gateway.transport import BoundedWebsocketConnection

SESSION_HEADER = "x-blufio-session"
MODEL_CREATED_AT = "1970-01-01T00:00:00Z"  # Anthropic's shape has a release date; we know none
_PUBLIC_PATHS = {"/v1/health"}


def create_app(gateway):
    """The Quart app serving ``gateway`` (a ``blufio.plugins.gateway.channel.Gateway``)."""
    app = Quart("blufio.gateway")
    app.asgi_websocket_class = BoundedWebsocketConnection
    app.config.update(MAX_CONTENT_LENGTH=gateway.max_body_bytes, RESPONSE_TIMEOUT=None,
                      BODY_TIMEOUT=60)
    app.json.sort_keys = False

    @app.before_request
    async def authenticate():
        g.request_id = "req_" + secrets.token_hex(12)
        origin = request.headers.get("origin")
        if gateway.cors.is_preflight(request.method, request.headers) \
                and gateway.cors.allows(origin):
            return Response("", status=204,
                            headers=gateway.cors.preflight_headers(request.headers))
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
        gateway.cors.stamp(response, request.headers.get("origin"))
        return response

    @app.errorhandler(BlufioError)
    async def known_error(exc):
        return error_response(exc)

    @app.errorhandler(HTTPException)
    async def http_error(exc):
        messages = {404: f"not found: {request.method} {request.path}",
                    405: f"method {request.method} is not allowed on {request.path}",
                    413: f"request body too large: the limit is {gateway.max_body_bytes} bytes"}
        return error_response(GatewayError(exc.code, messages.get(exc.code, exc.description)))

    @app.errorhandler(Exception)
    async def unexpected_error(exc):
        where = f"{request.method} {request.path}" if has_request_context() else "/ws"
        return error_response(unexpected(exc, where))

    @app.get("/v1/health")
    async def health():
        report = await gateway.health(
            detailed=gateway.authorized(_bearer(request.headers, None)))
        return report, 200 if report["status"] != "down" else 503

    @app.get("/v1/openapi.json")
    async def openapi():
        return openapi_document(metrics=gateway.metrics is not None, ui=gateway.ui)

    @app.get("/v1/sessions")
    async def list_sessions():
        limit = int_arg("limit", 20, 1, 100)
        offset = int_arg("offset", 0, 0, SQLITE_MAX_INT)
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
    @gateway.turns.admit  # a 429 above [gateway] max_concurrent_turns, a 503 while draining
    async def messages():
        key = request.headers.get("idempotency-key")
        if key:
            return await gateway.idempotency.run(key, lambda: _answer_turn(gateway))
        return await _answer_turn(gateway)

    @app.post("/v1/messages/count_tokens")
    async def count_tokens():
        session_id = request.headers.get(SESSION_HEADER)
        before = await last_reply(gateway.storage, session_id) if session_id else None
        turn = parse_messages_request(parse_body(await request.get_data()), counting=True,
                                      before=before)
        options = _turn_options(gateway, turn)
        conversation = turn.conversation
        if session_id:
            messages = await gateway.agent.history(session_id)
            messages += conversation.messages[conversation.turn_index:]
        else:
            messages = conversation.messages
        return {"input_tokens": await gateway.agent.count_tokens(messages, options)}

    @app.get("/v1/models")
    async def list_models():
        models = [_model_json(name) for name in gateway.models()]
        limit = int_arg("limit", len(models) or 1, 1, 1000)
        page = models[:limit]
        return {"data": page, "has_more": len(models) > limit,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None}

    @app.get("/v1/models/<path:model_id>")
    async def get_model(model_id):
        if model_id not in gateway.models():
            raise GatewayError(404, f"model: '{model_id}' is not one of this gateway's models "
                                    f"({', '.join(gateway.models())})")
        return _model_json(model_id)

    register_memory_routes(app, gateway)
    add_schedule_routes(app, gateway)
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
        origin = websocket.headers.get("origin")
        if not gateway.cors.allows_socket(origin, websocket.headers.get("host", "")):
            return error_response(GatewayError(403, f"origin '{origin}' may not open /ws; "
                                                     "list it in [gateway] cors_origins"))
        await websocket.accept()
        await serve_socket(gateway, websocket)
        return None

    return app


def _bearer(headers, query_token):
    authorization = headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return headers.get("x-api-key") or query_token


def _session_json(session):
    return {"id": session.id, "channel": session.channel, "created_at": session.created_at,
            "updated_at": session.updated_at, "message_count": session.message_count}


async def _existing_session(gateway, session_id):
    session = await gateway.storage.get_session(session_id)
    if session is None:
        raise GatewayError(404, f"no session with id '{session_id}'")
    return session


async def _answer_turn(gateway):
    """Check a Messages API request, find its session, run its turn, answer it."""
    wants_stream = "text/event-stream" in request.headers.get("accept", "")
    session_id = request.headers.get(SESSION_HEADER)
    before = await last_reply(gateway.storage, session_id) if session_id else None
    turn = parse_messages_request(parse_body(await request.get_data()), wants_stream,
                                  before=before)
    options = _turn_options(gateway, turn)
    session = await open_session(gateway, session_id, turn.conversation)
    g.session_id = session.session_id
    events = session.track(await gateway.turns.start(session.session_id, CHANNEL,
                                                     turn.conversation.turn, options=options))
    if turn.stream:
        return await stream_reply(events, options.model)
    return await json_reply(events)


def _turn_options(gateway, turn):
    turn.betas = [beta.strip() for header in request.headers.getlist("anthropic-beta")
                  for beta in header.split(",") if beta.strip()]
    return turn.turn_options(models=gateway.models(), default_model=gateway.model_name(),
                             server_tools=gateway.server_tool_names())


def _model_json(name):
    return {"type": "model", "id": name, "display_name": name, "created_at": MODEL_CREATED_AT}
