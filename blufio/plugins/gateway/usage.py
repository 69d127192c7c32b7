"""``GET /v1/usage``: what the agent has spent today and this month (UTC) against the
``[cost]`` budgets, and with ``?session_id=`` what one session's provider calls cost.

The numbers come from the cost ledger (every provider call, as soon as it ends), the same
ledger the budgets are checked against.
"""

from quart import request

from blufio.model import Usage
from blufio.plugins.gateway.errors import GatewayError


def _period(spent, budget, since):
    remaining = None if budget is None else round(max(0.0, budget - spent), 6)
    return {"cost_usd": round(spent, 6), "budget_usd": budget, "remaining_usd": remaining,
            "since": since + "Z"}


async def usage_report(gateway, session_id=None):
    """The body of ``GET /v1/usage``."""
    from blufio.agent.cost import period_starts

    budget = gateway.agent.budget
    day, month = period_starts(budget.clock())
    today, this_month = await budget.spent()
    report = {"currency": "USD", "today": _period(today, budget.daily, day),
              "month": _period(this_month, budget.monthly, month)}
    if session_id is not None:
        if await gateway.storage.get_session(session_id) is None:
            raise GatewayError(404, f"no session with id '{session_id}'")
        entries = await gateway.storage.cost_entries(session_id=session_id)
        total = sum((entry.usage for entry in entries), Usage())
        report["session"] = {
            "id": session_id, "cost_usd": round(sum(e.cost_usd for e in entries), 6),
            "usage": total.as_dict(),
            "calls": [{"created_at": e.created_at, "model": e.model, "usage": e.usage.as_dict(),
                       "cost_usd": round(e.cost_usd, 6)} for e in entries]}
    return report


def add_routes(app, gateway):
    @app.get("/v1/usage")
    async def usage():
        return await usage_report(gateway, request.args.get("session_id"))


OPENAPI_SCHEMAS = {
    "SpendPeriod": {
        "type": "object", "required": ["cost_usd", "budget_usd", "remaining_usd", "since"],
        "properties": {"cost_usd": {"type": "number"},
                       "budget_usd": {"type": ["number", "null"],
                                      "description": "null: no budget set"},
                       "remaining_usd": {"type": ["number", "null"]},
                       "since": {"type": "string", "description": "start of the UTC period"}}},
    "UsageReport": {
        "type": "object", "required": ["currency", "today", "month"],
        "properties": {
            "currency": {"const": "USD"},
            "today": {"$ref": "#/components/schemas/SpendPeriod"},
            "month": {"$ref": "#/components/schemas/SpendPeriod"},
            "session": {"type": "object", "required": ["id", "cost_usd", "usage", "calls"],
                        "properties": {
                            "id": {"type": "string"}, "cost_usd": {"type": "number"},
                            "usage": {"$ref": "#/components/schemas/Usage"},
                            "calls": {"type": "array", "items": {"type": "object"}}}}}},
}


def openapi_paths(json_response, errors):
    """The OpenAPI paths of this module's route."""
    return {"/v1/usage": {"get": {
        "summary": "Spend today and this month against the budgets; a session's calls",
        "parameters": [{"name": "session_id", "in": "query", "required": False,
                        "schema": {"type": "string"},
                        "description": "Add this session's provider calls and their cost"}],
        "responses": {"200": json_response({"$ref": "#/components/schemas/UsageReport"},
                                           "The spend"),
                      **errors(401, 404)}}}}
