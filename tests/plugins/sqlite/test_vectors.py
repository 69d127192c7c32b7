"""Vectors in SqliteStorage: storing them, cosine similarity (sqlite-vec or the pure-Python
scan), the embedding backlog, and reciprocal rank fusion with the lexical ranking."""

import math
import sqlite3

import pytest

from blufio.model import NewMessage, text_blocks
from blufio.plugins.sqlite import vectors
from blufio.plugins.sqlite.storage import SqliteStorage


def can_load_sqlite_vec():
    try:
        import sqlite_vec

        conn = sqlite3.connect(":memory:")
        conn.enable_load_extension(True)
        conn.load_extension(sqlite_vec.loadable_path())
        return True
    except (ImportError, AttributeError, sqlite3.Error):
        return False


@pytest.fixture(params=["python", "sqlite-vec"])
async def store(request, config, monkeypatch):
    """An open storage whose vector search uses one backend or the other."""
    if request.param == "sqlite-vec" and not can_load_sqlite_vec():
        pytest.skip("this interpreter cannot load sqlite-vec")
    if request.param == "python":
        real = vectors.enable_similarity
        monkeypatch.setattr(vectors, "enable_similarity",
                            lambda conn: real(conn, extension=False))
    storage = SqliteStorage(config)
    await storage.open()
    assert storage.vector_backend == request.param
    yield storage
    await storage.shutdown()


def test_a_vector_is_packed_normalised_as_float32():
    blob = vectors.pack([3.0, 4.0])
    assert len(blob) == 8
    assert vectors.unpack(blob) == pytest.approx([0.6, 0.8])
    assert vectors.pack([0.0, 0.0]) == b""
    assert vectors.pack([math.nan, 1.0]) == b""


def test_python_cosine_is_the_dot_product_of_normalised_vectors():
    assert vectors.python_dot(vectors.pack([1, 0]), vectors.pack([1, 1])) == pytest.approx(
        math.sqrt(0.5))
    assert vectors.python_dot(vectors.pack([1, 0]), vectors.pack([1, 0, 0])) is None


def test_sign_bits_and_their_hamming_distance():
    bits = vectors.sign_bits(vectors.pack([1.0, -1.0, 0.5] + [-1.0] * 6))
    assert bits == bytes([0b101, 0])
    assert vectors.python_hamming(bits, bytes([0b110, 0])) == 2
    assert vectors.python_hamming(bits, b"\x00") > 1000


def test_reciprocal_rank_fusion_rewards_items_ranked_well_in_both_lists():
    scores = vectors.fuse(["a", "b", "c"], ["c", "a", "d"])
    assert sorted(scores, key=scores.get, reverse=True) == ["a", "c", "b", "d"]
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)


async def test_the_most_similar_items_come_first(store):
    near = await store.save_memory("north")
    far = await store.save_memory("south")
    session = await store.create_session("shell")
    [message] = await store.append_messages(session.id, [NewMessage("user",
                                                                    text_blocks("east"))])
    await store.store_vectors("m1", [(-near.id, [1.0, 0.1, 0.0]), (-far.id, [-1.0, 0.0, 0.0]),
                                     (message.id, [0.0, 1.0, 0.0])])
    hits = await store.vector_search([1.0, 0.0, 0.0], "m1")
    assert [(h.kind, h.text) for h in hits] == [("memory", "north"), ("message", "east"),
                                                ("memory", "south")]
    assert hits[0].score == pytest.approx(1 / math.sqrt(1.01), rel=1e-5)
    assert hits[1].session_id == session.id and hits[1].channel == "shell"


async def test_only_vectors_of_the_model_and_size_of_the_query_take_part(store):
    a = await store.save_memory("a")
    b = await store.save_memory("b")
    await store.store_vectors("m1", [(-a.id, [1.0, 0.0])])
    await store.store_vectors("m2", [(-b.id, [1.0, 0.0, 0.0])])
    assert [h.text for h in await store.vector_search([1.0, 0.0], "m1")] == ["a"]
    assert await store.vector_search([1.0, 0.0, 0.0], "m1") == []
    assert await store.vector_search([1.0, 0.0], "m2") == []
    assert await store.vector_search([0.0, 0.0], "m1") == []


async def test_forgetting_a_memory_removes_its_vector(store):
    memory = await store.save_memory("gone")
    await store.store_vectors("m1", [(-memory.id, [1.0, 0.0])])
    await store.forget_memory(memory.id)
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT count(*) FROM memory_vectors").fetchone()[0] == 0


async def test_the_backlog_lists_what_has_no_vector_of_the_current_model(store):
    session = await store.create_session("shell")
    [message, tool_call] = await store.append_messages(session.id, [
        NewMessage("user", text_blocks("hello")),
        NewMessage("assistant", [{"type": "tool_use", "id": "t", "name": "x", "input": {}}])])
    memory = await store.save_memory("a fact")
    backlog = await store.unembedded("m1")
    assert sorted(backlog) == sorted([(message.id, "hello"), (tool_call.id, ""),
                                      (-memory.id, "a fact")])
    await store.store_vectors("m1", [(message.id, [1.0]), (tool_call.id, None),
                                     (-memory.id, [1.0])])
    assert await store.unembedded("m1") == []
    # switching model: everything is owed a vector of the new one, the old ones are replaced
    assert len(await store.unembedded("m2")) == 3
    await store.store_vectors("m2", [(message.id, [0.5])])
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT model FROM memory_vectors WHERE item = ?",
                        (message.id,)).fetchone() == ("m2",)


async def test_the_nearest_of_many_random_vectors_is_found(store):
    import random

    rng = random.Random(3)
    points = [[rng.gauss(0, 1) for _ in range(64)] for _ in range(1500)]
    await store.store_vectors("m1", [(n + 1, p) for n, p in enumerate(points)])
    session = await store.create_session("shell")
    from blufio.model import NewMessage, text_blocks
    await store.append_messages(session.id, [NewMessage("user", text_blocks(f"m{n}"))
                                             for n in range(1500)])
    for target in (7, 700, 1400):
        query = [x + rng.gauss(0, 0.3) for x in points[target]]
        exact = max(range(1500), key=lambda n: vectors.python_dot(
            vectors.pack(points[n]), vectors.pack(query)))
        [best] = await store.vector_search(query, "m1", limit=1)
        assert best.id == exact + 1


async def test_hybrid_search_finds_a_paraphrase_and_keeps_exact_words_on_top(store):
    code = await store.save_memory("my locker code is 4471")
    other = await store.save_memory("the cat likes tuna")
    await store.store_vectors("m1", [(-code.id, [0.9, 0.1]), (-other.id, [0.0, 1.0])])

    paraphrase = await store.search_memory("combination for the gym cabinet",
                                           vector=[1.0, 0.0], model="m1")
    assert paraphrase[0].text == "my locker code is 4471"
    lexical_only = await store.search_memory("combination for the gym cabinet")
    assert lexical_only == []

    both = await store.search_memory("tuna", vector=[1.0, 0.0], model="m1")
    assert [h.text for h in both] == ["the cat likes tuna", "my locker code is 4471"]
    assert both[0].score > both[1].score


async def test_vectors_made_before_sign_bits_are_dropped_to_be_made_again(config):
    import os

    from blufio.plugins.sqlite.migrations import MIGRATIONS

    path = SqliteStorage(config).path
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    conn = sqlite3.connect(path)
    before = next(n for n, script in enumerate(MIGRATIONS) if "ADD COLUMN bits" in script)
    for script in MIGRATIONS[:before]:
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {before}")
    conn.execute("INSERT INTO memories (text, created_at) VALUES ('old', '2026-01-01')")
    conn.execute("INSERT INTO memory_vectors (item, model, vector) VALUES (-1, 'm1', ?)",
                 (vectors.pack([1.0, 0.0]),))
    conn.commit()
    conn.close()
    storage = SqliteStorage(config)
    await storage.open()
    try:
        assert await storage.unembedded("m1") == [(-1, "old")]
    finally:
        await storage.shutdown()
