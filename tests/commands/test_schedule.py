"""``blufio schedule``: the real command line in a subprocess, over this test's database."""

import json

import pytest

from blufio.plugins.sqlite.storage import SqliteStorage


@pytest.fixture
async def session_id(config):
    storage = SqliteStorage(config)
    await storage.open()
    session = await storage.create_session("gateway")
    await storage.shutdown()
    return session.id


def listed(blufio):
    result = blufio("schedule", "list", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def test_add_prints_the_id_and_list_shows_the_schedule(blufio, session_id):
    added = blufio("schedule", "add", "--in", "2h", "say tick", "--to", f"session:{session_id}",
                   "--max-usd", "0.25")
    assert added.returncode == 0, added.stderr
    schedule_id = added.stdout.strip()
    assert len(schedule_id) == 8
    assert f"schedule {schedule_id}: once (UTC); next run" in added.stderr
    assert "serve is not running" in added.stderr

    [shown] = listed(blufio)
    assert shown["id"] == schedule_id and shown["kind"] == "once"
    assert shown["prompt"] == "say tick" and shown["max_run_usd"] == 0.25
    table = blufio("schedule", "list")
    assert table.stdout.splitlines()[0].split() == ["ID", "STATUS", "WHEN", "NEXT", "RUN",
                                                    "LAST", "RUN", "SPENT", "TARGET", "PROMPT"]
    assert schedule_id in table.stdout and "1 schedule" in table.stdout


async def test_a_cron_schedule_in_a_zone_is_paused_resumed_run_and_removed(blufio, session_id):
    added = blufio("schedule", "add", "0 9 * * 1-5", "summarise my inbox", "--to",
                   f"session:{session_id}", "--tz", "Europe/Paris", "--catch-up", "skip",
                   "--max-usd-day", "1")
    assert added.returncode == 0, added.stderr
    schedule_id = added.stdout.strip()
    [shown] = listed(blufio)
    assert (shown["cron"], shown["timezone"], shown["catch_up"], shown["max_day_usd"]) == (
        "0 9 * * 1-5", "Europe/Paris", "skip", 1.0)

    assert "paused schedule" in blufio("schedule", "pause", schedule_id).stdout
    assert listed(blufio)[0]["status"] == "paused"
    assert "is active" in blufio("schedule", "resume", schedule_id).stdout
    assert "will run now" in blufio("schedule", "run", schedule_id).stdout
    assert "removed" in blufio("schedule", "remove", schedule_id).stdout
    assert listed(blufio) == []


@pytest.mark.parametrize("arguments, words", [
    (["0 25 * * *", "hi"], "CRON: '0 25 * * *' is not a valid cron expression (bad hour)"),
    (["--at", "2020-01-01T09:00", "hi"], "--at: 2020-01-01T09:00 is in the past"),
    (["--in", "soon", "hi"], "--in: 'soon' is not a duration"),
    (["--in", "5m", "hi", "--tz", "Mars/Olympus"], "--tz: unknown time zone 'Mars/Olympus'"),
    (["--in", "5m", "hi", "--max-usd", "lots"], "--max-usd: 'lots' is not an amount"),
    (["--in", "5m", "hi", "--catch-up", "twice"], "--catch-up: 'twice' is not one of"),
])
async def test_bad_input_exits_2_naming_the_field_and_stores_nothing(blufio, session_id,
                                                                    arguments, words):
    result = blufio("schedule", "add", *arguments, "--to", f"session:{session_id}")
    assert result.returncode == 2
    assert result.stderr.startswith(f"blufio: error: {words}"), result.stderr
    assert "Traceback" not in result.stderr
    assert listed(blufio) == []


def test_a_target_that_does_not_exist_exits_2(blufio):
    result = blufio("schedule", "add", "--in", "5m", "hi", "--to", "telegram:42")
    assert result.returncode == 2 and "--to: Telegram chat 42 has never written" in result.stderr
    result = blufio("schedule", "add", "--in", "5m", "hi", "--to", "nowhere")
    assert result.returncode == 2 and "--to: 'nowhere' is not a target" in result.stderr


def test_an_unknown_id_exits_2(blufio):
    for command in ("remove", "pause", "resume", "run"):
        result = blufio("schedule", command, "nope")
        assert result.returncode == 2 and "there is no schedule 'nope'" in result.stderr
