"""SqliteStorage's schedules: stored, listed, started once, costed from the ledger."""

import sqlite3

from blufio.model import CostEntry, Schedule, Usage, text_blocks

T0 = "2026-11-25T09:00:00.000000Z"
T1 = "2026-11-26T09:00:00.000000Z"


async def a_schedule(storage, **fields):
    fields.setdefault("cron", "0 9 * * *")
    return await storage.create_schedule(Schedule("", "say hi", "session:s", T0, **fields))


async def start(storage, schedule, session_id, **changes):
    step = {"due_at": schedule.next_run_at, "outcome": "running", "next_run_at": T1,
            "status": "active", "expected_next": schedule.next_run_at,
            "inbound": {"session_id": session_id, "channel": "schedule",
                        "content": text_blocks(schedule.prompt),
                        "reply_to": {"target": schedule.target}}}
    step.update(changes)
    return await storage.start_schedule_run(schedule.id, **step)


async def test_a_schedule_is_stored_with_a_short_id_and_listed_by_next_run(storage):
    later = await storage.create_schedule(Schedule("", "b", "session:s", T1, cron="0 9 * * *"))
    sooner = await a_schedule(storage, timezone="Europe/Paris", max_run_usd=0.5)
    assert len(sooner.id) == 8 and sooner.status == "active" and sooner.kind == "cron"
    assert sooner.timezone == "Europe/Paris" and sooner.max_run_usd == 0.5
    assert sooner.created_at and sooner.run_count == 0
    assert [s.id for s in await storage.list_schedules()] == [sooner.id, later.id]
    assert await storage.get_schedule(sooner.id) == sooner
    assert await storage.delete_schedule(sooner.id) is True
    assert await storage.delete_schedule(sooner.id) is False
    assert [s.id for s in await storage.list_schedules()] == [later.id]


async def test_due_schedules_are_the_active_ones_due_and_those_asked_to_run(storage):
    due = await a_schedule(storage)
    not_yet = await storage.create_schedule(Schedule("", "x", "session:s", T1, cron="* * * * *"))
    paused = await a_schedule(storage)
    await storage.set_schedule_status(paused.id, "paused", reason="by hand", next_run_at=T0)
    assert [s.id for s in await storage.due_schedules("2026-11-25T10:00:00.000000Z")] == [due.id]
    assert await storage.next_schedule_due() == T0

    assert await storage.request_schedule_run(not_yet.id) is True
    due_now = await storage.due_schedules("2026-11-25T10:00:00.000000Z")
    assert {s.id for s in due_now} == {due.id, not_yet.id}
    assert await storage.next_schedule_due() < T0  # the run asked for is due at once
    assert await storage.request_schedule_run("nope") is False


async def test_starting_a_run_queues_its_prompt_and_moves_the_schedule_in_one_step(storage):
    session = await storage.create_session("gateway")
    schedule = await a_schedule(storage)
    run, inbound = await start(storage, schedule, session.id)

    assert inbound.channel == "schedule" and inbound.content == text_blocks("say hi")
    assert inbound.reply_to == {"target": "session:s", "schedule_id": schedule.id,
                                "run_id": run.id}
    assert run.inbound_id == inbound.id and run.outcome == "running" and run.due_at == T0
    assert [e.id for e in await storage.unfinished()] == [inbound.id]
    moved = await storage.get_schedule(schedule.id)
    assert moved.next_run_at == T1 and moved.run_count == 1 and moved.last_outcome == "running"


async def test_a_run_starts_only_once_even_if_two_starters_saw_it_due(storage):
    session = await storage.create_session("gateway")
    schedule = await a_schedule(storage)
    assert await start(storage, schedule, session.id) is not None
    assert await start(storage, schedule, session.id) is None  # it has moved on
    assert len(await storage.unfinished()) == 1

    await storage.set_schedule_status(schedule.id, "paused", next_run_at=T1)
    stale = await storage.get_schedule(schedule.id)
    assert await start(storage, stale, session.id, expected_next=T1) is None  # paused


async def test_a_failed_start_stores_nothing(storage):
    schedule = await a_schedule(storage)
    try:
        await start(storage, schedule, "no-such-session")
    except Exception as exc:  # the inbound entry's session must exist
        assert "FOREIGN KEY" in str(exc)
    else:
        raise AssertionError("a run for a missing session was started")
    assert await storage.unfinished() == []
    assert await storage.schedule_runs(schedule.id) == []
    assert (await storage.get_schedule(schedule.id)).next_run_at == T0


async def test_a_finished_run_is_costed_from_the_ledger_while_it_was_answered(storage):
    session = await storage.create_session("gateway")
    schedule = await a_schedule(storage)
    await storage.record_cost(CostEntry(session.id, "m", Usage(1, 1, 0, 0), 5.0))  # before
    run, inbound = await start(storage, schedule, session.id)
    await storage.claim(inbound.id)
    await storage.record_cost(CostEntry(session.id, "m", Usage(1, 1, 0, 0), 0.25))
    await storage.record_cost(CostEntry("another", "m", Usage(1, 1, 0, 0), 7.0))
    await storage.finish_turn(inbound.id, [])

    finished = await storage.finish_schedule_run(run.id, "ok")
    assert finished.outcome == "ok" and finished.cost_usd == 0.25 and finished.finished_at
    assert await storage.finish_schedule_run(run.id, "failed") is None  # already finished
    after = await storage.get_schedule(schedule.id)
    assert after.spent_usd == 0.25 and after.last_outcome == "ok"
    assert await storage.scheduled_cost_since("2000-01-01") == 0.25
    assert await storage.scheduled_cost_since("2000-01-01", schedule_id="other") == 0


async def test_unfinished_runs_come_with_their_inbound_entrys_status(storage):
    session = await storage.create_session("gateway")
    schedule = await a_schedule(storage)
    run, inbound = await start(storage, schedule, session.id)
    [(found, status, error)] = await storage.running_schedule_runs()
    assert found.id == run.id and status == "pending" and error == ""
    await storage.claim(inbound.id)
    await storage.fail_turn(inbound.id, "provider down")
    [(_, status, error)] = await storage.running_schedule_runs()
    assert (status, error) == ("failed", "provider down")


async def test_a_run_recorded_without_a_turn_finishes_at_once(storage):
    schedule = await a_schedule(storage)
    run, inbound = await start(storage, schedule, None, outcome="skipped", inbound=None,
                               error="missed")
    assert inbound is None and run.outcome == "skipped" and run.finished_at
    assert await storage.running_schedule_runs() == []
    assert (await storage.get_schedule(schedule.id)).last_error == "missed"


async def test_removing_a_schedule_removes_its_runs(storage):
    schedule = await a_schedule(storage)
    await start(storage, schedule, None, outcome="skipped", inbound=None)
    await storage.delete_schedule(schedule.id)
    conn = sqlite3.connect(storage.path)
    assert conn.execute("SELECT count(*) FROM schedule_runs").fetchone()[0] == 0
