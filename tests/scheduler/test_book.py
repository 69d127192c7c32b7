"""ScheduleBook: what the CLI, the agent's tools and the gateway accept, and what they refuse
(a clear error naming the field, and nothing stored)."""

from datetime import timedelta

import pytest

from blufio.errors import ScheduleError
from blufio.scheduler.targets import TELEGRAM_SESSION_KEY, parse_target
from blufio.scheduler.timing import to_iso
from tests.scheduler.conftest import START


async def test_a_cron_schedule_starts_at_its_next_time_in_its_zone(harness):
    session = await harness.session()
    schedule = await harness.book.create(prompt=" summarise my inbox ",
                                         target=f"session:{session.id}", cron="0 8 * * *",
                                         timezone="Europe/Paris", max_run_usd="0.5",
                                         max_day_usd=2)
    assert schedule.prompt == "summarise my inbox" and schedule.kind == "cron"
    assert schedule.next_run_at == to_iso(START + timedelta(days=1) - timedelta(hours=1))
    assert (schedule.max_run_usd, schedule.max_day_usd) == (0.5, 2.0)
    assert schedule.catch_up == "once" and schedule.status == "active"


async def test_a_telegram_chat_that_has_written_to_the_bot_is_a_target(harness):
    session = await harness.session("telegram")
    await harness.storage.set_state(TELEGRAM_SESSION_KEY.format(chat_id=42), session.id)
    schedule = await harness.book.create(prompt="call Anna", target=" telegram:42",
                                         at="09:00")
    assert schedule.target == "telegram:42" and schedule.kind == "once"
    assert schedule.next_run_at == to_iso(START + timedelta(hours=1))


def test_the_telegram_session_key_is_the_telegram_channels_own():
    from blufio.plugins.telegram.channel import SESSION_KEY

    assert SESSION_KEY == TELEGRAM_SESSION_KEY


@pytest.mark.parametrize("fields, field, words", [
    ({"cron": "0 25 * * *"}, "cron", "bad hour"),
    ({"cron": "0 9 * * *", "timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
    ({"at": "2020-01-01T09:00"}, "at", "in the past"),
    ({"within": "soon"}, "in", "not a duration"),
    ({}, "when", "exactly one of cron, at or in"),
    ({"cron": "* * * * *", "within": "5m"}, "when", "got cron, in"),
    ({"within": "5m", "target": "telegram:42"}, "target", "never written to this bot"),
    ({"within": "5m", "target": "session:nope"}, "target", "no session 'nope'"),
    ({"within": "5m", "target": "email:me"}, "target", "not a target"),
    ({"within": "5m", "prompt": "  "}, "prompt", "give the text"),
    ({"within": "5m", "max_run_usd": -1}, "max_run_usd", "more than 0"),
    ({"within": "5m", "max_day_usd": "lots"}, "max_day_usd", "not an amount"),
    ({"within": "5m", "catch_up": "twice"}, "catch_up", "once, skip"),
])
async def test_bad_input_is_an_error_naming_the_field_and_nothing_is_stored(
        harness, fields, field, words):
    session = await harness.session()
    arguments = {"prompt": "hi", "target": f"session:{session.id}", **fields}
    with pytest.raises(ScheduleError) as caught:
        await harness.book.create(**arguments)
    assert caught.value.field == field and words in str(caught.value)
    assert caught.value.exit_code == 2
    assert await harness.storage.list_schedules() == []


async def test_pause_resume_remove_and_run_need_a_schedule_that_exists(harness):
    for action in (harness.book.pause, harness.book.resume, harness.book.remove,
                   harness.book.run_now):
        with pytest.raises(ScheduleError) as caught:
            await action("nope")
        assert caught.value.field == "id" and "schedule list" in str(caught.value)


async def test_a_schedule_is_paused_and_resumed_by_hand(harness):
    session = await harness.session()
    schedule = await harness.book.create(prompt="hi", target=f"session:{session.id}",
                                         cron="0 * * * *")
    paused = await harness.book.pause(schedule.id)
    assert paused.status == "paused" and paused.paused_reason == "paused by hand"
    with pytest.raises(ScheduleError, match="is paused, not active"):
        await harness.book.pause(schedule.id)
    harness.clock.advance(hours=3, minutes=30)
    resumed = await harness.book.resume(schedule.id)  # from the next hour, not the missed ones
    assert resumed.status == "active" and resumed.paused_reason == ""
    assert resumed.next_run_at == to_iso(START + timedelta(hours=4))
    removed = await harness.book.remove(schedule.id)
    assert removed.id == schedule.id and await harness.storage.list_schedules() == []


def test_targets_are_a_telegram_chat_or_a_session():
    assert parse_target("telegram:-100123") == ("telegram", -100123)
    assert parse_target("session:abc_1") == ("session", "abc_1")
    for bad in ("telegram:me", "session:", "shell", "", None):
        with pytest.raises(ScheduleError):
            parse_target(bad)
