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
MAX_HIT_CHARS = 4000  # of a message's text in a search hit (the session has all of it)
# A term in more documents than this says little about relevance and costs the most to rank
# (BM25 scores every match): it is left out of the query unless every term is that common.
MAX_TERM_DOCS = 500
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


def hits_sql(ranked, *, text="r.text", channel=None, exclude_session=None):
    """``(sql, params)`` turning ``ranked`` (a subquery of ``item`` (numbered as in the
    index), ``score`` and, unless ``text`` says otherwise, ``text``) into search hits, best
    first: ``item, text, created_at, session_id, channel, role, score``. Items whose source
    is gone are dropped; ``channel`` keeps one channel, ``exclude_session`` leaves one
    session out. The caller appends the LIMIT's parameter."""
    where, params = "", []
    if channel:
        where += " AND coalesce(s.channel, mm.channel, '') = ?"
        params.append(channel)
    if exclude_session:
        where += " AND coalesce(m.session_id, mm.session_id, '') != ?"
        params.append(exclude_session)
    sql = f"""
        SELECT r.item, {text} AS text, coalesce(m.created_at, mm.created_at) AS created_at,
               coalesce(m.session_id, mm.session_id) AS session_id,
               coalesce(s.channel, mm.channel, '') AS channel, coalesce(m.role, '') AS role,
               r.score
        FROM ({ranked}) AS r
        LEFT JOIN messages m ON r.item > 0 AND m.id = r.item
        LEFT JOIN memories mm ON r.item < 0 AND mm.id = -r.item
        LEFT JOIN sessions s ON s.id = coalesce(m.session_id, mm.session_id)
        WHERE (m.id IS NOT NULL OR mm.id IS NOT NULL){where}
        ORDER BY r.score DESC, r.item DESC LIMIT ?"""
    return sql, params


def depth(limit, channel, exclude_session):
    """How deep into a ranking to look for ``limit`` hits: deeper when a scope drops some
    (a channel may drop most; leaving the current session out, a few)."""
    if channel:
        return limit * 8
    return limit * 2 if exclude_session else limit


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
    """``(sql, params)`` ranking memories and messages by BM25, best first (newest first
    when not ``ranked``), as ``hits_sql`` rows."""
    score, order = ("-rank", "rank") if ranked else ("0.0", "rowid DESC")
    ranked_sql = (f"SELECT rowid AS item, text, {score} AS score FROM memory_index "
                  f"WHERE memory_index MATCH ? ORDER BY {order} LIMIT ?")
    sql, params = hits_sql(ranked_sql, text=f"substr(r.text, 1, {MAX_HIT_CHARS})",
                           channel=channel, exclude_session=exclude_session)
    return sql, (match_query(terms), depth(limit, channel, exclude_session), *params, limit)


def like_search_sql(terms, limit, *, channel=None, exclude_session=None):
    """The no-FTS5 fallback: memories, then messages, containing any term (unranked)."""
    likes = " OR ".join("{col} LIKE ? ESCAPE '\\'" for _ in terms)
    patterns = ["%" + re.sub(r"([%_\\])", r"\\\1", t) + "%" for t in terms]
    ranked_sql = (f"SELECT -id AS item, 1.0 AS score FROM memories "
                  f"WHERE {likes.format(col='text')} UNION ALL "
                  f"SELECT id, 0.0 FROM messages WHERE {likes.format(col='content')}")
    sql, params = hits_sql(ranked_sql, text="coalesce(m.content, mm.text)", channel=channel,
                           exclude_session=exclude_session)
    return sql, (*patterns, *patterns, *params, limit)
