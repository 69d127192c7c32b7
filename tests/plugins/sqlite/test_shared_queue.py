"""The inbound queue shared by several processes (``[gateway] workers``): each entry carries
its owner, a turn starts only when its entry is the oldest unfinished one of its session,
and only the entries of owners that are gone are freed."""

import asyncio

import pytest

from blufio.plugins.sqlite.storage import SqliteStorage

HELLO = [{"type": "text", "text": "hello"}]


@pytest.fixture
async def workers(config):
    """Two storages on one database, as two workers with their owner ids."""
    opened = []
    for owner in ("0.a", "1.b"):
        storage = SqliteStorage(config)
        storage.owner = owner
        await storage.open()
        opened.append(storage)
    yield opened
    for storage in opened:
        await storage.shutdown()


async def owners(storage):
    rows = await storage._read("SELECT id, status, owner FROM inbound ORDER BY id")
    return [tuple(row) for row in rows]


async def test_an_entry_is_claimed_for_its_owner_at_once_when_its_session_is_free(workers):
    first, _ = workers
    session = await first.create_session("gateway")
    inbound = await first.enqueue(session.id, "gateway", HELLO, claimed=True)
    assert inbound.status == "processing"
    assert await owners(first) == [(inbound.id, "processing", "0.a")]


async def test_a_later_entry_of_a_busy_session_waits_for_the_older_one_on_another_worker(
        workers):
    first, second = workers
    session = await first.create_session("gateway")
    older = await first.enqueue(session.id, "gateway", HELLO, claimed=True)
    later = await second.enqueue(session.id, "gateway", HELLO, claimed=True)
    assert later.status == "pending"  # reserved for its owner, not started
    claim = asyncio.ensure_future(second.claim(later.id))
    await asyncio.sleep(0.05)
    assert not claim.done()  # the older entry is still being answered
    await first.finish_turn(older.id, [])
    assert await asyncio.wait_for(claim, 5) is True
    assert await owners(first) == [(older.id, "done", "0.a"), (later.id, "processing", "1.b")]


async def test_another_owners_entry_cannot_be_claimed(workers):
    first, second = workers
    session = await first.create_session("gateway")
    inbound = await first.enqueue(session.id, "gateway", HELLO)
    assert await second.claim(inbound.id) is False
    assert await first.claim(inbound.id) is True


async def test_only_the_entries_of_an_owner_that_is_gone_are_freed_and_listed(workers, config):
    first, second = workers
    sessions = [await first.create_session("gateway") for _ in range(3)]
    mine = await first.enqueue(sessions[0].id, "gateway", HELLO, claimed=True)
    gone = await second.enqueue(sessions[1].id, "gateway", HELLO, claimed=True)
    waiting = await second.enqueue(sessions[0].id, "gateway", HELLO, claimed=True)
    assert await first.unfinished() == []  # every entry has a live owner

    assert await first.reset_processing(owner="1.b") == 2  # its processing and waiting ones
    assert [(i.id, i.status) for i in await first.unfinished()] == [
        (gone.id, "pending"), (waiting.id, "pending")]
    assert (await owners(first))[0] == (mine.id, "processing", "0.a")  # never a live one's
    assert await first.claim(gone.id) is True  # a replacement answers it


async def test_at_start_every_entry_is_freed_whoever_owned_it(workers, config):
    first, second = workers
    session = await first.create_session("gateway")
    await first.enqueue(session.id, "gateway", HELLO, claimed=True)
    await second.enqueue(session.id, "gateway", HELLO, claimed=True)
    single = SqliteStorage(config)  # the supervisor (or a single serve): no owner
    await single.open()
    try:
        assert await single.reset_processing() == 2
        assert [(i.status) for i in await single.unfinished()] == ["pending", "pending"]
    finally:
        await single.shutdown()


async def test_without_an_owner_the_queue_behaves_as_one_process(storage):
    session = await storage.create_session("gateway")
    older = await storage.enqueue(session.id, "gateway", HELLO, claimed=True)
    later = await storage.enqueue(session.id, "gateway", HELLO, claimed=True)
    assert (older.status, later.status) == ("processing", "processing")  # the agent orders them
    assert storage.owner == ""
