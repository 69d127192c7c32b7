"""Schedules and their runs in SQLite: the ``ScheduleStore`` part of ``SqliteStorage``.

A run starts in one transaction that checks the schedule is still due as the caller saw it,
queues the run's prompt as an inbound message, records the run and moves the schedule to
its next time. So after a crash a run has either wholly started (its inbound entry is
answered by the crash-safe inbound path) or not at all (the schedule is still due), and
two starters cannot both win. A run's cost is what the cost ledger recorded for its
session while its inbound entry was being answered.
"""

import uuid

from blufio.errors import StorageError
from blufio.model import Schedule, ScheduleRun, utc_now
from blufio.plugins.sqlite.inbound import insert_inbound

_SCHEDULE_FIELDS = ("prompt", "target", "cron", "timezone", "status", "catch_up",
                    "max_run_usd", "max_day_usd", "paused_reason", "next_run_at")
_AT_ONCE = "0001-01-01T00:00:00.000000Z"
_RUN_COST = (
    "SELECT coalesce(sum(c.cost_usd), 0) FROM inbound i JOIN cost_ledger c "
    "ON c.session_id = i.session_id AND c.created_at >= i.received_at "
    "AND c.created_at <= coalesce(i.finished_at, ?) WHERE i.id = ?")


class ScheduleStore:
    """Schedule methods of ``SqliteStorage`` (they use its ``_read`` and ``_write``)."""

    async def create_schedule(self, schedule):
        """Store ``schedule`` under a new short id; return it as stored."""
        def insert(conn):
            now = utc_now()
            for _ in range(8):
                new_id = uuid.uuid4().hex[:8]
                if conn.execute("SELECT 1 FROM schedules WHERE id = ?", (new_id,)).fetchone():
                    continue
                conn.execute(
                    f"INSERT INTO schedules (id, {', '.join(_SCHEDULE_FIELDS)}, created_at, "
                    f"updated_at) VALUES ({', '.join('?' * (len(_SCHEDULE_FIELDS) + 3))})",
                    (new_id, *(getattr(schedule, f) for f in _SCHEDULE_FIELDS), now, now))
                return new_id
            raise StorageError("could not find a free schedule id")

        return await self.get_schedule(await self._write(insert))

    async def get_schedule(self, schedule_id):
        rows = await self._read("SELECT * FROM schedules WHERE id = ?", (schedule_id,))
        return _schedule(rows[0]) if rows else None

    async def list_schedules(self, *, target=None):
        """Every schedule (of ``target`` when given): active ones by next run, then the rest."""
        where, params = ("WHERE target = ?", (target,)) if target else ("", ())
        rows = await self._read(
            f"SELECT * FROM schedules {where} ORDER BY status != 'active', "
            "next_run_at IS NULL, next_run_at, created_at, id", params)
        return [_schedule(row) for row in rows]

    async def delete_schedule(self, schedule_id):
        """Remove a schedule and its runs; False if there was none."""
        cursor = await self._write(lambda conn: conn.execute(
            "DELETE FROM schedules WHERE id = ?", (schedule_id,)))
        return cursor.rowcount == 1

    async def set_schedule_status(self, schedule_id, status, *, reason="", next_run_at=None,
                                  only_from=None):
        """Set ``status`` (with ``paused_reason`` and ``next_run_at``; pausing drops a run
        asked for); only when the current status is one of ``only_from`` if given. Return
        the schedule, None if unchanged."""
        guard, params = "", ()
        if only_from:
            guard = f"AND status IN ({', '.join('?' * len(only_from))})"
            params = tuple(only_from)
        cursor = await self._write(lambda conn: conn.execute(
            "UPDATE schedules SET status = ?, paused_reason = ?, next_run_at = ?, "
            "run_now = CASE WHEN ? = 'paused' THEN 0 ELSE run_now END, "
            f"updated_at = ? WHERE id = ? {guard}",
            (status, reason, next_run_at, status, utc_now(), schedule_id, *params)))
        return await self.get_schedule(schedule_id) if cursor.rowcount == 1 else None

    async def request_schedule_run(self, schedule_id):
        """Ask for a run now, besides the schedule's own times; False if there is none."""
        cursor = await self._write(lambda conn: conn.execute(
            "UPDATE schedules SET run_now = 1, updated_at = ? WHERE id = ?",
            (utc_now(), schedule_id)))
        return cursor.rowcount == 1

    async def due_schedules(self, now, *, limit=200):
        """Active schedules due at ``now`` (a stored UTC string) and those asked to run
        now, earliest first."""
        rows = await self._read(
            "SELECT * FROM schedules WHERE status = 'active' AND next_run_at <= ? "
            "UNION SELECT * FROM schedules WHERE run_now = 1 "
            "ORDER BY next_run_at LIMIT ?", (now, limit))
        return [_schedule(row) for row in rows]

    async def next_schedule_due(self):
        """When the next schedule is due (a stored UTC string), None if none is; a run
        asked for is due at once (the earliest time there is)."""
        rows = await self._read(
            "SELECT min(next_run_at) FROM schedules WHERE status = 'active' "
            f"UNION ALL SELECT '{_AT_ONCE}' FROM schedules WHERE run_now = 1")
        times = [row[0] for row in rows if row[0] is not None]
        return min(times) if times else None

    async def start_schedule_run(self, schedule_id, *, due_at, outcome, next_run_at, status,
                                 expected_next=None, manual=False, inbound=None, error="",
                                 paused_reason="", started_at=None):
        """Record a run and move the schedule on, in one transaction.

        The schedule must still be as the caller saw it: asked to run now (``manual``) or
        active and next due at ``expected_next``. ``inbound`` (``session_id``, ``channel``,
        ``content``, ``reply_to``) queues the run's prompt; its ``reply_to`` also names the
        schedule and the run.
        ``started_at`` is the scheduler's time (default: now). Returns ``(ScheduleRun,
        Inbound or None)``, or None when the schedule had changed.
        """
        def start(conn):
            row = conn.execute("SELECT status, next_run_at, run_now FROM schedules WHERE id = ?",
                               (schedule_id,)).fetchone()
            if row is None or (not row[2] if manual else
                               (row[0] != "active" or row[1] != expected_next)):
                return None
            now = started_at or utc_now()
            cursor = conn.execute(
                "INSERT INTO schedule_runs (schedule_id, due_at, started_at, outcome, error, "
                "finished_at) VALUES (?, ?, ?, ?, ?, ?)",
                (schedule_id, due_at, now, outcome, error,
                 None if outcome == "running" else now))
            run = ScheduleRun(cursor.lastrowid, schedule_id, due_at, now, outcome, error=error,
                              finished_at=None if outcome == "running" else now)
            queued = None
            if inbound is not None:
                queued = insert_inbound(conn, inbound["session_id"], inbound["channel"],
                                        inbound["content"],
                                        {**inbound.get("reply_to", {}),
                                         "schedule_id": schedule_id, "run_id": run.id})
                run.inbound_id = queued.id
                conn.execute("UPDATE schedule_runs SET inbound_id = ? WHERE id = ?",
                             (queued.id, run.id))
            conn.execute(
                "UPDATE schedules SET next_run_at = ?, status = ?, paused_reason = ?, "
                "run_now = CASE WHEN ? THEN 0 ELSE run_now END, last_run_at = ?, "
                "last_outcome = ?, last_error = ?, run_count = run_count + 1, updated_at = ? "
                "WHERE id = ?",
                (next_run_at, status, paused_reason, manual, now, outcome, error, now,
                 schedule_id))
            return run, queued

        return await self._write(start)

    async def finish_schedule_run(self, run_id, outcome, error=""):
        """End a running run as ``ok`` or ``failed``, costing it from the ledger; return it,
        or None when it was not running (someone else finished it)."""
        def finish(conn):
            row = conn.execute("SELECT * FROM schedule_runs WHERE id = ? AND "
                               "outcome = 'running'", (run_id,)).fetchone()
            if row is None:
                return None
            now = utc_now()
            cost = 0.0
            if row["inbound_id"] is not None:
                cost = conn.execute(_RUN_COST, (now, row["inbound_id"])).fetchone()[0]
            conn.execute("UPDATE schedule_runs SET outcome = ?, error = ?, cost_usd = ?, "
                         "finished_at = ? WHERE id = ?", (outcome, error, cost, now, run_id))
            conn.execute("UPDATE schedules SET last_outcome = ?, last_error = ?, "
                         "spent_usd = spent_usd + ?, updated_at = ? WHERE id = ?",
                         (outcome, error, cost, now, row["schedule_id"]))
            return _run(row, outcome=outcome, error=error, cost_usd=cost, finished_at=now)

        return await self._write(_with_rows(finish))

    async def running_schedule_runs(self):
        """Runs not yet finished, each with its inbound entry's status and error (None for
        both when the entry is gone), oldest first."""
        rows = await self._read(
            "SELECT r.*, i.status AS inbound_status, i.error AS inbound_error "
            "FROM schedule_runs r LEFT JOIN inbound i ON i.id = r.inbound_id "
            "WHERE r.outcome = 'running' ORDER BY r.id")
        return [(_run(row), row["inbound_status"], row["inbound_error"]) for row in rows]

    async def schedule_runs(self, schedule_id, *, limit=20):
        """The schedule's last ``limit`` runs, newest first."""
        rows = await self._read("SELECT * FROM schedule_runs WHERE schedule_id = ? "
                                "ORDER BY id DESC LIMIT ?", (schedule_id, limit))
        return [_run(row) for row in rows]

    async def scheduled_cost_since(self, since, *, schedule_id=None):
        """USD spent by finished runs started since ``since`` (of one schedule, or all)."""
        where, params = ("AND schedule_id = ?", (schedule_id,)) if schedule_id else ("", ())
        rows = await self._read("SELECT coalesce(sum(cost_usd), 0) FROM schedule_runs "
                                f"WHERE started_at >= ? {where}", (since, *params))
        return float(rows[0][0])


def _with_rows(function):
    """``function(conn)`` with rows readable by column name for its duration."""
    def wrapped(conn):
        import sqlite3

        previous, conn.row_factory = conn.row_factory, sqlite3.Row
        try:
            return function(conn)
        finally:
            conn.row_factory = previous

    return wrapped


def _schedule(row):
    return Schedule(row["id"], row["prompt"], row["target"], row["next_run_at"],
                    cron=row["cron"], timezone=row["timezone"], status=row["status"],
                    catch_up=row["catch_up"], max_run_usd=row["max_run_usd"],
                    max_day_usd=row["max_day_usd"], paused_reason=row["paused_reason"],
                    run_now=bool(row["run_now"]), last_run_at=row["last_run_at"],
                    last_outcome=row["last_outcome"], last_error=row["last_error"],
                    run_count=row["run_count"], spent_usd=row["spent_usd"],
                    created_at=row["created_at"], updated_at=row["updated_at"])


def _run(row, **changes):
    run = ScheduleRun(row["id"], row["schedule_id"], row["due_at"], row["started_at"],
                      row["outcome"], row["inbound_id"], row["cost_usd"], row["error"],
                      row["finished_at"])
    for name, value in changes.items():
        setattr(run, name, value)
    return run

