"""The scheduler: due runs start on time and once, it sleeps until the next, catches up once
after downtime, survives a crash between due and answered, and pauses capped schedules."""

import pytest
import asyncio
from datetime import datetime, timedelta, timezone

from blufio.model import text_of
from blufio.scheduler.timing import from_iso, to_iso
from tests.fakes.anthropic_server import http_error, stalled, text_reply, wait_for
from tests.scheduler.conftest import START, Harness

UTC = timezone.utc


async def prompts_and_replies(storage, session_id):
    return [(m.role, text_of(m.content)) for m in await storage.get_messages(session_id)]


async def test_a_one_shot_runs_at_its_time_in_its_targets_session(harness):
    session = await harness.session()
    schedule = await harness.book.create(prompt="say tick", target=f"session:{session.id}",
                                         within="1h")
    await harness.start()
    assert harness.clock.sleeps[-1] == START + timedelta(hours=1)  # sleeps until it is due

    await harness.move_to(START + timedelta(minutes=59))
    assert await harness.storage.get_messages(session.id) == []

    await harness.move_to(START + timedelta(hours=1))
    assert await prompts_and_replies(harness.storage, session.id) == [
        ("user", "say tick"), ("assistant", "echo: say tick")]
    assert harness.targets.delivered == [(f"session:{session.id}", "echo: say tick")]
    done = await harness.storage.get_schedule(schedule.id)
    assert done.status == "done" and done.next_run_at is None and done.last_outcome == "ok"
    assert done.spent_usd > 0
    [run] = await harness.runs(schedule.id)
    assert run.outcome == "ok" and run.due_at == to_iso(START + timedelta(hours=1))
    assert harness.observer.runs == {"ok": 1}
    assert harness.clock.sleeps[-1] is None  # nothing left: sleeps until woken


async def test_the_scheduler_wakes_early_when_a_schedule_is_added(harness):
    session = await harness.session()
    await harness.start()
    assert harness.clock.sleeps[-1] is None
    before = harness.clock.entered
    await harness.book.create(prompt="hi", target=f"session:{session.id}", within="5m")
    await harness.clock.asleep(after=before)
    assert harness.clock.sleeps[-1] == START + timedelta(minutes=5)


async def test_a_recurring_schedule_runs_at_each_local_time_through_a_dst_change(
        tmp_path, fake_anthropic):
    harness = await Harness(tmp_path, fake_anthropic).open()
    harness.clock.current = datetime(2026, 10, 23, 12, 0, tzinfo=UTC)
    try:
        session = await harness.session()
        schedule = await harness.book.create(prompt="morning", target=f"session:{session.id}",
                                             cron="0 9 * * *", timezone="Europe/Berlin")
        await harness.start()
        for _ in range(3):
            await harness.move_to(from_iso((await harness.storage.get_schedule(
                schedule.id)).next_run_at))
        runs = await harness.runs(schedule.id)
        assert [r.due_at for r in runs] == ["2026-10-24T07:00:00.000000Z",  # 09:00 CEST
                                            "2026-10-25T08:00:00.000000Z",  # 09:00 CET
                                            "2026-10-26T08:00:00.000000Z"]
        assert [r.outcome for r in runs] == ["ok"] * 3
    finally:
        await harness.close()


async def test_runs_missed_while_down_are_caught_up_once_not_once_per_slot(
        tmp_path, fake_anthropic):
    harness = await Harness(tmp_path, fake_anthropic).open()
    session = await harness.session()
    schedule = await harness.book.create(prompt="ping", target=f"session:{session.id}",
                                         cron="*/10 * * * *")
    await harness.close()  # Blufio is down for two hours: twelve slots go by

    harness.clock.current = START + timedelta(hours=2, minutes=3)
    await harness.open()
    try:
        await harness.start()
        await harness.scheduler.drain()
        [run] = await harness.runs(schedule.id)
        assert run.outcome == "ok" and run.due_at == to_iso(START + timedelta(minutes=10))
        assert len(fake_anthropic.message_requests) == 1
        after = await harness.storage.get_schedule(schedule.id)
        assert after.next_run_at == to_iso(START + timedelta(hours=2, minutes=10))
    finally:
        await harness.close()


async def test_with_catch_up_skip_a_missed_run_is_recorded_as_skipped(tmp_path, fake_anthropic):
    harness = await Harness(tmp_path, fake_anthropic).open()
    session = await harness.session()
    schedule = await harness.book.create(prompt="ping", target=f"session:{session.id}",
                                         cron="0 * * * *", catch_up="skip")
    await harness.close()

    harness.clock.current = START + timedelta(hours=5, minutes=30)
    await harness.open()
    try:
        await harness.start()
        [run] = await harness.runs(schedule.id)
        assert run.outcome == "skipped" and "missed" in run.error
        assert fake_anthropic.message_requests == []
        assert harness.observer.runs == {"skipped": 1}
        await harness.move_to(START + timedelta(hours=6))  # the next slot runs as usual
        assert [r.outcome for r in await harness.runs(schedule.id)] == ["skipped", "ok"]
    finally:
        await harness.close()


async def test_a_run_due_before_a_crash_is_answered_once_after_restart(tmp_path, fake_anthropic):
    harness = await Harness(tmp_path, fake_anthropic).open()
    session = await harness.session()
    schedule = await harness.book.create(prompt="remember", target=f"session:{session.id}",
                                         within="1m")
    fake_anthropic.add(stalled("Thin"))  # the process dies while the model is answering
    await harness.start()
    harness.clock.move_to(START + timedelta(minutes=1))
    assert await asyncio.to_thread(wait_for, lambda: fake_anthropic.message_requests)
    await harness.close()  # nothing of the turn was stored

    await harness.open()
    try:
        await harness.start()  # the run is not started again: it is already queued
        assert len(await harness.runs(schedule.id)) == 1
        resumed = await harness.agent.resume_unfinished(harness.scheduler.deliver,
                                                        channels=["schedule"])
        assert resumed == 1
        assert await prompts_and_replies(harness.storage, session.id) == [
            ("user", "remember"), ("assistant", "echo: remember")]
        [run] = await harness.runs(schedule.id)
        assert run.outcome == "ok"
        assert await harness.agent.resume_unfinished(harness.scheduler.deliver) == 0
        await harness.move_to(START + timedelta(days=1))
        assert len(await harness.runs(schedule.id)) == 1
    finally:
        await harness.close()


async def test_a_run_answered_before_a_crash_is_settled_on_start(tmp_path, fake_anthropic):
    harness = await Harness(tmp_path, fake_anthropic).open()
    session = await harness.session()
    schedule = await harness.book.create(prompt="x", target=f"session:{session.id}",
                                         within="1m")
    now = START + timedelta(minutes=1)
    run, inbound = await harness.storage.start_schedule_run(
        schedule.id, due_at=schedule.next_run_at, outcome="running", next_run_at=None,
        status="done", expected_next=schedule.next_run_at,
        inbound={"session_id": session.id, "channel": "schedule", "content": [],
                 "reply_to": {}})
    await harness.agent.process(inbound).wait()  # answered; then the process died
    await harness.close()

    harness.clock.current = now
    await harness.open()
    try:
        await harness.start()
        [settled] = await harness.runs(schedule.id)
        assert settled.id == run.id and settled.outcome == "ok" and settled.cost_usd > 0
    finally:
        await harness.close()


async def test_a_run_over_its_cap_pauses_the_schedule_with_one_notice(harness):
    session = await harness.session()
    target = f"session:{session.id}"
    schedule = await harness.book.create(prompt="tick", target=target, cron="* * * * *",
                                         max_run_usd=0.0001)
    await harness.start()
    await harness.move_to(START + timedelta(minutes=1))

    paused = await harness.storage.get_schedule(schedule.id)
    assert paused.status == "paused" and "over its cap of $0.0001" in paused.paused_reason
    [(to, notice)] = harness.targets.sent
    assert to == target and f"Schedule {schedule.id}" in notice and "paused" in notice
    assert f"blufio schedule resume {schedule.id}" in notice

    await harness.move_to(START + timedelta(minutes=5))  # paused: nothing more runs
    assert len(await harness.runs(schedule.id)) == 1 and len(harness.targets.sent) == 1

    resumed = await harness.book.resume(schedule.id)
    assert resumed.status == "active"
    assert resumed.next_run_at == to_iso(START + timedelta(minutes=6))


async def test_a_daily_cap_stops_the_next_run_before_it_reaches_the_model(harness):
    session = await harness.session()
    schedule = await harness.book.create(prompt="tick", target=f"session:{session.id}",
                                         cron="*/5 * * * *", max_day_usd=0.0002)
    await harness.start()
    await harness.move_to(START + timedelta(minutes=5))
    assert (await harness.storage.get_schedule(schedule.id)).status == "active"
    await harness.move_to(START + timedelta(minutes=10))  # 2 runs: the day's cap is spent
    assert (await harness.storage.get_schedule(schedule.id)).status == "paused"
    assert len(harness.targets.sent) == 1
    assert [r.outcome for r in await harness.runs(schedule.id)] == ["ok", "ok"]


async def test_the_scheduled_daily_budget_caps_every_schedule_together(tmp_path, fake_anthropic):
    harness = await Harness(tmp_path, fake_anthropic).open(daily_budget=0.0001)
    try:
        session = await harness.session()
        first = await harness.book.create(prompt="a", target=f"session:{session.id}",
                                          within="1m")
        second = await harness.book.create(prompt="b", target=f"session:{session.id}",
                                           within="2m")
        await harness.start()
        await harness.move_to(START + timedelta(minutes=1))
        await harness.move_to(START + timedelta(minutes=2))
        assert [r.outcome for r in await harness.runs(first.id)] == ["ok"]
        [capped] = await harness.runs(second.id)
        assert capped.outcome == "capped" and "scheduled_daily_budget_usd" in capped.error
        assert (await harness.storage.get_schedule(second.id)).status == "paused"
        assert len(fake_anthropic.message_requests) == 1
        assert [t for t, _ in harness.targets.sent] == [f"session:{session.id}"]
        assert harness.observer.runs == {"ok": 1, "capped": 1}
    finally:
        await harness.close()


async def test_an_unreachable_target_is_retried_then_the_run_fails_visibly(harness):
    session = await harness.session()
    schedule = await harness.book.create(prompt="x", target=f"session:{session.id}",
                                         within="1m")
    harness.targets.deliver_failures = 1
    harness.targets.send_failures = 3
    await harness.start()
    await harness.move_to(START + timedelta(minutes=1))
    assert harness.clock.pauses == [2.0, 10.0, 30.0]
    [run] = await harness.runs(schedule.id)
    assert run.outcome == "failed" and "could not deliver" in run.error
    assert (await harness.storage.get_schedule(schedule.id)).last_outcome == "failed"
    assert harness.observer.runs == {"failed": 1}


async def test_a_reply_that_could_not_be_rendered_is_sent_again(harness):
    session = await harness.session()
    schedule = await harness.book.create(prompt="x", target=f"session:{session.id}",
                                         within="1m")
    harness.targets.deliver_failures = 1
    harness.targets.send_failures = 1
    await harness.start()
    await harness.move_to(START + timedelta(minutes=1))
    assert harness.targets.sent == [(f"session:{session.id}", "echo: x")]
    assert [r.outcome for r in await harness.runs(schedule.id)] == ["ok"]


async def test_a_turn_that_fails_makes_a_failed_run_with_the_reason(harness, fake_anthropic):
    fake_anthropic.add(http_error(400, message="bad request from the fake"))
    session = await harness.session()
    schedule = await harness.book.create(prompt="x", target=f"session:{session.id}",
                                         within="1m")
    await harness.start()
    await harness.move_to(START + timedelta(minutes=1))
    [run] = await harness.runs(schedule.id)
    assert run.outcome == "failed" and "bad request from the fake" in run.error


async def test_a_target_gone_at_run_time_fails_the_run_and_the_schedule_moves_on(harness):
    session = await harness.session()
    schedule = await harness.book.create(prompt="x", target=f"session:{session.id}",
                                         cron="0 * * * *")
    harness.targets.session_for = _gone
    await harness.start()
    await harness.move_to(START + timedelta(hours=1))
    [run] = await harness.runs(schedule.id)
    assert run.outcome == "failed" and "is gone" in run.error
    assert (await harness.storage.get_schedule(schedule.id)).next_run_at == to_iso(
        START + timedelta(hours=2))


async def _gone(target):
    from blufio.errors import ScheduleError

    raise ScheduleError("target", f"{target} is gone")


async def test_run_now_runs_once_without_moving_the_schedules_own_time(harness):
    session = await harness.session()
    schedule = await harness.book.create(prompt="now", target=f"session:{session.id}",
                                         cron="0 9 * * *")
    await harness.start()
    before = harness.clock.entered
    await harness.book.run_now(schedule.id)
    await harness.clock.asleep(after=before)
    await harness.scheduler.drain()
    [run] = await harness.runs(schedule.id)
    assert run.outcome == "ok" and run.due_at == to_iso(START)
    after = await harness.storage.get_schedule(schedule.id)
    assert after.next_run_at == schedule.next_run_at and not after.run_now


@pytest.mark.slow  # waits out real time
async def test_a_thousand_schedules_each_run_once_at_their_time(harness, fake_anthropic):
    fake_anthropic.default = lambda request: text_reply("ok")
    sessions = [await harness.session() for _ in range(20)]
    ids = []
    for i in range(1000):  # one every 30 s over about 8 hours, interleaved
        target = f"session:{sessions[i % 20].id}"
        schedule = await harness.book.create(prompt=f"n{i}", target=target,
                                             within=f"{30 * ((i * 7) % 1000) + 30}s")
        ids.append(schedule.id)
    await harness.start()
    assert harness.clock.sleeps[-1] == START + timedelta(seconds=30)
    for hour in range(1, 10):
        await harness.move_to(START + timedelta(hours=hour))
    runs = [run for schedule_id in ids for run in await harness.runs(schedule_id)]
    assert len(runs) == 1000 and {r.outcome for r in runs} == {"ok"}
    assert len(fake_anthropic.message_requests) == 1000
    assert harness.observer.runs == {"ok": 1000}
    assert await harness.storage.next_schedule_due() is None


async def test_a_schedule_that_cannot_be_computed_is_paused_not_retried_forever(harness):
    from blufio.model import Schedule

    session = await harness.session()
    broken = await harness.storage.create_schedule(Schedule(  # as an older Blufio stored it
        "", "x", f"session:{session.id}", to_iso(START), cron="0 9 * * *",
        timezone="Mars/Olympus"))
    await harness.start()
    paused = await harness.storage.get_schedule(broken.id)
    assert paused.status == "paused" and "unknown time zone" in paused.paused_reason
    assert harness.clock.sleeps[-1] is None  # nothing due: asleep, not spinning
    [(_, notice)] = harness.targets.sent
    assert "could not be run" in notice

    await harness.storage.request_schedule_run(broken.id)  # asked to run while broken
    before = harness.clock.entered
    harness.scheduler.wake()
    await harness.clock.asleep(after=before)
    assert not (await harness.storage.get_schedule(broken.id)).run_now
    assert len(harness.targets.sent) == 1  # told once


async def test_a_queued_run_without_its_target_is_delivered_to_the_schedules(harness):
    session = await harness.session()
    schedule = await harness.book.create(prompt="x", target=f"session:{session.id}",
                                         within="1m")
    _, inbound = await harness.storage.start_schedule_run(
        schedule.id, due_at=schedule.next_run_at, outcome="running", next_run_at=None,
        status="done", expected_next=schedule.next_run_at,
        inbound={"session_id": session.id, "channel": "schedule",
                 "content": [{"type": "text", "text": "x"}]})
    await harness.agent.resume_unfinished(harness.scheduler.deliver)
    assert harness.targets.delivered == [(f"session:{session.id}", "echo: x")]
    assert [r.outcome for r in await harness.runs(schedule.id)] == ["ok"]


async def test_a_run_that_reaches_its_cap_mid_turn_stops_before_calling_the_model_again(
        harness, fake_anthropic):
    from tests.fakes.anthropic_server import tool_use_reply

    fake_anthropic.add(tool_use_reply("current_time", {}, text="Let me check."),
                       text_reply("never asked for"))
    session = await harness.session()
    schedule = await harness.book.create(prompt="what time is it", within="1m",
                                         target=f"session:{session.id}", max_run_usd=0.0001)
    await harness.start()
    await harness.move_to(START + timedelta(minutes=1))

    assert len(fake_anthropic.message_requests) == 1  # the tool round was not paid for
    [*_, (role, text)] = await prompts_and_replies(harness.storage, session.id)
    assert role == "assistant" and "this scheduled run has cost" in text
    [run] = await harness.runs(schedule.id)
    assert run.outcome == "ok" and run.cost_usd > 0.0001
    assert (await harness.storage.get_schedule(schedule.id)).status == "paused"
