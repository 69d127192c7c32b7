"""Memory in ``SqliteStorage``: saved memories, hybrid search, vectors and session summaries.

``SqliteMemory`` is a mixin of ``SqliteStorage`` (it uses the storage's writer and reader);
the lexical index is ``blufio.plugins.sqlite.search``, the vectors
``blufio.plugins.sqlite.vectors``. A search ranks by BM25 (or, without FTS5, by a plain
scan); given a query vector it also ranks by cosine similarity and fuses both rankings by
reciprocal rank, so a paraphrase that shares no word with a memory can still find it.
"""

import json

from blufio.errors import UsageError
from blufio.model import Memory, MemoryHit, clean_text, utc_now
from blufio.plugins.sqlite import search, vectors

MAX_MEMORY_CHARS = 4000
MMAP_BYTES = 256 * 1024 * 1024
FORGOTTEN = "[forgotten]"


class SqliteMemory:
    """The memory half of the storage contract (mixed into ``SqliteStorage``)."""

    _fts = False
    _similarity = None
    vector_backend = None  # "sqlite-vec" or "python" once open

    async def _open_memory(self):
        self._fts = search.fts5_available()
        if self._fts:
            await self._write(search.prepare_index)
        # Vector search reads every vector: mapped, the pages are not copied on each search.
        await self._reader.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        self._similarity = await vectors.enable_similarity(self._reader)
        self.vector_backend = self._similarity.backend

    def memory_detail(self):
        """How memory search works here, for health reports."""
        lexical = "FTS5 (BM25)" if self._fts else "a plain scan (this SQLite has no FTS5)"
        return f"memory search: {lexical}, vectors: {self.vector_backend}"

    def _index_stored(self, conn, stored):
        """Index newly stored messages, in the transaction that stores them."""
        if self._fts:
            search.index_messages(conn, ((m.id, m.content) for m in stored))

    def _unindex_session(self, conn, session_id):
        """Drop the index entries and vectors of a session's messages (before deleting it)."""
        ids = "SELECT id FROM messages WHERE session_id = ?"
        if self._fts:
            conn.execute(f"DELETE FROM memory_index WHERE rowid IN ({ids})", (session_id,))
        conn.execute(f"DELETE FROM memory_vectors WHERE item IN ({ids})", (session_id,))

    # -- memories ----------------------------------------------------------------------------

    async def save_memory(self, text, *, session_id=None, message_id=None, channel="",
                          tags=()):
        """Save ``text`` to remember; raise UsageError if it is empty or too long."""
        text = clean_text(text or "").strip()
        if not text:
            raise UsageError("a memory needs some text")
        if len(text) > MAX_MEMORY_CHARS:
            raise UsageError(f"a memory is at most {MAX_MEMORY_CHARS} characters (this one "
                             f"has {len(text)}); save the fact, not the document")
        tags = [clean_text(str(t)) for t in tags]
        now = utc_now()

        def save(conn):
            cursor = conn.execute(
                "INSERT INTO memories (text, session_id, message_id, channel, tags, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (text, session_id, message_id, channel or "", json.dumps(tags), now))
            if self._fts:
                search.index_memory(conn, cursor.lastrowid, text)
            return cursor.lastrowid

        memory_id = await self._write(save)
        return Memory(memory_id, text, now, session_id, message_id, channel or "", tags)

    async def get_memory(self, memory_id):
        rows = await self._read("SELECT * FROM memories WHERE id = ?", (memory_id,))
        return _memory(rows[0]) if rows else None

    async def list_memories(self, *, limit=50, offset=0):
        """Newest first."""
        rows = await self._read("SELECT * FROM memories ORDER BY created_at DESC, id DESC "
                                "LIMIT ? OFFSET ?", (limit, offset))
        return [_memory(row) for row in rows]

    async def count_memories(self):
        return (await self._read("SELECT count(*) FROM memories"))[0][0]

    async def forget_memory(self, memory_id):
        """Remove a memory, its index entry and its vector; False if there was none."""
        def forget(conn):
            cursor = conn.execute("DELETE FROM memories WHERE id = ?", (memory_id,))
            if self._fts:
                search.unindex_memory(conn, memory_id)
            conn.execute("DELETE FROM memory_vectors WHERE item = ?", (-memory_id,))
            return cursor.rowcount == 1

        return await self._write(forget)

    async def forget_message(self, message_id):
        """Forget what a stored message said: its text (and tool results) become
        ``FORGOTTEN`` and its index entry and vector go; the message itself stays, so the
        session keeps its shape. False if there is no such message."""
        def forget(conn):
            row = conn.execute("SELECT content FROM messages WHERE id = ?",
                               (message_id,)).fetchone()
            if row is None:
                return False
            conn.execute("UPDATE messages SET content = ? WHERE id = ?",
                         (json.dumps(_redacted(json.loads(row[0]))), message_id))
            if self._fts:
                conn.execute("DELETE FROM memory_index WHERE rowid = ?", (message_id,))
            conn.execute("DELETE FROM memory_vectors WHERE item = ?", (message_id,))
            return True

        return await self._write(forget)

    # -- search ------------------------------------------------------------------------------

    async def search_memory(self, query, *, limit=10, vector=None, model=None, channel=None,
                            exclude_session=None, min_similarity=0.0):
        """Memories and messages relevant to ``query``, best first (see the module
        docstring); ``vector`` (with the ``model`` that made it) adds the vector ranking,
        of the items at least ``min_similarity`` alike. ``channel`` keeps only what was said
        or saved there; ``exclude_session`` leaves one session out (the current one: it is
        in the context already)."""
        scope = {"channel": channel, "exclude_session": exclude_session}
        if vector is None or model is None:
            return await self.lexical_search(query, limit=limit, **scope)
        depth = max(limit * 2, 20)  # fusion needs more of each ranking than it returns
        lexical = await self.lexical_search(query, limit=depth, **scope)
        semantic = [hit for hit in await self.vector_search(vector, model, limit=depth, **scope)
                    if hit.score >= min_similarity]
        return _fused(lexical, semantic, limit)

    async def lexical_search(self, query, *, limit=10, channel=None, exclude_session=None):
        """The lexical ranking alone: BM25 over FTS5, else an unranked scan."""
        terms = search.query_terms(query)
        if not terms:
            return []
        scope = {"channel": channel, "exclude_session": exclude_session}
        if self._fts:
            sql, params = await self._fts_query(terms, limit, scope)
        else:
            sql, params = search.like_search_sql(terms, limit, **scope)
        return [_hit(row, raw_messages=not self._fts) for row in await self._read(sql, params)]

    async def _fts_query(self, terms, limit, scope):
        """The FTS5 query for ``terms``, without the common ones (see MAX_TERM_DOCS); when
        every term is common, the newest matches instead of a costly ranking."""
        counts = (await self._read(*search.term_counts_sql(terms)))[0]
        rare = [term for term, count in zip(terms, counts) if count <= search.MAX_TERM_DOCS]
        if rare:
            return search.fts_search_sql(rare, limit, **scope)
        return search.fts_search_sql(terms, limit, ranked=False, **scope)

    async def vector_search(self, vector, model, *, limit=10, channel=None,
                            exclude_session=None):
        """The vector ranking alone: items embedded by ``model``, most similar first."""
        blob = vectors.pack(vector)
        if not blob:
            return []
        sql, params = vectors.vector_search_sql(self._similarity, model, blob, limit,
                                                channel=channel,
                                                exclude_session=exclude_session)
        return [_hit(row, raw_messages=True) for row in await self._read(sql, params)]

    # -- vectors -----------------------------------------------------------------------------

    async def unembedded(self, model, *, limit=64):
        """Up to ``limit`` items without a vector of ``model``, newest first, as
        ``(item, text)`` (``item``: a message id, or a memory id negated)."""
        rows = await self._read(
            "SELECT item, text FROM ("
            " SELECT -mm.id AS item, mm.text AS text, mm.created_at AS t FROM memories mm"
            " LEFT JOIN memory_vectors v ON v.item = -mm.id AND v.model = ?"
            " WHERE v.item IS NULL"
            " UNION ALL"
            " SELECT m.id, m.content, m.created_at FROM messages m"
            " LEFT JOIN memory_vectors v ON v.item = m.id AND v.model = ?"
            " WHERE v.item IS NULL"
            ") ORDER BY t DESC LIMIT ?", (model, model, limit))
        return [(item, text if item < 0 else search.searchable_text(json.loads(text)))
                for item, text in rows]

    async def store_vectors(self, model, pairs):
        """Store ``(item, vector)`` pairs made by ``model`` (replacing older vectors; an
        empty vector marks an item with nothing to embed)."""
        rows = []
        for item, vector in pairs:
            blob = vectors.pack(vector) if vector else b""
            rows.append((item, model, blob, vectors.sign_bits(blob)))
        await self._write(lambda conn: conn.executemany(
            "INSERT INTO memory_vectors (item, model, vector, bits) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(item) DO UPDATE SET model = excluded.model, "
            "vector = excluded.vector, bits = excluded.bits", rows))

    # -- session summaries (compaction) ------------------------------------------------------

    async def get_summary(self, session_id):
        """``(through_id, text)`` of the session's summary, or None: the summary stands for
        every message with an id up to ``through_id``."""
        rows = await self._read("SELECT through_id, text FROM session_summaries "
                                "WHERE session_id = ?", (session_id,))
        return (rows[0][0], rows[0][1]) if rows else None

    async def save_summary(self, session_id, through_id, text):
        """Keep ``text`` as the summary of the session's messages up to ``through_id``."""
        await self._write(lambda conn: conn.execute(
            "INSERT INTO session_summaries (session_id, through_id, text, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(session_id) DO UPDATE SET through_id = "
            "excluded.through_id, text = excluded.text, created_at = excluded.created_at",
            (session_id, through_id, clean_text(text), utc_now())))


def _redacted(content):
    if isinstance(content, str):
        return FORGOTTEN
    blocks = []
    for block in content:
        if block.get("type") == "text":
            block = {**block, "text": FORGOTTEN}
        elif block.get("type") == "tool_result":
            block = {**block, "content": FORGOTTEN}
        blocks.append(block)
    return blocks


def _fused(lexical, semantic, limit):
    by_item = {_item(hit): hit for hit in (*semantic, *lexical)}
    scores = vectors.fuse([_item(h) for h in lexical], [_item(h) for h in semantic])
    best = sorted(scores, key=scores.get, reverse=True)[:limit]
    fused = []
    for item in best:
        hit = by_item[item]
        hit.score = scores[item]
        fused.append(hit)
    return fused


def _item(hit):
    return -hit.id if hit.kind == "memory" else hit.id


def _hit(row, raw_messages):
    item, text, created_at, session_id, channel, role, score = row
    if item > 0 and raw_messages:
        text = search.searchable_text(json.loads(text))
    kind, ident = ("memory", -item) if item < 0 else ("message", item)
    return MemoryHit(kind, ident, text, created_at, session_id, channel or "", float(score),
                     role)


def _memory(row):
    return Memory(row["id"], row["text"], row["created_at"], row["session_id"],
                  row["message_id"], row["channel"], json.loads(row["tags"]))
