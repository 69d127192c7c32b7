"""``/v1/schedules``: list, create and delete schedules over HTTP (and their OpenAPI part).

    GET    /v1/schedules        every schedule, active ones by next run
    POST   /v1/schedules        create one: {"prompt", "target", one of "cron"/"at"/"in",
                                "timezone"?, "max_run_usd"?, "max_day_usd"?, "catch_up"?}
    GET    /v1/schedules/{id}   one schedule with its last runs
    DELETE /v1/schedules/{id}   remove it

Input is checked by ``blufio.scheduler.book.ScheduleBook`` as everywhere else: a wrong
field is a 400 ``invalid_request_error`` naming it, and nothing is stored.
"""

from quart import request

from blufio.errors import ScheduleError
from blufio.plugins.gateway.errors import GatewayError
from blufio.plugins.gateway.messages import parse_body
from blufio.plugins.gateway.replies import error_response
from blufio.scheduler.book import schedule_json

_FIELDS = {"prompt": str, "target": str, "cron": str, "at": str, "in": str, "timezone": str,
           "max_run_usd": (int, float), "max_day_usd": (int, float), "catch_up": str}


def add_routes(app, gateway):
    """Serve ``/v1/schedules`` on ``app`` from ``gateway.schedules`` (a ``ScheduleBook``)."""

    @app.errorhandler(ScheduleError)
    async def schedule_error(exc):  # a client's mistake, answered as its class says
        return error_response(exc)

    @app.get("/v1/schedules")
    async def list_schedules():
        schedules = await gateway.schedules.list()
        return {"data": [schedule_json(s) for s in schedules], "total": len(schedules)}

    @app.post("/v1/schedules")
    async def create_schedule():
        fields = _fields(parse_body(await request.get_data()))
        schedule = await gateway.schedules.create(
            prompt=fields.get("prompt"), target=fields.get("target"), cron=fields.get("cron"),
            at=fields.get("at"), within=fields.get("in"), timezone=fields.get("timezone"),
            max_run_usd=fields.get("max_run_usd"), max_day_usd=fields.get("max_day_usd"),
            catch_up=fields.get("catch_up"))
        return schedule_json(schedule), 201

    @app.get("/v1/schedules/<schedule_id>")
    async def get_schedule(schedule_id):
        schedule = await gateway.schedules.get(schedule_id)
        runs = await gateway.storage.schedule_runs(schedule.id)
        return {**schedule_json(schedule), "runs": [
            {"id": r.id, "due_at": r.due_at, "started_at": r.started_at, "outcome": r.outcome,
             "cost_usd": r.cost_usd, "error": r.error or None, "finished_at": r.finished_at}
            for r in runs]}

    @app.delete("/v1/schedules/<schedule_id>")
    async def delete_schedule(schedule_id):
        schedule = await gateway.schedules.remove(schedule_id)
        return {"id": schedule.id, "type": "schedule_deleted", "deleted": True}


def _fields(body):
    for name, value in body.items():
        if name not in _FIELDS:
            raise GatewayError(400, f"{name}: not a schedule field (use {', '.join(_FIELDS)})")
        if value is not None and (isinstance(value, bool) or not isinstance(value, _FIELDS[name])):
            expected = "a string" if _FIELDS[name] is str else "a number"
            raise GatewayError(400, f"{name}: must be {expected}")
    return body


# -- the OpenAPI part ------------------------------------------------------------------------

_SCHEDULE = {"$ref": "#/components/schemas/Schedule"}
_ID = [{"name": "schedule_id", "in": "path", "required": True, "schema": {"type": "string"}}]

SCHEMAS = {
    "Schedule": {
        "type": "object",
        "required": ["id", "prompt", "target", "kind", "timezone", "status", "next_run_at"],
        "properties": {
            "id": {"type": "string"}, "prompt": {"type": "string"},
            "target": {"type": "string", "description": "telegram:<chat id> or session:<id>"},
            "kind": {"enum": ["cron", "once"]}, "cron": {"type": ["string", "null"]},
            "timezone": {"type": "string"}, "status": {"enum": ["active", "paused", "done"]},
            "paused_reason": {"type": ["string", "null"]},
            "catch_up": {"enum": ["once", "skip"]},
            "max_run_usd": {"type": ["number", "null"]},
            "max_day_usd": {"type": ["number", "null"]},
            "next_run_at": {"type": ["string", "null"], "format": "date-time"},
            "last_run_at": {"type": ["string", "null"], "format": "date-time"},
            "last_outcome": {"type": ["string", "null"]},
            "last_error": {"type": ["string", "null"]},
            "run_count": {"type": "integer"}, "spent_usd": {"type": "number"},
            "created_at": {"type": "string", "format": "date-time"}},
    },
    "NewSchedule": {
        "type": "object", "required": ["prompt", "target"], "additionalProperties": False,
        "description": "Exactly one of cron, at or in.",
        "properties": {
            "prompt": {"type": "string", "minLength": 1},
            "target": {"type": "string", "description": "telegram:<chat id> or session:<id>"},
            "cron": {"type": "string", "description": "5 fields, e.g. '0 9 * * 1-5'"},
            "at": {"type": "string", "description": "local date-time, e.g. 2026-12-01T09:00"},
            "in": {"type": "string", "description": "a duration, e.g. 15m or 1h30m"},
            "timezone": {"type": "string", "description": "IANA name, e.g. Europe/Paris"},
            "max_run_usd": {"type": "number", "exclusiveMinimum": 0},
            "max_day_usd": {"type": "number", "exclusiveMinimum": 0},
            "catch_up": {"enum": ["once", "skip"]}},
    },
}


def openapi_paths(_json, errors):
    """The ``/v1/schedules`` paths; ``_json(schema, description)`` makes a JSON response
    and ``errors(*statuses)`` the error responses (``openapi.py``'s helpers)."""
    return {
        "/v1/schedules": {
            "get": {"summary": "List schedules, active ones by next run",
                    "responses": {"200": _json({"type": "object", "properties": {
                        "data": {"type": "array", "items": _SCHEDULE},
                        "total": {"type": "integer"}}}, "Every schedule"), **errors(401)}},
            "post": {"summary": "Create a schedule (cron in a time zone, or one run at/in)",
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"$ref": "#/components/schemas/NewSchedule"}}}},
                     "responses": {"201": _json(_SCHEDULE, "The schedule as stored"),
                                   **errors(400, 401, 413)}}},
        "/v1/schedules/{schedule_id}": {
            "get": {"summary": "One schedule with its last runs", "parameters": _ID,
                    "responses": {"200": _json(_SCHEDULE, "The schedule and its runs"),
                                  **errors(401, 404)}},
            "delete": {"summary": "Remove a schedule", "parameters": _ID,
                       "responses": {"200": _json({"type": "object"}, "Removed"),
                                     **errors(401, 404)}}},
    }
