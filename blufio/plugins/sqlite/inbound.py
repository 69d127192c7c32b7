"""The inbound queue's SQL, run inside the caller's transaction: shared by the storage
(messages received) and the schedules (runs queued as messages)."""

import json

from blufio.model import Inbound, utc_now

UNFINISHED = "status IN ('pending', 'processing')"
OLDER_UNFINISHED = (  # an older unfinished entry of the session of entry ? (given twice)
    "SELECT 1 FROM inbound AS older WHERE older.session_id = (SELECT session_id FROM inbound "
    f"WHERE id = ?) AND older.id < ? AND older.{UNFINISHED} LIMIT 1")


def insert_inbound(conn, session_id, channel, content, reply_to=None, status="pending",
                   owner=""):
    """Queue a received message inside the caller's transaction; return its ``Inbound``.

    With an ``owner`` (several processes), an entry asked for as ``processing`` stays
    ``pending`` (its owner's ``claim`` waits) while an older one of its session is unfinished."""
    now = utc_now()
    reply_to = dict(reply_to or {})
    if owner and status == "processing" and conn.execute(
            f"SELECT 1 FROM inbound WHERE session_id = ? AND {UNFINISHED} LIMIT 1",
            (session_id,)).fetchone():
        status = "pending"
    cursor = conn.execute(
        "INSERT INTO inbound (session_id, channel, content, reply_to, status, received_at, "
        "owner) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (session_id, channel, json.dumps(content), json.dumps(reply_to), status, now, owner))
    return Inbound(cursor.lastrowid, session_id, channel, content, status, now, reply_to)


def claim_in_order(conn, inbound_id, owner):
    """Inside a transaction: mark the entry ``processing`` for ``owner`` when it is pending,
    not another owner's, and the oldest unfinished entry of its session (True); False when
    it cannot be claimed at all; None while an older entry of its session is unfinished."""
    row = conn.execute("SELECT status, owner FROM inbound WHERE id = ?", (inbound_id,)).fetchone()
    if row is None or row[0] != "pending" or row[1] not in ("", owner):
        return False
    if conn.execute(OLDER_UNFINISHED, (inbound_id, inbound_id)).fetchone():
        return None
    conn.execute("UPDATE inbound SET status = 'processing', owner = ? WHERE id = ?",
                 (owner, inbound_id))
    return True


def inbound_from_row(row):
    """The ``Inbound`` of a row of the ``inbound`` table."""
    return Inbound(row["id"], row["session_id"], row["channel"], json.loads(row["content"]),
                   row["status"], row["received_at"], json.loads(row["reply_to"]), row["error"])
