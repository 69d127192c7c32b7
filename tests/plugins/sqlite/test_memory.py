"""Memory in SqliteStorage: saving, forgetting, lexical search over memories and messages,
the migration of an existing database, and what happens without FTS5."""

import json
import logging
import os
import sqlite3

import pytest

from blufio.errors import UsageError
from blufio.model import NewMessage, text_blocks
from blufio.plugins.sqlite import search
from blufio.plugins.sqlite.memory import MAX_MEMORY_CHARS
from blufio.plugins.sqlite.migrations import MIGRATIONS
from blufio.plugins.sqlite.storage import SqliteStorage


async def say(storage, session, *texts, role="user"):
    return await storage.append_messages(session.id, [NewMessage(role, text_blocks(t))
                                                      for t in texts])


async def test_a_saved_memory_is_listed_found_and_forgotten(storage):
    memory = await storage.save_memory("My locker code is 4471", tags=["personal"])
    assert memory.id > 0 and memory.tags == ["personal"]
    assert [m.text for m in await storage.list_memories()] == ["My locker code is 4471"]
    assert await storage.count_memories() == 1

    hits = await storage.search_memory("locker")
    assert [(h.kind, h.id) for h in hits] == [("memory", memory.id)]
    assert hits[0].text == "My locker code is 4471" and hits[0].created_at == memory.created_at

    assert await storage.forget_memory(memory.id) is True
    assert await storage.search_memory("locker") == []
    assert await storage.get_memory(memory.id) is None
    assert await storage.forget_memory(memory.id) is False
    conn = sqlite3.connect(storage.path)
    assert conn.execute("SELECT count(*) FROM memory_index WHERE rowid = ?",
                        (-memory.id,)).fetchone()[0] == 0


async def test_every_stored_message_is_searchable_with_its_session_and_channel(storage):
    session = await storage.create_session("telegram")
    stored = await say(storage, session, "the plumber comes on Thursday", "ok noted")
    hits = await storage.search_memory("when does the plumber come?")
    assert [(h.kind, h.id) for h in hits] == [("message", stored[0].id)]
    assert hits[0].session_id == session.id and hits[0].channel == "telegram"
    assert hits[0].role == "user"
    assert hits[0].text == "the plumber comes on Thursday"


async def test_messages_stored_by_a_turn_are_indexed_in_the_same_transaction(storage):
    session = await storage.create_session("shell")
    inbound = await storage.enqueue(session.id, "shell", text_blocks("zucchini recipes?"),
                                    claimed=True)
    await storage.finish_turn(inbound.id, [NewMessage("user", text_blocks("zucchini recipes?")),
                                           NewMessage("assistant", text_blocks("grill it"))])
    assert [h.text for h in await storage.search_memory("zucchini")] == ["zucchini recipes?"]


async def test_the_best_match_comes_first(storage):
    session = await storage.create_session("shell")
    await say(storage, session, "a garden with roses", "roses and tulips and a greenhouse")
    await storage.save_memory("the greenhouse key is under the mat")
    hits = await storage.search_memory("greenhouse key")
    assert hits[0].text == "the greenhouse key is under the mat"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


async def test_words_are_matched_by_their_stem(storage):
    await storage.save_memory("I enjoy running marathons")
    assert len(await storage.search_memory("runs")) == 1


async def test_scope_keeps_one_channel_and_can_leave_the_current_session_out(storage):
    shell = await storage.create_session("shell")
    telegram = await storage.create_session("telegram")
    await say(storage, shell, "pineapple in the shell")
    await say(storage, telegram, "pineapple on telegram")
    await storage.save_memory("pineapple saved on telegram", channel="telegram")

    on_telegram = await storage.search_memory("pineapple", channel="telegram")
    assert sorted(h.text for h in on_telegram) == ["pineapple on telegram",
                                                   "pineapple saved on telegram"]
    elsewhere = await storage.search_memory("pineapple", exclude_session=shell.id)
    assert "pineapple in the shell" not in [h.text for h in elsewhere]
    assert len(elsewhere) == 2


@pytest.mark.parametrize("query", [
    '"', '"unbalanced', "lock*", "*", "NEAR(locker code)", "locker NEAR code", "(((locker",
    "locker)", "AND", "OR NOT", "code:4471", "^locker", "locker -code", "{locker code}",
])
async def test_fts5_syntax_in_a_query_is_plain_text(storage, query):
    await storage.save_memory("locker code 4471, near the gym")
    hits = await storage.search_memory(query)
    assert isinstance(hits, list)
    if any(word in query.lower() for word in ("locker", "code")):
        assert hits, query


@pytest.mark.parametrize("query", ["", "   ", "?!*()", None])
async def test_an_empty_query_finds_nothing(storage, query):
    await storage.save_memory("something")
    assert await storage.search_memory(query) == []


async def test_a_query_of_stopwords_only_still_searches_them(storage):
    await storage.save_memory("to be or not to be")
    assert len(await storage.search_memory("to be")) == 1


async def test_a_huge_query_is_cut_to_its_first_terms(storage):
    await storage.save_memory("aardvark")
    assert len(await storage.search_memory("aardvark " + "word " * 100_000)) == 1
    assert search.query_terms("x" * 1000 + " y")[0] == "x" * search.MAX_TERM_CHARS


async def test_a_huge_message_is_indexed_by_its_beginning(storage):
    session = await storage.create_session("shell")
    await say(storage, session, "start " + "filler " * 10_000 + "farewell")
    assert len(await storage.search_memory("start")) == 1
    assert await storage.search_memory("farewell") == []


async def test_a_memory_that_is_empty_or_too_long_is_refused_clearly(storage):
    with pytest.raises(UsageError, match="needs some text"):
        await storage.save_memory("   ")
    with pytest.raises(UsageError, match=f"at most {MAX_MEMORY_CHARS} characters"):
        await storage.save_memory("x" * (MAX_MEMORY_CHARS + 1))
    assert await storage.count_memories() == 0


async def test_text_that_is_not_valid_utf8_is_stored_with_replacement_characters(storage):
    undecodable = b"caf\xe9 au lait".decode("utf-8", "surrogateescape")
    memory = await storage.save_memory(undecodable)
    assert memory.text == "caf\ufffd au lait"
    assert (await storage.search_memory("lait"))[0].text == "caf\ufffd au lait"
    assert await storage.search_memory(undecodable) != []


async def test_tool_results_are_searchable_and_tool_calls_are_not(storage):
    session = await storage.create_session("shell")
    await storage.append_messages(session.id, [
        NewMessage("assistant", [{"type": "tool_use", "id": "t1", "name": "weather",
                                  "input": {"city": "Reykjavik"}}]),
        NewMessage("user", [{"type": "tool_result", "tool_use_id": "t1",
                             "content": [{"type": "text", "text": "sleet in Reykjavik"}]}]),
    ])
    hits = await storage.search_memory("reykjavik")
    assert [h.text for h in hits] == ["sleet in Reykjavik"]


async def test_session_summaries_are_kept_and_replaced(storage):
    session = await storage.create_session("shell")
    assert await storage.get_summary(session.id) is None
    await storage.save_summary(session.id, 10, "first part")
    await storage.save_summary(session.id, 20, "first and second parts")
    assert await storage.get_summary(session.id) == (20, "first and second parts")


def make_version_1_database(path, texts):
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO sessions (id, channel, created_at, updated_at) "
                 "VALUES ('old', 'shell', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')")
    for text in texts:
        conn.execute("INSERT INTO messages (session_id, role, content, created_at) VALUES "
                     "('old', 'user', ?, '2025-01-01T00:00:00Z')",
                     (json.dumps(text_blocks(text)),))
    conn.commit()
    conn.close()


async def test_the_migration_indexes_the_messages_an_existing_database_holds(config):
    path = SqliteStorage(config).path
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    make_version_1_database(path, [f"old message number {n}" for n in range(2500)]
                            + ["the wifi password is hunter2"])
    storage = SqliteStorage(config)
    await storage.open()
    try:
        hits = await storage.search_memory("wifi password")
        assert [(h.text, h.session_id, h.created_at) for h in hits] == [
            ("the wifi password is hunter2", "old", "2025-01-01T00:00:00Z")]
        assert len(await storage.search_memory("number", limit=5000)) == 2500
    finally:
        await storage.shutdown()
    again = SqliteStorage(config)
    await again.open()  # nothing is indexed twice
    try:
        assert len(await again.search_memory("number", limit=5000)) == 2500
    finally:
        await again.shutdown()


@pytest.fixture
def no_fts5(monkeypatch):
    monkeypatch.setattr(search, "fts5_available", lambda: False)


async def test_without_fts5_memory_still_works_by_a_plain_scan(no_fts5, storage):
    session = await storage.create_session("shell")
    await say(storage, session, "the 100% cotton_shirt is blue")
    memory = await storage.save_memory("locker code 4471")
    assert [h.text for h in await storage.search_memory("locker")] == ["locker code 4471"]
    assert [h.text for h in await storage.search_memory("cotton_shirt")] == [
        "the 100% cotton_shirt is blue"]
    assert await storage.search_memory("100%") != []
    assert await storage.forget_memory(memory.id)
    assert await storage.search_memory("locker") == []
    conn = sqlite3.connect(storage.path)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'memory_index'"
                        ).fetchone()[0] == 0


async def test_messages_stored_without_fts5_are_indexed_when_it_is_back(config, monkeypatch):
    real = search.fts5_available
    monkeypatch.setattr(search, "fts5_available", lambda: False)
    storage = SqliteStorage(config)
    await storage.open()
    session = await storage.create_session("shell")
    await say(storage, session, "written while FTS5 was missing")
    await storage.save_memory("saved while FTS5 was missing")
    await storage.shutdown()

    monkeypatch.setattr(search, "fts5_available", real)
    storage = SqliteStorage(config)
    await storage.open()
    try:
        assert len(await storage.search_memory("missing")) == 2
    finally:
        await storage.shutdown()


def test_a_sqlite_without_fts5_is_reported_once(monkeypatch, caplog):
    class NoFts5:
        Error = sqlite3.Error

        @staticmethod
        def connect(_):
            conn = sqlite3.connect(":memory:")
            conn.execute("CREATE TABLE fts5 (x)")

            class Conn:
                def execute(self, sql):
                    raise sqlite3.OperationalError("no such module: fts5")

            return Conn()

    monkeypatch.setattr(search, "sqlite3", NoFts5)
    search.fts5_available.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="blufio.memory"):
            assert search.fts5_available() is False
            assert search.fts5_available() is False
    finally:
        search.fts5_available.cache_clear()
    assert len([r for r in caplog.records if "no FTS5" in r.getMessage()]) == 1


async def test_terms_in_too_many_documents_are_left_out_of_the_ranking(storage, monkeypatch):
    monkeypatch.setattr(search, "MAX_TERM_DOCS", 5)
    session = await storage.create_session("shell")
    await say(storage, session, *[f"banana number {n}" for n in range(10)])
    await say(storage, session, "banana bread with walnuts")
    hits = await storage.search_memory("banana walnuts")
    assert [h.text for h in hits] == ["banana bread with walnuts"]
    # a query of common terms only: the newest matches, unranked
    newest = await storage.search_memory("banana", limit=3)
    assert [h.text for h in newest] == ["banana bread with walnuts", "banana number 9",
                                        "banana number 8"]


async def test_forgetting_a_message_removes_its_text_but_keeps_the_session_whole(storage):
    session = await storage.create_session("shell")
    said, answer = await say(storage, session, "my locker code is 4471", "noted: 4471")
    await storage.store_vectors("m1", [(said.id, [1.0, 0.0])])

    assert await storage.forget_message(said.id) is True
    assert await storage.search_memory("locker") == []
    assert await storage.vector_search([1.0, 0.0], "m1") == []
    messages = await storage.get_messages(session.id)
    assert [m.content for m in messages] == [text_blocks("[forgotten]"), answer.content]
    assert await storage.forget_message(10_000) is False


async def test_the_id_of_a_forgotten_memory_is_never_given_again(storage):
    first = await storage.save_memory("first")
    await storage.forget_memory(first.id)
    second = await storage.save_memory("second")
    assert second.id != first.id


async def test_the_health_check_says_how_memory_search_works(storage):
    detail = (await storage.health_check())["detail"]
    assert detail.startswith("open; memory search: FTS5 (BM25), vectors: ")
    assert detail.endswith(("sqlite-vec", "python"))


async def test_deleting_a_session_drops_its_messages_from_search(storage):
    session = await storage.create_session("shell")
    [message] = await say(storage, session, "the boathouse key")
    await storage.store_vectors("m1", [(message.id, [1.0, 0.0])])
    assert await storage.delete_session(session.id) is True
    assert await storage.search_memory("boathouse") == []
    conn = sqlite3.connect(storage.path)
    assert conn.execute("SELECT count(*) FROM memory_index").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM memory_vectors").fetchone()[0] == 0
