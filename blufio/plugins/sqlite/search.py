"""The lexical side of memory: one FTS5 index over saved memories and stored messages.

The index ``memory_index`` is derived data. Its rowid says what a row is: a message's id
(positive) or a memory's id negated (negative), so one BM25 ranking covers both and an entry
is removed by its rowid. It is created, and filled with what the database already holds, by
``prepare_index`` when the database is opened; from then on messages are indexed in the
transaction that stores them. Results are always joined back to ``messages`` / ``memories``,
so an entry whose source is gone is never returned.

Without an FTS5-capable SQLite (``fts5_available()`` is False) nothing is indexed, one
warning is logged, and ``like_search`` gives a slower, unranked answer instead.

User text never reaches FTS5's query syntax: ``match_query`` keeps only word characters and
quotes each term, so ``"``, ``*``, ``NEAR``, ``AND``/``OR``/``NOT``, ``^``, ``:`` and
parentheses are plain text.
"""

import functools
import json
import logging
import re
import sqlite3

from blufio.model import clean_text

log = logging.getLogger("blufio.memory")

MAX_INDEXED_CHARS = 32_000  # of one message; a longer text is indexed by its beginning
MAX_QUERY_TERMS = 24
# A term in more documents than this says little about relevance and costs the most to rank
# (BM25 scores every match): it is left out of the query unless every term is that common.
MAX_TERM_DOCS = 1000
MAX_TERM_CHARS = 64
TOKENIZER = "porter unicode61 remove_diacritics 2"

_WORD = re.compile(r"\w+", re.UNICODE)
# Words that match nearly everything: a query made only of them still runs, with them.
_STOPWORDS = """
a about above after again all am an and any are as at be because been before being below
between both but by can could did do does doing don down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its
itself just me more most my myself no nor not now of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself
yourselves please tell know remember recall
"""
STOPWORDS = frozenset(_STOPWORDS.split())


@functools.cache
def fts5_available():
    """Whether this interpreter's SQLite has FTS5 (checked once per process)."""
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x)")
        return True
    except sqlite3.Error:
        log.warning("this Python's SQLite has no FTS5: memory search falls back to a slow, "
                    "unranked scan (install a Python whose sqlite3 has FTS5 for ranked recall)")
        return False


def searchable_text(content):
    """The text of a message worth searching: its text blocks and tool results."""
    if isinstance(content, str):
        return content[:MAX_INDEXED_CHARS]
    parts = []
    for block in content:
        kind = block.get("type")
        if kind == "text":
            parts.append(block.get("text", ""))
        elif kind == "tool_result":
            inner = block.get("content", "")
            parts.append(inner if isinstance(inner, str) else searchable_text(inner))
    return "\n".join(p for p in parts if p)[:MAX_INDEXED_CHARS]


def query_terms(query):
    """The words of ``query`` to search for (stopwords dropped unless nothing else is left),
    at most MAX_QUERY_TERMS of them, each cut to MAX_TERM_CHARS."""
    words = [w[:MAX_TERM_CHARS] for w in _WORD.findall(clean_text(query or "").lower())]
    terms = list(dict.fromkeys(w for w in words if w not in STOPWORDS)) or \
        list(dict.fromkeys(words))
    return terms[:MAX_QUERY_TERMS]


def match_query(terms):
    """An FTS5 MATCH expression: any of ``terms``, each quoted (so never FTS5 syntax)."""
    return " OR ".join(f'"{term}"' for term in terms)


# -- the index (runs on the writer connection, inside its transactions) ----------------------


def prepare_index(conn):
    """Create ``memory_index`` if missing and index what is not in it yet: messages and
    memories newer than the newest indexed of each (e.g. all of them after the migration,
    or those stored while this database was used by a SQLite without FTS5)."""
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS memory_index USING "
                 f"fts5(text, tokenize = '{TOKENIZER}')")
    row = conn.execute("SELECT rowid FROM memory_index WHERE rowid > 0 "
                       "ORDER BY rowid DESC LIMIT 1").fetchone()
    last_message = row[0] if row else 0
    row = conn.execute("SELECT rowid FROM memory_index WHERE rowid < 0 "
                       "ORDER BY rowid LIMIT 1").fetchone()
    last_memory = -row[0] if row else 0
    cursor = conn.execute("SELECT id, content FROM messages WHERE id > ? ORDER BY id",
                          (last_message,))
    while batch := cursor.fetchmany(1000):
        index_messages(conn, ((i, json.loads(content)) for i, content in batch))
    conn.execute("INSERT INTO memory_index (rowid, text) SELECT -id, text FROM memories "
                 "WHERE id > ?", (last_memory,))


def index_messages(conn, messages):
    """Index ``(id, content)`` pairs (those with no text are skipped)."""
    rows = [(i, text) for i, content in messages if (text := searchable_text(content))]
    conn.executemany("INSERT INTO memory_index (rowid, text) VALUES (?, ?)", rows)


def index_memory(conn, memory_id, text):
    conn.execute("INSERT INTO memory_index (rowid, text) VALUES (?, ?)", (-memory_id, text))


def unindex_memory(conn, memory_id):
    conn.execute("DELETE FROM memory_index WHERE rowid = ?", (-memory_id,))


# -- searching (SQL run on the reader) --------------------------------------------------------


def scope_filter(channel, exclude_session):
    """SQL conditions on ``i`` (an item: its session and channel) and ``s`` (its session)."""
    where, params = [], []
    if channel:
        where.append("coalesce(s.channel, i.channel) = ?")
        params.append(channel)
    if exclude_session:
        where.append("coalesce(i.session_id, '') != ?")
        params.append(exclude_session)
    return where, params


def term_counts_sql(terms):
    """``(sql, params)`` of one row: for each term, how many documents hold it, counted up
    to MAX_TERM_DOCS + 1 only (so a common term costs no more than a rare one)."""
    probe = "(SELECT count(*) FROM (SELECT 1 FROM memory_index WHERE memory_index MATCH ? " \
            "LIMIT ?))"
    params = []
    for term in terms:
        params += [match_query([term]), MAX_TERM_DOCS + 1]
    return "SELECT " + ", ".join([probe] * len(terms)), params


def fts_search_sql(terms, limit, *, channel=None, exclude_session=None, ranked=True):
    """``(sql, params)`` ranking memories and messages by BM25, best first (newest messages
    first when not ``ranked``). Rows: ``item`` (rowid as in the index), ``text``,
    ``created_at``, ``session_id``, ``channel``, ``score`` (higher is better)."""
    where, params = scope_filter(channel, exclude_session)
    extra = "".join(f" AND {w}" for w in where)
    score, order = ("-rank", "rank") if ranked else ("0.0", "rowid DESC")
    sql = f"""
        SELECT i.item, i.text, i.created_at, i.session_id, coalesce(s.channel, i.channel)
               AS channel, i.score FROM (
            SELECT f.rowid AS item, f.text, f.score,
                   coalesce(m.created_at, mm.created_at) AS created_at,
                   coalesce(m.session_id, mm.session_id) AS session_id,
                   coalesce(mm.channel, '') AS channel
            FROM (SELECT rowid, text, {score} AS score FROM memory_index
                  WHERE memory_index MATCH ? ORDER BY {order} LIMIT ?) AS f
            LEFT JOIN messages m ON f.rowid > 0 AND m.id = f.rowid
            LEFT JOIN memories mm ON f.rowid < 0 AND mm.id = -f.rowid
            WHERE m.id IS NOT NULL OR mm.id IS NOT NULL
        ) AS i LEFT JOIN sessions s ON s.id = i.session_id
        WHERE 1{extra} ORDER BY i.score DESC, i.item DESC LIMIT ?"""
    # Scoped searches look deeper into the ranking, since the scope drops some of it.
    depth = limit * (8 if where else 2)
    return sql, (match_query(terms), depth, *params, limit)


def like_search_sql(terms, limit, *, channel=None, exclude_session=None):
    """The no-FTS5 fallback: memories then messages containing any term, newest first."""
    where, params = scope_filter(channel, exclude_session)
    extra = "".join(f" AND {w}" for w in where)
    likes = " OR ".join("{col} LIKE ? ESCAPE '\\'" for _ in terms)
    patterns = ["%" + re.sub(r"([%_\\])", r"\\\1", t) + "%" for t in terms]
    sql = f"""
        SELECT i.item, i.text, i.created_at, i.session_id, coalesce(s.channel, i.channel)
               AS channel, 0.0 AS score FROM (
            SELECT -id AS item, text, created_at, session_id, channel FROM memories
            WHERE {likes.format(col="text")}
            UNION ALL
            SELECT id, content, created_at, session_id, '' FROM messages
            WHERE {likes.format(col="content")}
        ) AS i LEFT JOIN sessions s ON s.id = i.session_id
        WHERE 1{extra} ORDER BY i.item < 0 DESC, i.created_at DESC LIMIT ?"""
    return sql, (*patterns, *patterns, *params, limit)
