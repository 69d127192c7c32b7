"""The writer commits the writes waiting under load together, and no caller can tell: each
write is all or nothing, in the order asked, and committed before its ``await`` returns."""

import asyncio
import sqlite3
import threading

import pytest

from blufio.errors import StorageError
from blufio.plugins.sqlite.writer import Writer


@pytest.fixture
async def writer(tmp_path):
    path = str(tmp_path / "w.db")
    statements = []

    def connect():
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("CREATE TABLE t (n INTEGER)")
        conn.set_trace_callback(statements.append)
        return conn

    writer = Writer(lambda exc: StorageError(f"translated: {exc}"))
    await writer.open(connect)
    writer.path, writer.statements = path, statements
    yield writer
    await writer.close()


def insert(conn, n):
    conn.execute("INSERT INTO t VALUES (?)", (n,))
    return n


def insert_then_fail(conn, n):
    conn.execute("INSERT INTO t VALUES (?)", (n,))
    raise StorageError(f"write {n} refused")


def stored(path):
    with sqlite3.connect(path) as conn:
        return [n for (n,) in conn.execute("SELECT n FROM t ORDER BY rowid")]


async def hold_the_thread(writer):
    """Start a write that blocks the thread until the returned event is set."""
    started, release = threading.Event(), threading.Event()

    def hold(conn):
        started.set()
        release.wait(10)

    held = asyncio.ensure_future(writer.write(hold))
    await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
    return release, held


async def test_writes_waiting_together_commit_in_one_transaction_in_order(writer):
    release, held = await hold_the_thread(writer)
    waiting = [asyncio.ensure_future(writer.write(insert, n)) for n in range(20)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == list(range(20))
    await held
    assert stored(writer.path) == list(range(20))
    assert writer.statements.count("BEGIN IMMEDIATE") == 2  # the held write, then all 20


async def test_a_failing_write_in_a_batch_leaves_nothing_and_fails_only_its_caller(writer):
    release, held = await hold_the_thread(writer)
    waiting = [asyncio.ensure_future(writer.write(insert_then_fail if n == 3 else insert, n))
               for n in range(6)]
    await asyncio.sleep(0)
    release.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    await held
    assert [o for o in outcomes if not isinstance(o, Exception)] == [0, 1, 2, 4, 5]
    assert str(outcomes[3]) == "write 3 refused"
    assert stored(writer.path) == [0, 1, 2, 4, 5]


async def test_a_lone_failing_write_is_rolled_back_and_sqlite_errors_are_translated(writer):
    with pytest.raises(StorageError, match="write 7 refused"):
        await writer.write(insert_then_fail, 7)
    with pytest.raises(StorageError, match="translated: no such table"):
        await writer.write(lambda conn: conn.execute("INSERT INTO missing VALUES (1)"))
    assert stored(writer.path) == []


async def test_a_cancelled_caller_does_not_undo_its_write_nor_stop_the_others(writer):
    release, held = await hold_the_thread(writer)
    cancelled = asyncio.ensure_future(writer.write(insert, 1))
    other = asyncio.ensure_future(writer.write(insert, 2))
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    assert await other == 2
    await held
    assert await writer.write(insert, 3) == 3
    assert stored(writer.path) == [1, 2, 3]
