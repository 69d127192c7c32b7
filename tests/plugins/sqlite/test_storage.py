"""SqliteStorage: the storage contract, migrations, crash safety and file modes."""

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap

import pytest

from blufio.errors import SchemaTooNewError, StorageError
from blufio.model import CostEntry, NewMessage, Usage, text_blocks
from blufio.plugins.sqlite.migrations import MIGRATIONS
from blufio.plugins.sqlite.storage import SqliteStorage


async def test_a_new_database_is_migrated_to_the_latest_schema(storage):
    conn = sqlite3.connect(storage.path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_the_database_is_private_in_a_private_directory(storage):
    assert stat.S_IMODE(os.stat(storage.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(storage.path)).st_mode) == 0o700


async def test_sessions_are_listed_newest_first_with_message_counts(storage):
    first = await storage.create_session("shell")
    second = await storage.create_session("gateway", title="two")
    await storage.append_messages(first.id, [NewMessage("user", text_blocks("hi"))])

    listed = await storage.list_sessions()
    assert [s.id for s in listed] == [first.id, second.id]
    assert listed[0].message_count == 1
    assert await storage.count_sessions() == 2
    assert [s.id for s in await storage.list_sessions(limit=1, offset=1)] == [second.id]
    assert [s.id for s in await storage.list_sessions(channel="gateway")] == [second.id]
    assert await storage.get_session("nope") is None


async def test_messages_keep_their_content_blocks_and_usage(storage):
    session = await storage.create_session("shell")
    blocks = [{"type": "tool_use", "id": "t1", "name": "now", "input": {}}]
    await storage.append_messages(session.id, [
        NewMessage("user", text_blocks("what time is it?")),
        NewMessage("assistant", blocks, "claude-x", Usage(10, 5, 2, 1)),
    ])
    messages = await storage.get_messages(session.id)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].content == blocks
    assert messages[1].usage == Usage(10, 5, 2, 1)
    assert [m.role for m in await storage.get_messages(session.id, limit=1)] == ["assistant"]


async def test_a_turn_moves_from_pending_to_done_with_its_messages(storage):
    session = await storage.create_session("telegram")
    inbound = await storage.enqueue(session.id, "telegram", text_blocks("hi"),
                                    reply_to={"chat_id": 42})
    assert [i.id for i in await storage.unfinished()] == [inbound.id]
    assert await storage.claim(inbound.id) is True
    assert await storage.claim(inbound.id) is False  # only once
    await storage.finish_turn(inbound.id, [NewMessage("user", text_blocks("hi")),
                                           NewMessage("assistant", text_blocks("hello"))])
    assert await storage.unfinished() == []
    assert len(await storage.get_messages(session.id)) == 2


async def test_a_failing_turn_stores_nothing_of_itself(storage):
    session = await storage.create_session("shell")
    inbound = await storage.enqueue(session.id, "shell", text_blocks("hi"))
    await storage.claim(inbound.id)
    with pytest.raises(StorageError):
        # the second message has a role the schema refuses: the whole turn rolls back
        await storage.finish_turn(inbound.id, [NewMessage("user", text_blocks("hi")),
                                               NewMessage("robot", text_blocks("x"))])
    assert await storage.get_messages(session.id) == []
    assert [i.status for i in await storage.unfinished()] == ["processing"]
    await storage.fail_turn(inbound.id, "provider down")
    assert await storage.unfinished() == []


async def test_entries_left_processing_by_a_crash_can_be_claimed_again(storage):
    session = await storage.create_session("shell")
    inbound = await storage.enqueue(session.id, "shell", text_blocks("hi"))
    await storage.claim(inbound.id)
    assert await storage.reset_processing() == 1
    assert await storage.claim(inbound.id) is True


async def test_the_cost_ledger_sums_by_time_and_session(storage):
    await storage.record_cost(CostEntry("a", "m", Usage(1, 1), 0.5, "2026-01-01T00:00:00.000Z"))
    await storage.record_cost(CostEntry("b", "m", Usage(1, 1), 0.25, "2026-02-01T00:00:00.000Z"))
    assert await storage.cost_since("2026-01-15T00:00:00.000Z") == 0.25
    assert await storage.cost_since("2000-01-01T00:00:00.000Z") == 0.75
    assert await storage.cost_since("2000-01-01T00:00:00.000Z", session_id="a") == 0.5
    assert [e.session_id for e in await storage.cost_entries()] == ["a", "b"]


async def test_state_is_a_small_key_value_store(storage):
    assert await storage.get_state("telegram.offset") is None
    await storage.set_state("telegram.offset", "41")
    await storage.set_state("telegram.offset", "42")
    assert await storage.get_state("telegram.offset") == "42"


async def test_a_database_from_a_newer_blufio_is_refused_unchanged(config):
    store = SqliteStorage(config)
    os.makedirs(os.path.dirname(store.path), exist_ok=True)
    conn = sqlite3.connect(store.path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNewError, match="newer Blufio"):
        await store.open()
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 5
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


async def test_a_locked_database_is_a_clear_error(config, monkeypatch):
    monkeypatch.setenv("BLUFIO_STORAGE__BUSY_TIMEOUT_MS", "50")
    from blufio.config import load_config

    store = SqliteStorage(load_config())
    await store.open()
    blocker = sqlite3.connect(store.path)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StorageError, match="locked by another process"):
            await store.create_session("shell")
    finally:
        blocker.rollback()
        blocker.close()
    await store.create_session("shell")  # usable again once the lock is gone
    await store.shutdown()


@pytest.mark.slow  # waits out real time
def test_a_process_killed_mid_write_leaves_a_consistent_database(config, tmp_path):
    """Kill -9 a process that is writing turns as fast as it can; every stored turn is whole."""
    script = textwrap.dedent("""
        import asyncio, sys
        from blufio.config import load_config
        from blufio.model import NewMessage, text_blocks
        from blufio.plugins.sqlite.storage import SqliteStorage

        async def main():
            store = SqliteStorage(load_config())
            await store.open()
            session = await store.create_session("shell", session_id="s")
            print("ready", flush=True)
            while True:
                inbound = await store.enqueue("s", "shell", text_blocks("q"))
                await store.claim(inbound.id)
                await store.finish_turn(inbound.id, [NewMessage("user", text_blocks("q")),
                                                     NewMessage("assistant", text_blocks("a"))])
        asyncio.run(main())
    """)
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + _repo_root())
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == b"ready"
    import time

    time.sleep(0.5)
    proc.kill()
    proc.wait()

    conn = sqlite3.connect(SqliteStorage(config).path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    done = conn.execute("SELECT count(*) FROM inbound WHERE status = 'done'").fetchone()[0]
    count = conn.execute("SELECT message_count FROM sessions").fetchone()[0]
    assert done > 0
    assert messages == 2 * done == count


def _repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


async def test_a_message_answered_at_once_is_queued_already_claimed(storage):
    session = await storage.create_session("gateway")
    inbound = await storage.enqueue(session.id, "gateway", text_blocks("hi"), claimed=True)
    assert inbound.status == "processing"
    assert await storage.claim(inbound.id) is False  # nobody else can take it
    assert await storage.reset_processing(channels=["telegram"]) == 0  # other channels untouched
    assert await storage.reset_processing(channels=["gateway"]) == 1  # a crash returns it


async def test_deleting_a_session_removes_its_messages_and_queue_but_not_its_costs(storage):
    from blufio.model import CostEntry, NewMessage, Usage, text_blocks

    session = await storage.create_session("gateway")
    await storage.append_messages(session.id, [NewMessage("user", text_blocks("hi"))])
    inbound = await storage.enqueue(session.id, "gateway", text_blocks("again"))
    await storage.record_cost(CostEntry(session.id, "m", Usage(1, 1), 0.5))
    assert await storage.delete_session(session.id) is True
    assert await storage.get_session(session.id) is None
    assert await storage.get_messages(session.id) == []
    assert inbound.id not in [entry.id for entry in await storage.unfinished()]
    assert [entry.cost_usd for entry in await storage.cost_entries(session_id=session.id)] == [0.5]
    assert await storage.delete_session(session.id) is False
