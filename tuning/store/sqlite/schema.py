"""The SQLite store's schema as an ordered list of migrations, tracked by ``PRAGMA user_version``.

Append new migrations to :data:`MIGRATIONS`; never edit one that has shipped. Migration ``n``
(1-based) brings a database from ``user_version`` ``n - 1`` to ``n`` inside one transaction.
"""

from __future__ import annotations

import sqlite3

from tuning.errors import StoreError

MIGRATIONS: tuple[str, ...] = (
    # 1: the initial schema. Datetimes are ISO-8601 UTC strings of fixed width (they sort as
    # text); JSON fields are TEXT.
    """
    CREATE TABLE interactions (
        id TEXT PRIMARY KEY,
        team TEXT NOT NULL,
        channel TEXT NOT NULL,
        ts TEXT NOT NULL,
        kind TEXT NOT NULL,
        input_text TEXT NOT NULL,
        output TEXT NOT NULL,
        model_version TEXT NOT NULL,
        user TEXT NOT NULL,
        thread_ts TEXT,
        reply_ts TEXT,
        probability REAL,
        candidates TEXT NOT NULL,
        parent_id TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX interactions_channel_ts ON interactions (channel, ts);
    CREATE INDEX interactions_channel_reply_ts ON interactions (channel, reply_ts)
        WHERE reply_ts IS NOT NULL;
    CREATE INDEX interactions_created ON interactions (created_at, id);
    CREATE INDEX interactions_kind_created ON interactions (kind, created_at, id);
    CREATE INDEX interactions_user ON interactions (user);

    CREATE TABLE feedback (
        interaction_id TEXT NOT NULL,
        user TEXT NOT NULL,
        reaction TEXT NOT NULL,
        rating INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        retracted INTEGER NOT NULL DEFAULT 0,
        retracted_at TEXT,
        PRIMARY KEY (interaction_id, user, reaction)
    );
    CREATE INDEX feedback_updated ON feedback (updated_at, interaction_id, user, reaction);
    CREATE INDEX feedback_user ON feedback (user);

    CREATE TABLE claims (
        key TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE INDEX claims_expires ON claims (expires_at);

    CREATE TABLE models (
        task TEXT NOT NULL,
        version TEXT NOT NULL,
        backend TEXT NOT NULL,
        artifact TEXT NOT NULL,
        metrics TEXT NOT NULL,
        state TEXT NOT NULL,
        job_id TEXT,
        created_at TEXT NOT NULL,
        promoted_at TEXT,
        PRIMARY KEY (task, version)
    );
    -- At most one active version per task, enforced by the database itself.
    CREATE UNIQUE INDEX models_one_active ON models (task) WHERE state = 'active';

    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        task TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,
        body TEXT NOT NULL  -- the whole JobRecord as JSON
    );
    CREATE INDEX jobs_created ON jobs (created_at, id);
    CREATE INDEX jobs_task_created ON jobs (task, created_at, id);

    CREATE TABLE channels (
        channel TEXT PRIMARY KEY,
        threshold REAL NOT NULL,
        mode TEXT NOT NULL,
        reaction TEXT NOT NULL
    );

    CREATE TABLE optouts (
        user TEXT PRIMARY KEY,
        opted_out INTEGER NOT NULL,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        result TEXT NOT NULL,
        detail TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX audit_at ON audit (at, seq);
    """,
    # 2: corrections (a person's better reply, one per interaction and user), the link from a
    # reply to its *Try again* retries, and each channel's exploration share.
    """
    CREATE TABLE corrections (
        interaction_id TEXT NOT NULL,
        user TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (interaction_id, user)
    );
    CREATE INDEX corrections_created ON corrections (created_at, interaction_id, user);
    CREATE INDEX corrections_user ON corrections (user);
    CREATE INDEX interactions_parent ON interactions (parent_id) WHERE parent_id IS NOT NULL;
    ALTER TABLE channels ADD COLUMN explore REAL NOT NULL DEFAULT 0;
    """,
    # 3: the last Slack event applied to each feedback key, so that a late reaction_added
    # cannot undo a newer reaction_removed (kept apart: a retraction of feedback never given
    # is remembered here without a feedback row).
    """
    CREATE TABLE feedback_order (
        interaction_id TEXT NOT NULL,
        user TEXT NOT NULL,
        reaction TEXT NOT NULL,
        event_order TEXT NOT NULL,
        PRIMARY KEY (interaction_id, user, reaction)
    );
    CREATE INDEX feedback_order_user ON feedback_order (user);
    """,
    # 4: who wrote each interaction's text (forget-me deletes by author; until now the actor
    # was the author), creation-time indexes for the retention purge, and the manifests of
    # datasets and model versions (record ids only: a zlib blob of newline-joined ids).
    """
    ALTER TABLE interactions ADD COLUMN author TEXT NOT NULL DEFAULT '';
    UPDATE interactions SET author = user;
    CREATE INDEX interactions_author ON interactions (author);
    CREATE INDEX feedback_created ON feedback (created_at);

    CREATE TABLE manifests (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        task TEXT NOT NULL,
        record_ids BLOB NOT NULL,
        locations TEXT NOT NULL,  -- JSON list
        oldest TEXT,
        affected TEXT NOT NULL,
        pending TEXT NOT NULL,  -- JSON list
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX manifests_created ON manifests (created_at, id);
    """,
)


def _known_version(conn: sqlite3.Connection) -> int:
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if current > len(MIGRATIONS):
        raise StoreError(
            f"sqlite database schema version {current} is newer than this code "
            f"({len(MIGRATIONS)}); upgrade sarcasm-bot"
        )
    return current


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every pending migration, each in its own transaction; return the schema version."""
    # BEGIN IMMEDIATE before reading user_version so two processes cannot both migrate.
    for target, script in enumerate(MIGRATIONS, start=1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = _known_version(conn)
            if current >= target:
                conn.execute("COMMIT")
                continue
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {target}")
            conn.execute("COMMIT")
        except BaseException:  # even cancellation: roll back, then re-raise
            conn.execute("ROLLBACK")
            raise
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT our transaction first, so split and run statements one by one.
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
