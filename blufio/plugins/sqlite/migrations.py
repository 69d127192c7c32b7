"""The database's schema, as numbered migrations.

``MIGRATIONS[n]`` takes the database from version ``n`` to ``n + 1`` (``PRAGMA
user_version``). Append new migrations; never edit one that has shipped. A database whose
version is higher than ``len(MIGRATIONS)`` was made by a newer Blufio and is refused.
"""

MIGRATIONS = (
    # 1: sessions, messages, the inbound queue, the cost ledger, key/value state
    """
    CREATE TABLE sessions (
        id            TEXT PRIMARY KEY,
        channel       TEXT NOT NULL,
        title         TEXT NOT NULL DEFAULT '',
        metadata      TEXT NOT NULL DEFAULT '{}',
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        message_count INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX sessions_by_update ON sessions (updated_at DESC, id DESC);

    CREATE TABLE messages (
        id                          INTEGER PRIMARY KEY,
        session_id                  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        role                        TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content                     TEXT NOT NULL,
        model                       TEXT NOT NULL DEFAULT '',
        input_tokens                INTEGER NOT NULL DEFAULT 0,
        output_tokens               INTEGER NOT NULL DEFAULT 0,
        cache_creation_input_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_input_tokens     INTEGER NOT NULL DEFAULT 0,
        created_at                  TEXT NOT NULL
    );
    CREATE INDEX messages_by_session ON messages (session_id, id);

    CREATE TABLE inbound (
        id          INTEGER PRIMARY KEY,
        session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        channel     TEXT NOT NULL,
        content     TEXT NOT NULL,
        reply_to    TEXT NOT NULL DEFAULT '{}',
        status      TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'processing', 'done', 'failed')),
        error       TEXT NOT NULL DEFAULT '',
        received_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE INDEX inbound_unfinished ON inbound (id) WHERE status IN ('pending', 'processing');

    CREATE TABLE cost_ledger (
        id                          INTEGER PRIMARY KEY,
        session_id                  TEXT NOT NULL,
        model                       TEXT NOT NULL,
        input_tokens                INTEGER NOT NULL,
        output_tokens               INTEGER NOT NULL,
        cache_creation_input_tokens INTEGER NOT NULL,
        cache_read_input_tokens     INTEGER NOT NULL,
        cost_usd                    REAL NOT NULL,
        created_at                  TEXT NOT NULL
    );
    CREATE INDEX cost_ledger_by_time ON cost_ledger (created_at);
    CREATE INDEX cost_ledger_by_session ON cost_ledger (session_id);

    CREATE TABLE state (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    # 2: memory: saved memories, their vectors and the vectors of messages, session summaries.
    # The FTS5 index over memories and messages is derived data, built (and filled from the
    # messages already stored) by blufio.plugins.sqlite.search on open when FTS5 is there.
    """
    CREATE TABLE memories (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,  -- an id is never reused once forgotten
        text       TEXT NOT NULL,
        session_id TEXT,
        message_id INTEGER,
        channel    TEXT NOT NULL DEFAULT '',
        tags       TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL
    );
    CREATE INDEX memories_by_time ON memories (created_at DESC, id DESC);

    CREATE TABLE memory_vectors (
        item   INTEGER PRIMARY KEY,
        model  TEXT NOT NULL,
        vector BLOB NOT NULL
    );

    CREATE TABLE session_summaries (
        session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
        through_id INTEGER NOT NULL,
        text       TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 3: the cost ledger says which provider answered (empty for calls made before)
    """
    ALTER TABLE cost_ledger ADD COLUMN provider TEXT NOT NULL DEFAULT '';
    """,
    # 4: schedules and their runs (a run's prompt is an inbound queue entry)
    """
    CREATE TABLE schedules (
        id            TEXT PRIMARY KEY,
        prompt        TEXT NOT NULL,
        target        TEXT NOT NULL,
        cron          TEXT NOT NULL DEFAULT '',
        timezone      TEXT NOT NULL DEFAULT 'UTC',
        status        TEXT NOT NULL DEFAULT 'active'
                      CHECK (status IN ('active', 'paused', 'done')),
        catch_up      TEXT NOT NULL DEFAULT 'once' CHECK (catch_up IN ('once', 'skip')),
        max_run_usd   REAL,
        max_day_usd   REAL,
        paused_reason TEXT NOT NULL DEFAULT '',
        next_run_at   TEXT,
        run_now       INTEGER NOT NULL DEFAULT 0,
        last_run_at   TEXT,
        last_outcome  TEXT NOT NULL DEFAULT '',
        last_error    TEXT NOT NULL DEFAULT '',
        run_count     INTEGER NOT NULL DEFAULT 0,
        spent_usd     REAL NOT NULL DEFAULT 0,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE INDEX schedules_due ON schedules (next_run_at) WHERE status = 'active';
    CREATE INDEX schedules_run_now ON schedules (id) WHERE run_now = 1;

    CREATE TABLE schedule_runs (
        id          INTEGER PRIMARY KEY,
        schedule_id TEXT NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
        due_at      TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        outcome     TEXT NOT NULL
                    CHECK (outcome IN ('running', 'ok', 'failed', 'skipped', 'capped')),
        inbound_id  INTEGER REFERENCES inbound (id) ON DELETE SET NULL,
        cost_usd    REAL NOT NULL DEFAULT 0,
        error       TEXT NOT NULL DEFAULT '',
        finished_at TEXT
    );
    CREATE INDEX schedule_runs_by_schedule ON schedule_runs (schedule_id, started_at);
    CREATE INDEX schedule_runs_by_time ON schedule_runs (started_at);
    CREATE INDEX schedule_runs_running ON schedule_runs (id) WHERE outcome = 'running';
    """,
    # 5: the sign bits of each vector, and the index that vector search reads first. The
    # vectors made before have no bits: they are dropped, and made again in the background.
    """
    DELETE FROM memory_vectors;
    ALTER TABLE memory_vectors ADD COLUMN bits BLOB NOT NULL DEFAULT x'';
    CREATE INDEX memory_vectors_bits ON memory_vectors (model, bits);
    """,
    # 6: which process answers an entry (``[gateway] workers``: the worker's owner id; empty
    # for a single process, and once its owner is gone), and each session's unfinished
    # entries in order, for "a turn starts when it is the oldest of its session"
    """
    ALTER TABLE inbound ADD COLUMN owner TEXT NOT NULL DEFAULT '';
    CREATE INDEX inbound_unfinished_by_session ON inbound (session_id, id)
        WHERE status IN ('pending', 'processing');
    """,
)
