"""The agent's schedule tools: ``schedule_create``, ``schedule_list``, ``schedule_cancel``.

"Remind me tomorrow at 9 to call Anna", typed in a Telegram chat, becomes a
``schedule_create`` call whose target defaults to that chat; typed in the gateway or the
shell, to that session. Bad arguments are an error result naming the field, which the
model can correct; nothing is stored.
"""

import json

from blufio.agent.tools import CURRENT_INBOUND, Tool
from blufio.errors import ScheduleError, ToolError
from blufio.scheduler.book import schedule_json
from blufio.scheduler.timing import from_iso, local_text

CAPABILITY = "schedules"

_CREATE_SCHEMA = {"type": "object", "properties": {
    "prompt": {"type": "string", "description": "What you will be told at each run, as if "
               "the user sent it, e.g. 'Remind the user to call Anna.'"},
    "at": {"type": "string", "description": "One run at this local date and time, "
           "YYYY-MM-DDTHH:MM (in timezone)"},
    "in": {"type": "string", "description": "One run after this long: 30s, 15m, 2h, 1d or "
           "1h30m"},
    "cron": {"type": "string", "description": "Recurring runs: a 5-field cron expression "
             "(minute hour day-of-month month day-of-week), e.g. '0 8 * * 1-5'"},
    "timezone": {"type": "string", "description": "IANA time zone of at/cron, e.g. "
                 "'Europe/Paris'; default the owner's configured zone"},
    "target": {"type": "string", "description": "Where runs are answered: telegram:<chat id> "
               "or session:<id>; default this conversation"},
    "max_usd_per_run": {"type": "number", "description": "Pause the schedule after a run "
                        "that cost more than this"},
    "max_usd_per_day": {"type": "number", "description": "Pause the schedule once its runs "
                        "cost this much in a day"}},
    "required": ["prompt"]}


def register(registry, book):
    """Add the three tools to ``registry``, working on ``book`` (a ``ScheduleBook``)."""
    tools = _ScheduleTools(book)
    registry.register(Tool(
        "schedule_create", "Schedule a reminder or a recurring task: at each run the prompt "
        "is sent to you in the target conversation and your answer goes there. Give exactly "
        "one of at, in or cron. Use current_time first to turn words like 'tomorrow at 9' "
        "into a date.", _CREATE_SCHEMA, CAPABILITY, tools.create, timeout=30.0))
    registry.register(Tool(
        "schedule_list", "List the scheduled reminders and tasks: id, when, next run, status.",
        {"type": "object", "properties": {}}, CAPABILITY, tools.list, timeout=30.0))
    registry.register(Tool(
        "schedule_cancel", "Cancel (delete) a scheduled reminder or task by its id.",
        {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
        CAPABILITY, tools.cancel, timeout=30.0))


def default_target(inbound):
    """The target that answers where ``inbound`` came from: its Telegram chat, the target
    of the scheduled run it is, or its session."""
    if inbound is None:
        return None
    reply_to = inbound.reply_to or {}
    if inbound.channel == "telegram" and "chat_id" in reply_to:
        return f"telegram:{reply_to['chat_id']}"
    if reply_to.get("target"):
        return reply_to["target"]
    return f"session:{inbound.session_id}"


class _ScheduleTools:
    def __init__(self, book):
        self.book = book

    async def create(self, arguments):
        target = arguments.get("target") or default_target(CURRENT_INBOUND.get())
        if target is None:
            raise ToolError("target: give a target (telegram:<chat id> or session:<id>)")
        try:
            schedule = await self.book.create(
                prompt=arguments.get("prompt"), target=target, cron=arguments.get("cron"),
                at=arguments.get("at"), within=arguments.get("in"),
                timezone=arguments.get("timezone"),
                max_run_usd=arguments.get("max_usd_per_run"),
                max_day_usd=arguments.get("max_usd_per_day"))
        except ScheduleError as exc:
            raise ToolError(str(exc)) from None
        return json.dumps(_shown(schedule))

    async def list(self, arguments):
        return json.dumps([_shown(s) for s in await self.book.list()])

    async def cancel(self, arguments):
        try:
            schedule = await self.book.remove(arguments.get("id"))
        except ScheduleError as exc:
            raise ToolError(str(exc)) from None
        return json.dumps({"cancelled": schedule.id, "prompt": schedule.prompt})


def _shown(schedule):
    """What the model is told: the stored fields and the next run in local time."""
    shown = schedule_json(schedule)
    if schedule.next_run_at and schedule.status == "active":
        local = local_text(from_iso(schedule.next_run_at), schedule.timezone)
        shown["next_run_local"] = f"{local} {schedule.timezone}"
    return shown
