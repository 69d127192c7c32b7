"""When a schedule runs: cron expressions in a time zone, one-shot times and durations.

Next runs of a cron expression are computed by ``cronsim`` (Debian cron's rules, including
its handling of daylight-saving changes: a daily job whose local time is skipped in spring
runs at the first minute after the jump, and one whose local time repeats in autumn runs
once; jobs that run at least hourly follow the wall clock through both). Every instant
here is an aware UTC ``datetime``; stored, it is an ISO-8601 string in ``utc_now``'s form.

Bad input raises ``ScheduleError`` naming the field (``cron``, ``timezone``, ``at``,
``in``), with what was expected.
"""

import re
from datetime import datetime, time, timedelta, timezone

from blufio.errors import ScheduleError

CRON_FORM = "5 fields: minute hour day-of-month month day-of-week, e.g. '0 9 * * 1-5'"
AT_FORM = "a local date and time such as 2026-12-01T09:00 (or just 09:00 for the next one)"
ALIASES = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
           "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
           "@annually": "0 0 1 1 *"}
_TIME_ONLY = re.compile(r"\d{1,2}:\d{2}(:\d{2})?", re.ASCII)


def to_iso(moment):
    """``moment`` (aware) as the stored UTC string."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text):
    """A stored UTC string as an aware ``datetime``."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def zone(name):
    """The ``tzinfo`` of the IANA time zone ``name``; ScheduleError when there is none."""
    from zoneinfo import ZoneInfo, available_timezones

    if not isinstance(name, str) or not name.strip():
        raise ScheduleError("timezone", "give an IANA time zone name such as 'Europe/Paris' "
                                        "or 'UTC'")
    try:
        return ZoneInfo(name.strip())
    except (ValueError, KeyError, OSError):
        if name.strip().upper() == "UTC":  # a system without a time zone database
            return timezone.utc
        hint = ("" if available_timezones() else "; this system has no time zone database "
                "(install the tzdata package)")
        raise ScheduleError("timezone", f"unknown time zone {name!r}; use an IANA name such "
                                        f"as 'Europe/Paris' or 'UTC'{hint}") from None


def check_cron(expression):
    """``expression`` normalised (single spaces, ``@daily`` and the like expanded); a
    ScheduleError naming what is wrong if it is not a 5-field cron expression that ever
    matches."""
    from cronsim import CronSim, CronSimError

    if not isinstance(expression, str) or not expression.strip():
        raise ScheduleError("cron", f"give a cron expression of {CRON_FORM}")
    text = " ".join(expression.split())
    text = ALIASES.get(text.lower(), text)
    fields = text.split(" ")
    if len(fields) != 5:
        raise ScheduleError("cron", f"{expression!r} has {len(fields)} field"
                                    f"{'' if len(fields) == 1 else 's'}; use {CRON_FORM}")
    try:
        iterator = CronSim(text, datetime(2000, 1, 1))
    except CronSimError as exc:
        reason = str(exc)[:1].lower() + str(exc)[1:]
        raise ScheduleError("cron", f"{expression!r} is not a valid cron expression "
                                    f"({reason}); use {CRON_FORM}") from None
    try:
        next(iterator)
    except StopIteration:
        raise ScheduleError("cron", f"{expression!r} never matches a date") from None
    return text


def next_cron(expression, timezone_name, after):
    """The first time after ``after`` that ``expression`` matches in ``timezone_name``
    (aware UTC), or None when it never matches again."""
    from cronsim import CronSim

    local = after.astimezone(zone(timezone_name))
    try:
        return next(CronSim(expression, local)).astimezone(timezone.utc)
    except StopIteration:
        return None


def describe_cron(expression):
    """``expression`` in words (``At 09:00 on Monday through Friday``)."""
    from cronsim import CronSim

    try:
        return CronSim(expression, datetime(2000, 1, 1)).explain()
    except Exception:  # noqa: BLE001 - explain() covers most, not all, cronsim accepts
        return expression


def parse_duration(text):
    """Seconds in ``text`` (``30s``, ``15m``, ``2h``, ``1d``, ``1h30m``); field ``in``."""
    from blufio.durations import parse_duration as seconds_in

    try:
        return seconds_in(text)
    except ValueError as exc:
        raise ScheduleError("in", str(exc)) from None


def parse_in(text, now):
    """The instant ``text`` (a duration) after ``now``."""
    return now + timedelta(seconds=parse_duration(text))


def parse_at(text, timezone_name, now):
    """The instant ``text`` names, read in ``timezone_name`` unless it carries an offset.

    ``HH:MM`` alone is the next such local time. A time that is not after ``now`` is a
    ScheduleError (field ``at``)."""
    if not isinstance(text, str) or not text.strip():
        raise ScheduleError("at", f"give {AT_FORM}")
    text = text.strip()
    tz = zone(timezone_name)
    if _TIME_ONLY.fullmatch(text):
        return _next_local_time(text, tz, now)
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z"))
                                        else text)
    except ValueError:
        raise ScheduleError("at", f"{text!r} is not a date and time; use {AT_FORM}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    moment = moment.astimezone(timezone.utc)
    if moment <= now:
        shown = now.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        raise ScheduleError("at", f"{text} is in the past (it is now {shown} in "
                                  f"{timezone_name}); give a later time")
    return moment


def _next_local_time(text, tz, now):
    try:
        wanted = time.fromisoformat(text if len(text.split(":")[0]) == 2 else "0" + text)
    except ValueError:
        raise ScheduleError("at", f"{text!r} is not a time of day; use {AT_FORM}") from None
    today = now.astimezone(tz).date()
    for day in (today, today + timedelta(days=1), today + timedelta(days=2)):
        moment = datetime.combine(day, wanted, tzinfo=tz).astimezone(timezone.utc)
        if moment > now:
            return moment
    raise AssertionError("unreachable: a time of day recurs within two days")


def local_text(moment, timezone_name):
    """``moment`` as local ``YYYY-MM-DD HH:MM`` in ``timezone_name`` (``:SS`` too when the
    seconds are not zero, as for ``--in 90s``)."""
    local = moment.astimezone(zone(timezone_name))
    return local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")

