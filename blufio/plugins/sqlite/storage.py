"""``SqliteStorage``: the Storage contract on one SQLite file.

WAL mode, foreign keys on, a busy timeout, and two connections:

- the writer (``blufio.plugins.sqlite.writer``): a thread of its own that runs each
  transaction whole (``BEGIN IMMEDIATE`` ... ``COMMIT``) as one call, one transaction at a
  time, the writes waiting under load committed together. No lock is held across the loop
  while it waits, so a busy loop never stretches the time the database is locked;
- the reader: an aiosqlite connection, so reads never wait for a write nor see a half-done
  transaction.

The schema is migrated on ``open``. Memory (search, vectors, summaries) is in
``blufio.plugins.sqlite.memory``.

**Several processes** (``[gateway] workers``, ``blufio.workers``): ``owner`` is this
process's owner id (empty for a single process). Every entry it queues or claims carries it,
and ``claim`` starts an entry only when it is the oldest unfinished one of its session,
waiting (polling, ``CLAIM_POLL``) while an older one is answered, whichever process has it:
the turns of a session stay one at a time and in order across processes. ``unfinished``
lists only the entries no process owns, and ``reset_processing(owner=...)`` frees one
owner's entries (the supervisor's job: it alone knows which owners are gone).
"""

import asyncio
import json
import os
import sqlite3
import uuid

import aiosqlite

from blufio.errors import SchemaTooNewError, StorageError
from blufio.manifest import identity
from blufio.model import USAGE_FIELDS, CostEntry, Message, Session, Usage, utc_now
from blufio.paths import ensure_private_dir, touch_private
from blufio.plugins.sqlite.inbound import (OLDER_UNFINISHED, UNFINISHED, claim_in_order,
                                         inbound_from_row, insert_inbound)
from blufio.plugins.sqlite.memory import SqliteMemory
from blufio.plugins.sqlite.migrations import MIGRATIONS
from blufio.plugins.sqlite.schedules import ScheduleStore
from blufio.plugins.sqlite.writer import Writer
from blufio.workers import current_worker

DATABASE_FILE = "blufio.db"
_USAGE_COLUMNS = ", ".join(USAGE_FIELDS)
CLAIM_POLL = (0.01, 0.2)  # seconds between looks at a session's older entries: first, most


def database_path(config):
    """The database file: ``[storage] path``, else ``blufio.db`` in the data directory."""
    return config.get("storage.path") or os.path.join(config.data_dir, DATABASE_FILE)


class SqliteStorage(SqliteMemory, ScheduleStore):
    """Sessions, messages, the inbound queue, the cost ledger, state, memory and schedules
    (``ScheduleStore``) in SQLite."""

    name, version, adapter_type = identity("sqlite")

    def __init__(self, config, **_services):
        self.path = database_path(config)
        self.busy_timeout_ms = config.get("storage.busy_timeout_ms")
        worker = current_worker()
        self.owner = worker.owner if worker is not None else ""  # see the module docstring
        self._writer = None
        self._reader = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self):
        ensure_private_dir(os.path.dirname(os.path.abspath(self.path)))
        try:
            touch_private(self.path)
            self._writer = Writer(self._translate)
            await self._writer.open(self._connect_writer)
            await self._write(self._migrate)
            self._reader = await self._connect_reader()
            await self._open_memory()
        except BaseException as exc:
            await self.shutdown()
            if isinstance(exc, sqlite3.Error):
                raise self._translate(exc) from exc
            if isinstance(exc, OSError):
                raise StorageError(f"{self.path}: cannot open the database "
                                   f"({exc.strerror or exc})") from exc
            raise

    def _connect_writer(self):
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in self._pragmas():
            conn.execute(pragma)
        return conn

    async def _connect_reader(self):
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        for pragma in self._pragmas():
            await conn.execute(pragma)
        return conn

    def _pragmas(self):
        return (f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}", "PRAGMA journal_mode = WAL",
                "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON")

    def _migrate(self, conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise SchemaTooNewError(
                f"{self.path}: the database is at schema version {version}, made by a newer "
                f"Blufio (this one knows up to {len(MIGRATIONS)}); run the newer Blufio or "
                "point [storage] path at another file. Nothing was changed.")
        for number in range(version, len(MIGRATIONS)):
            for statement in _statements(MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")

    async def health_check(self):
        if self._reader is None:
            return {"status": "down", "detail": "not open"}
        try:
            await self._reader.execute("SELECT 1")
        except sqlite3.Error as exc:
            return {"status": "down", "detail": str(exc)}
        return {"status": "ok", "detail": f"open; {self.memory_detail()}"}

    async def shutdown(self):
        if self._reader is not None:
            try:
                await self._reader.close()
            except (sqlite3.Error, ValueError):
                pass
        if self._writer is not None:
            await self._writer.close()
        self._reader = self._writer = None

    # -- sessions ----------------------------------------------------------------------------

    async def create_session(self, channel, *, session_id=None, title="", metadata=None):
        now = utc_now()
        session = Session(session_id or uuid.uuid4().hex, channel, now, now, 0, title,
                          dict(metadata or {}))
        await self._write(lambda conn: conn.execute(
            "INSERT INTO sessions (id, channel, title, metadata, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (session.id, channel, title, json.dumps(session.metadata), now, now)))
        return session

    async def get_session(self, session_id):
        rows = await self._read("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return _session(rows[0]) if rows else None

    async def delete_session(self, session_id):
        # messages and inbound entries go with it (ON DELETE CASCADE); the ledger stays
        def delete(conn):
            self._unindex_session(conn, session_id)
            return conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount

        return await self._write(delete) > 0

    async def list_sessions(self, *, limit=50, offset=0, channel=None):
        where, params = ("WHERE channel = ?", [channel]) if channel else ("", [])
        rows = await self._read(f"SELECT * FROM sessions {where} ORDER BY updated_at DESC, "
                                "rowid DESC LIMIT ? OFFSET ?", (*params, limit, offset))
        return [_session(row) for row in rows]

    async def count_sessions(self, *, channel=None):
        where, params = ("WHERE channel = ?", (channel,)) if channel else ("", ())
        return (await self._read(f"SELECT count(*) FROM sessions {where}", params))[0][0]

    # -- messages ----------------------------------------------------------------------------

    async def get_messages(self, session_id, *, limit=None):
        if limit is None:
            rows = await self._read("SELECT * FROM messages WHERE session_id = ? ORDER BY id",
                                    (session_id,))
        else:
            rows = await self._read("SELECT * FROM (SELECT * FROM messages WHERE session_id = ? "
                                    "ORDER BY id DESC LIMIT ?) ORDER BY id", (session_id, limit))
        return [_message(row) for row in rows]

    async def append_messages(self, session_id, messages):
        def append(conn):
            stored = _insert_messages(conn, session_id, messages)
            self._index_stored(conn, stored)
            return stored

        return await self._write(append)

    # -- the inbound queue -------------------------------------------------------------------

    async def enqueue(self, session_id, channel, content, *, reply_to=None, claimed=False):
        status = "processing" if claimed else "pending"
        return await self._write(insert_inbound, session_id, channel, content, reply_to, status,
                                 self.owner)

    async def claim(self, inbound_id):
        if not self.owner:
            cursor = await self._write(lambda conn: conn.execute(
                "UPDATE inbound SET status = 'processing' WHERE id = ? AND status = 'pending'",
                (inbound_id,)))
            return cursor.rowcount == 1
        delay = CLAIM_POLL[0]
        while (claimed := await self._write(claim_in_order, inbound_id, self.owner)) is None:
            while await self._read(OLDER_UNFINISHED, (inbound_id, inbound_id)):
                await asyncio.sleep(delay)  # an older entry of the session is being answered
                delay = min(delay * 2, CLAIM_POLL[1])
        return claimed

    async def finish_turn(self, inbound_id, messages):
        def finish(conn):
            row = conn.execute("SELECT session_id FROM inbound WHERE id = ? AND "
                               "status = 'processing'", (inbound_id,)).fetchone()
            if row is None:
                raise StorageError(f"inbound message {inbound_id} is not being processed")
            stored = _insert_messages(conn, row[0], messages)
            self._index_stored(conn, stored)
            conn.execute("UPDATE inbound SET status = 'done', finished_at = ? WHERE id = ?",
                         (utc_now(), inbound_id))
            return stored

        return await self._write(finish)

    async def fail_turn(self, inbound_id, error):
        await self._write(lambda conn: conn.execute(
            "UPDATE inbound SET status = 'failed', error = ?, finished_at = ? WHERE id = ?",
            (error, utc_now(), inbound_id)))

    async def unfinished(self):
        rows = await self._read(f"SELECT * FROM inbound WHERE {UNFINISHED} AND owner = '' "
                                "ORDER BY id")
        return [inbound_from_row(row) for row in rows]

    async def reset_processing(self, *, channels=None, owner=None):
        """Return entries a crash left ``processing`` to ``pending``, owned by nobody (only
        those of ``channels`` when given; only those of ``owner`` when given, pending ones
        included); return how many. Call at start-up, before any turn runs, or once
        ``owner``'s process is gone."""
        conditions, params = [UNFINISHED], []
        if owner is None:
            conditions.append("(status = 'processing' OR owner != '')")
        else:
            conditions.append("owner = ?")
            params.append(owner)
        if channels is not None:
            conditions.append(f"channel IN ({', '.join('?' * len(channels))})")
            params.extend(channels)
        cursor = await self._write(lambda conn: conn.execute(
            f"UPDATE inbound SET status = 'pending', owner = '' WHERE {' AND '.join(conditions)}",
            params))
        return cursor.rowcount

    # -- the cost ledger ---------------------------------------------------------------------

    async def record_cost(self, entry):
        await self._write(lambda conn: conn.execute(
            f"INSERT INTO cost_ledger (session_id, model, {_USAGE_COLUMNS}, cost_usd, "
            "created_at, provider) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.session_id, entry.model, *entry.usage.as_tuple(), entry.cost_usd,
             entry.created_at or utc_now(), entry.provider)))

    async def cost_since(self, since, *, session_id=None):
        where, params = ("AND session_id = ?", (session_id,)) if session_id else ("", ())
        rows = await self._read("SELECT coalesce(sum(cost_usd), 0) FROM cost_ledger "
                                f"WHERE created_at >= ? {where}", (since, *params))
        return float(rows[0][0])

    async def cost_entries(self, *, session_id=None):
        where, params = ("WHERE session_id = ?", (session_id,)) if session_id else ("", ())
        rows = await self._read(f"SELECT * FROM cost_ledger {where} ORDER BY id", params)
        return [CostEntry(row["session_id"], row["model"], _usage(row), row["cost_usd"],
                          row["created_at"], row["provider"]) for row in rows]

    # -- state -------------------------------------------------------------------------------

    async def get_state(self, key):
        rows = await self._read("SELECT value FROM state WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    async def set_state(self, key, value):
        await self._write(lambda conn: conn.execute(
            "INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) "
            "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (key, value, utc_now())))

    # -- internals ---------------------------------------------------------------------------

    async def _read(self, sql, params=()):
        if self._reader is None:
            raise StorageError("the database is not open")
        try:
            return await self._reader.execute_fetchall(sql, params)
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc

    async def _write(self, function, *args):
        """Run ``function(conn, *args)`` as one transaction on the writer thread: committed
        if it returns, rolled back if it raises (SQLite errors become StorageError)."""
        if self._writer is None:
            raise StorageError("the database is not open")
        return await self._writer.write(function, *args)

    def _translate(self, exc):
        text = str(exc)
        if "locked" in text or "busy" in text:
            return StorageError(f"{self.path}: the database is locked by another process "
                                f"(waited {self.busy_timeout_ms} ms); stop the other Blufio or "
                                "raise [storage] busy_timeout_ms")
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
            return StorageError(f"{self.path}: is not a SQLite database")
        return StorageError(f"{self.path}: database error: {text}")


def _insert_messages(conn, session_id, messages):
    now = utc_now()
    stored = []
    for message in messages:
        cursor = conn.execute(
            f"INSERT INTO messages (session_id, role, content, model, {_USAGE_COLUMNS}, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session_id, message.role, json.dumps(message.content), message.model,
             *message.usage.as_tuple(), now))
        stored.append(Message(cursor.lastrowid, session_id, message.role, message.content,
                              now, message.model, message.usage))
    cursor = conn.execute(
        "UPDATE sessions SET message_count = message_count + ?, updated_at = ? WHERE id = ?",
        (len(messages), now, session_id))
    if cursor.rowcount != 1:
        raise StorageError(f"no session with id {session_id}")
    return stored


def _statements(script):
    return [s.strip() for s in script.split(";") if s.strip()]


def _usage(row):
    return Usage(*(row[column] for column in USAGE_FIELDS))


def _session(row):
    return Session(row["id"], row["channel"], row["created_at"], row["updated_at"],
                   row["message_count"], row["title"], json.loads(row["metadata"]))


def _message(row):
    return Message(row["id"], row["session_id"], row["role"], json.loads(row["content"]),
                   row["created_at"], row["model"], _usage(row))
