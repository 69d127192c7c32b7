"""``blufio schedule add | list | remove | pause | resume | run``: reminders and recurring
prompts.

They change the database directly and then wake a running ``serve`` (``scheduler.wake``),
which starts the runs; without one running, due runs start (once) when it next starts.
``schedule add`` prints the new schedule's id alone on stdout, so
``ID=$(blufio schedule add --in 1h "stretch" --to session:abc)`` works; notes go to stderr.
"""

import sys

from blufio import eventloop
from blufio.errors import BlufioError
from blufio.hints import invocation


def run(args):
    from blufio.config import load_config

    config = load_config(args["--config"])
    for name in ("add", "list", "remove", "pause", "resume", "run"):
        if args[name]:
            return eventloop.run(_with_book(config, globals()[f"cmd_{name}"], args))
    raise BlufioError("unknown schedule command")  # pragma: no cover - docopt prevents it


async def _with_book(config, command, args):
    from blufio.registry import PluginRegistry
    from blufio.scheduler.book import book_from_config
    from blufio.scheduler.wake import poke

    registry = PluginRegistry(config)
    storage = registry.create(registry.require("storage").name)
    await storage.open()
    try:
        path = getattr(storage, "path", config.data_dir)
        woken = []
        book = book_from_config(config, storage, on_change=lambda: woken.append(poke(path)))
        code = await command(book, args)
        if woken and not woken[-1] and command is not cmd_list:
            print("note: serve is not running here; the schedule runs once it is started",
                  file=sys.stderr)
        return code
    finally:
        await storage.shutdown()


# The command line's name for each field a ScheduleError can name.
FLAGS = {"cron": "CRON", "prompt": "TEXT", "at": "--at", "in": "--in", "target": "--to",
         "timezone": "--tz", "max_run_usd": "--max-usd", "max_day_usd": "--max-usd-day",
         "catch_up": "--catch-up"}


async def cmd_add(book, args):
    from blufio.errors import ScheduleError
    from blufio.scheduler.book import describe

    try:
        schedule = await book.create(
            prompt=args["TEXT"], target=args["--to"], cron=args["CRON"], at=args["--at"],
            within=args["--in"], timezone=args["--tz"], max_run_usd=args["--max-usd"],
            max_day_usd=args["--max-usd-day"], catch_up=args["--catch-up"])
    except ScheduleError as exc:
        if exc.field not in FLAGS:
            raise
        raise ScheduleError(FLAGS[exc.field], exc.detail) from None
    print(schedule.id)
    print(f"schedule {schedule.id}: {describe(schedule)}; next run {next_run(schedule)}; "
          f"answers go to {schedule.target}", file=sys.stderr)
    return 0


async def cmd_list(book, args):
    from blufio.commands import print_table
    from blufio.scheduler.book import describe, schedule_json, short

    schedules = await book.list()
    if args["--json"]:
        import json

        print(json.dumps([schedule_json(s) for s in schedules], indent=2))
        return 0
    if not schedules:
        print(f"no schedules yet; add one with '{invocation()} schedule add --in 1h "
              "\"stretch\" --to session:ID'")
        return 0
    print_table(("ID", "STATUS", "WHEN", "NEXT RUN", "LAST RUN", "SPENT", "TARGET", "PROMPT"),
                [(s.id, s.status, describe(s), next_run(s), last_run(s), _usd(s.spent_usd),
                  s.target, short(s.prompt, 40)) for s in schedules])
    for schedule in schedules:
        if schedule.status == "paused" and schedule.paused_reason:
            print(f"{schedule.id} is paused: {schedule.paused_reason}")
    print(f"{len(schedules)} schedule{'' if len(schedules) == 1 else 's'}")
    return 0


async def cmd_remove(book, args):
    schedule = await book.remove(args["ID"])
    print(f"removed schedule {schedule.id}")
    return 0


async def cmd_pause(book, args):
    schedule = await book.pause(args["ID"])
    print(f"paused schedule {schedule.id}; resume it with "
          f"'{invocation()} schedule resume {schedule.id}'")
    return 0


async def cmd_resume(book, args):
    schedule = await book.resume(args["ID"])
    print(f"schedule {schedule.id} is {schedule.status}; next run {next_run(schedule)}")
    return 0


async def cmd_run(book, args):
    schedule = await book.run_now(args["ID"])
    print(f"schedule {schedule.id} will run now")
    return 0


# -- how a schedule reads in a table ------------------------------------------------------

def next_run(schedule):
    from blufio.scheduler.timing import from_iso, local_text

    if schedule.status != "active" or not schedule.next_run_at:
        return "-"
    return local_text(from_iso(schedule.next_run_at), schedule.timezone)


def last_run(schedule):
    from blufio.scheduler.timing import from_iso, local_text

    if not schedule.last_run_at:
        return "-"
    when = local_text(from_iso(schedule.last_run_at), schedule.timezone)
    shown = {"running": "running", "ok": "done"}.get(schedule.last_outcome,
                                                     schedule.last_outcome)
    return f"{when} {shown}"


def _usd(amount):
    from blufio.agent.cost import usd

    return usd(amount)
