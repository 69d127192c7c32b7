"""The vector side of memory: embeddings stored in SQLite, cosine similarity, and fusion.

Vectors live in ``memory_vectors`` (``item`` numbered as in ``memory_index``: a message's id,
or a memory's id negated), one per item, tagged with the embedding model that made it, as
little-endian float32 blobs normalised to length 1 (sqlite-vec's own format), with the signs
of their components as a bit string (``bits``). A vector of zero length marks an item with
no text to embed.

Similarity is computed inside SQLite, on the reader's thread, in two steps: the
``PREFILTER_FACTOR`` × depth vectors whose sign bits differ least from the query's (a
Hamming distance) are the candidates, and only those are ranked by exact cosine similarity.
The sign bits of an embedding keep most of its angles (binary quantisation), so the true
neighbours are nearly always among the candidates. The functions are sqlite-vec's
(``vec_distance_hamming``, ``vec_distance_cosine``) when the interpreter can load extensions
and the ``sqlite_vec`` package (bundled in the archive as native code) is there, else
pure-Python ones registered on the connection (``blufio_hamming``, ``blufio_dot``).

Lexical and vector rankings are combined by reciprocal rank fusion (``fuse``).
"""

import logging
import math
import operator
import sqlite3
from array import array
from collections import namedtuple

from blufio.plugins.sqlite.search import depth, hits_sql

log = logging.getLogger("blufio.memory")

RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al.)
PREFILTER_FACTOR = 10
MIN_CANDIDATES = 200

# How this connection ranks vectors: the SQL of the similarity of ``v.vector`` to a
# parameter, which implementation it is, and the SQL of the cheap distance of ``bits`` to a
# parameter that picks the candidates first (None would rank every vector exactly).
Similarity = namedtuple("Similarity", "expression backend prefilter")

_dot = getattr(math, "sumprod", None) or (lambda a, b: sum(map(operator.mul, a, b)))


def pack(vector):
    """``vector`` normalised to length 1, as a float32 blob (empty for a zero vector)."""
    values = array("f", vector)
    norm = math.sqrt(_dot(values, values))
    if not norm or not math.isfinite(norm):
        return b""
    return array("f", (v / norm for v in values)).tobytes()


def sign_bits(blob):
    """The signs of a packed vector's components, one bit each (little-endian)."""
    values = array("f")
    values.frombytes(blob)
    number = 0
    for index, value in enumerate(values):
        if value > 0:
            number |= 1 << index
    return number.to_bytes((len(values) + 7) // 8, "little")


def python_hamming(stored, query):
    """How many sign bits differ (a large number when the sizes differ)."""
    if len(stored) != len(query):
        return 1 << 30
    return (int.from_bytes(stored, "little") ^ int.from_bytes(query, "little")).bit_count()


def unpack(blob):
    values = array("f")
    values.frombytes(blob)
    return list(values)


def python_dot(stored, query):
    """Cosine similarity of two packed (normalised) vectors; None when sizes differ."""
    if len(stored) != len(query) or not stored:
        return None
    a, b = array("f"), array("f")
    a.frombytes(stored)
    b.frombytes(query)
    return _dot(a, b)


async def enable_similarity(conn, *, extension=True):
    """Give the aiosqlite connection ``conn`` a similarity function (sqlite-vec's unless
    ``extension`` is False); return its SQL expression over ``vector`` and a parameter, and
    which implementation it is."""
    try:
        if not extension:
            raise ImportError("not wanted")
        if not hasattr(sqlite3.Connection, "enable_load_extension"):
            raise AttributeError("this Python's sqlite3 cannot load extensions")
        import sqlite_vec  # only now: in the archive, importing it extracts native code

        await conn.enable_load_extension(True)
        try:
            await conn.load_extension(sqlite_vec.loadable_path())
        finally:
            await conn.enable_load_extension(False)
        return Similarity("1 - vec_distance_cosine(v.vector, ?)", "sqlite-vec",
                          "vec_distance_hamming(vec_bit(bits), vec_bit(?))")
    # no package, an interpreter that cannot load extensions, or a library that won't load
    except (ImportError, AttributeError, OSError, sqlite3.Error) as exc:
        log.info("vector search uses the pure-Python scan (sqlite-vec unavailable: %s)",
                 exc or type(exc).__name__)
    await conn.create_function("blufio_dot", 2, python_dot, deterministic=True)
    await conn.create_function("blufio_hamming", 2, python_hamming, deterministic=True)
    return Similarity("blufio_dot(v.vector, ?)", "python", "blufio_hamming(bits, ?)")


def vector_search_sql(similarity, model, query_blob, limit, *, channel=None,
                      exclude_session=None):
    """``(sql, params)`` ranking items by similarity to ``query_blob``, best first, as
    ``search.hits_sql`` rows. Only vectors of ``model`` and of the query's size take part."""
    wanted = depth(limit, channel, exclude_session)
    prefilter, params = "", [query_blob, model, len(query_blob)]
    if similarity.prefilter:
        bits = sign_bits(query_blob)
        prefilter = (" AND v.item IN (SELECT item FROM memory_vectors WHERE model = ? AND "
                     f"length(bits) = ? ORDER BY {similarity.prefilter} LIMIT ?)")
        params += [model, len(bits), bits,
                   max(MIN_CANDIDATES, wanted * PREFILTER_FACTOR)]
    # "+v.model": not by the index on model (every vector), but by rowid, the candidates only
    ranked = (f"SELECT item, {similarity.expression} AS score FROM memory_vectors v "
              f"WHERE +v.model = ? AND length(v.vector) = ?{prefilter} "
              "ORDER BY score DESC LIMIT ?")
    sql, scope = hits_sql(ranked, text="coalesce(m.content, mm.text)", channel=channel,
                          exclude_session=exclude_session)
    return sql, (*params, wanted, *scope, limit)


def fuse(*rankings, k=RRF_K):
    """Reciprocal rank fusion: ``{item: score}`` from lists of items, each best first;
    an item scores the sum of ``1 / (k + rank)`` over the lists it appears in."""
    scores = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores
