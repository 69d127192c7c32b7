"""``ScheduleBook``: making and changing schedules from what a person (or the model) asked.

The command line, the agent's tools and the gateway all go through it, so they accept and
refuse the same things: exactly one of ``cron``, ``at`` or ``in``; a time zone that exists;
a time that is not past; a target that exists; caps that are positive amounts of USD.
Anything wrong raises ``ScheduleError`` naming the field, before anything is stored.
``on_change`` is called after every change (the running scheduler's ``wake``).
"""

from blufio.errors import ConfigError, ScheduleError, ScheduleNotFoundError
from blufio.model import Schedule
from blufio.scheduler.clock import SystemClock
from blufio.scheduler.targets import check_target
from blufio.scheduler.timing import check_cron, next_cron, parse_at, parse_in, to_iso, zone

CATCH_UP = ("once", "skip")
MAX_PROMPT_CHARS = 20_000


class ScheduleBook:
    """Schedules in ``storage``, checked as described in the module docstring."""

    def __init__(self, storage, *, clock=None, timezone="UTC", catch_up="once",
                 on_change=None):
        self.storage = storage
        self.clock = clock or SystemClock()
        self.timezone = timezone or "UTC"
        self.catch_up = catch_up or "once"
        self.on_change = on_change

    async def create(self, *, prompt, target, cron=None, at=None, within=None, timezone=None,
                     max_run_usd=None, max_day_usd=None, catch_up=None):
        """Store a new schedule; ``within`` is the ``--in`` duration. Returns it."""
        prompt = _prompt(prompt)
        timezone = timezone or self.timezone
        zone(timezone)
        catch_up = catch_up or self.catch_up
        if catch_up not in CATCH_UP:
            raise ScheduleError("catch_up", f"{catch_up!r} is not one of: once, skip")
        caps = {"max_run_usd": _usd("max_run_usd", max_run_usd),
                "max_day_usd": _usd("max_day_usd", max_day_usd)}
        given = [name for name, value in (("cron", cron), ("at", at), ("in", within))
                 if value not in (None, "")]
        if len(given) != 1:
            raise ScheduleError("when", "give exactly one of cron, at or in" +
                                (f" (got {', '.join(given)})" if given else ""))
        now = self.clock.now()
        if cron not in (None, ""):
            cron = check_cron(cron)
            first = next_cron(cron, timezone, now)
        else:
            cron = ""
            first = parse_at(at, timezone, now) if at else parse_in(within, now)
        target = await check_target(self.storage, target)
        schedule = await self.storage.create_schedule(Schedule(
            "", prompt, target, to_iso(first), cron=cron, timezone=timezone,
            catch_up=catch_up, **caps))
        self._changed()
        return schedule

    async def get(self, schedule_id):
        """The schedule ``schedule_id``; ScheduleNotFoundError (field ``id``) if none."""
        schedule = await self.storage.get_schedule(str(schedule_id or "").strip())
        if schedule is None:
            raise ScheduleNotFoundError(f"there is no schedule {schedule_id!r}; see "
                                        "'schedule list'")
        return schedule

    async def list(self, *, target=None):
        return await self.storage.list_schedules(target=target)

    async def remove(self, schedule_id):
        schedule = await self.get(schedule_id)
        await self.storage.delete_schedule(schedule.id)
        self._changed()
        return schedule

    async def pause(self, schedule_id):
        schedule = await self.get(schedule_id)
        if schedule.status != "active":
            raise ScheduleError("id", f"schedule {schedule.id} is {schedule.status}, not active")
        paused = await self.storage.set_schedule_status(
            schedule.id, "paused", reason="paused by hand", next_run_at=schedule.next_run_at,
            only_from=("active",))
        self._changed()
        return paused or await self.get(schedule.id)

    async def resume(self, schedule_id):
        """Make a paused schedule active again; a recurring one continues from its next
        time after now (the runs it missed while paused are not made up)."""
        schedule = await self.get(schedule_id)
        if schedule.status != "paused":
            raise ScheduleError("id", f"schedule {schedule.id} is {schedule.status}, not paused")
        next_run_at = schedule.next_run_at  # a one-shot that has not run: its time
        if schedule.cron:
            upcoming = next_cron(schedule.cron, schedule.timezone, self.clock.now())
            next_run_at = to_iso(upcoming) if upcoming else None
        elif schedule.run_count:
            next_run_at = None  # a one-shot that ran has nothing left to run
        resumed = await self.storage.set_schedule_status(
            schedule.id, "active" if next_run_at else "done", next_run_at=next_run_at,
            only_from=("paused",))
        self._changed()
        return resumed or await self.get(schedule.id)

    async def run_now(self, schedule_id):
        """Ask for one run now, besides the schedule's own times."""
        schedule = await self.get(schedule_id)
        await self.storage.request_schedule_run(schedule.id)
        self._changed()
        return schedule

    def _changed(self):
        if self.on_change is not None:
            self.on_change()


def _prompt(prompt):
    if not isinstance(prompt, str) or not prompt.strip():
        raise ScheduleError("prompt", "give the text the agent is to be sent at each run")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ScheduleError("prompt", f"is {len(prompt)} characters; the most is "
                                      f"{MAX_PROMPT_CHARS}")
    return prompt.strip()


def _usd(field, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ScheduleError(field, f"{value!r} is not an amount of USD")
    try:
        amount = float(value)
    except ValueError:
        raise ScheduleError(field, f"{value!r} is not an amount of USD, e.g. 0.50") from None
    if not 0 < amount < 1_000_000:
        raise ScheduleError(field, f"{value!r} must be more than 0")
    return amount


def book_from_config(config, storage, on_change=None, clock=None):
    """A ``ScheduleBook`` with ``[schedules]``'s defaults; ConfigError if they are wrong.
    Without ``on_change``, each change wakes a ``serve`` running on the same database."""
    if on_change is None:
        from blufio.scheduler.wake import poke

        path = getattr(storage, "path", config.data_dir)
        on_change = lambda: poke(path)  # noqa: E731
    timezone = config.get("schedules.timezone")
    catch_up = config.get("schedules.catch_up")
    try:
        zone(timezone)
    except ScheduleError as exc:
        raise ConfigError(f"[schedules] {exc}") from None
    if catch_up not in CATCH_UP:
        raise ConfigError(f"[schedules] catch_up: {catch_up!r} is not one of: once, skip")
    return ScheduleBook(storage, clock=clock, timezone=timezone, catch_up=catch_up,
                        on_change=on_change)


def describe(schedule):
    """``cron 0 9 * * 1-5 (Europe/Paris)`` or ``once (UTC)``."""
    kind = f"cron {schedule.cron}" if schedule.cron else "once"
    return f"{kind} ({schedule.timezone})"


def short(text, limit=60):
    """``text`` on one line, cut to ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def schedule_json(schedule):
    """The schedule as the gateway, the agent's tools and ``schedule list --json`` show it."""
    return {"id": schedule.id, "prompt": schedule.prompt, "target": schedule.target,
            "kind": schedule.kind, "cron": schedule.cron or None,
            "timezone": schedule.timezone, "status": schedule.status,
            "paused_reason": schedule.paused_reason or None, "catch_up": schedule.catch_up,
            "max_run_usd": schedule.max_run_usd, "max_day_usd": schedule.max_day_usd,
            "next_run_at": schedule.next_run_at, "last_run_at": schedule.last_run_at,
            "last_outcome": schedule.last_outcome or None,
            "last_error": schedule.last_error or None, "run_count": schedule.run_count,
            "spent_usd": schedule.spent_usd, "created_at": schedule.created_at}
