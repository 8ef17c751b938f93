"""The journal's SQLite schema, its migrations and how every connection is set up.

Durability: WAL with synchronous=FULL, so every committed transaction is on disk (fsync of the WAL)
before the call that made it returns; the executor records a backup before the remote write it
describes, hence a crash of the control machine at any point leaves what a rollback needs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from fixer.journal.model import FILE_STATES, HOST_STATUSES, RUN_KINDS, RUN_STATUSES, SERVICE_OUTCOMES, JournalError
from fixer.journal.model import timestamp as _now

BUSY_TIMEOUT_S = 30.0  # another fixer process writing the same journal: wait, don't fail


def _one_of(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


_V1 = [
    f"""CREATE TABLE runs (
        id            TEXT PRIMARY KEY,
        kind          TEXT NOT NULL CHECK ({_one_of("kind", RUN_KINDS)}),
        playbook      TEXT,
        inventory     TEXT NOT NULL,
        host_limit    TEXT,
        argv          TEXT NOT NULL,            -- JSON list, secrets masked
        user          TEXT NOT NULL,
        control_host  TEXT NOT NULL,
        fixer_version TEXT NOT NULL,
        started_at    TEXT NOT NULL,
        finished_at   TEXT,
        status        TEXT NOT NULL CHECK ({_one_of("status", RUN_STATUSES)}),
        rolls_back    TEXT REFERENCES runs(id),
        summary       TEXT NOT NULL DEFAULT '{{}}' -- JSON object, secrets masked
    )""",
    "CREATE INDEX runs_started ON runs (started_at)",
    "CREATE INDEX runs_rolls_back ON runs (rolls_back)",
    f"""CREATE TABLE hosts (
        run_id         TEXT NOT NULL REFERENCES runs(id),
        host           TEXT NOT NULL,
        address        TEXT,
        batch          INTEGER,
        status         TEXT NOT NULL CHECK ({_one_of("status", HOST_STATUSES)}),
        error_category TEXT,
        error_message  TEXT,
        added_at       TEXT NOT NULL,
        updated_at     TEXT NOT NULL,
        finished_at    TEXT,
        PRIMARY KEY (run_id, host)
    )""",
    """CREATE TABLE blobs (
        sha256     TEXT PRIMARY KEY,
        size       INTEGER NOT NULL,
        encoding   TEXT NOT NULL CHECK (encoding IN ('raw', 'zlib')),
        data       BLOB NOT NULL,
        created_at TEXT NOT NULL
    )""",
    f"""CREATE TABLE files (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id        TEXT NOT NULL,
        host          TEXT NOT NULL,
        path          TEXT NOT NULL,
        tasks         TEXT NOT NULL,            -- JSON list of task names
        before_exists INTEGER NOT NULL CHECK (before_exists IN (0, 1)),
        before_sha    TEXT REFERENCES blobs(sha256),
        before_owner  TEXT,
        before_group  TEXT,
        before_mode   INTEGER,
        after_exists  INTEGER NOT NULL CHECK (after_exists IN (0, 1)),
        after_sha     TEXT REFERENCES blobs(sha256),
        after_owner   TEXT,
        after_group   TEXT,
        after_mode    INTEGER,
        state         TEXT NOT NULL CHECK ({_one_of("state", FILE_STATES)}),
        message       TEXT,
        created_at    TEXT NOT NULL,
        written_at    TEXT,
        restored_at   TEXT,
        updated_at    TEXT NOT NULL,
        FOREIGN KEY (run_id, host) REFERENCES hosts (run_id, host),
        CHECK ((before_exists = 1) = (before_sha IS NOT NULL)),
        CHECK ((after_exists = 1) = (after_sha IS NOT NULL))
    )""",
    "CREATE INDEX files_run_host ON files (run_id, host, path)",
    f"""CREATE TABLE services (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id            TEXT NOT NULL,
        host              TEXT NOT NULL,
        component         TEXT NOT NULL,
        action            TEXT NOT NULL,
        command           TEXT NOT NULL,
        reason            TEXT NOT NULL,
        readiness_port    INTEGER,
        readiness_wait    INTEGER NOT NULL,
        readiness_timeout REAL NOT NULL,
        outcome           TEXT CHECK (outcome IS NULL OR {_one_of("outcome", SERVICE_OUTCOMES)}),
        message           TEXT,
        started_at        TEXT NOT NULL,
        finished_at       TEXT,
        FOREIGN KEY (run_id, host) REFERENCES hosts (run_id, host)
    )""",
    "CREATE INDEX services_run_host ON services (run_id, host)",
    """CREATE TABLE events (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id  TEXT NOT NULL REFERENCES runs(id),
        host    TEXT,
        at      TEXT NOT NULL,
        kind    TEXT NOT NULL,
        message TEXT NOT NULL
    )""",
    "CREATE INDEX events_run ON events (run_id)",
]

# MIGRATIONS[n] takes a journal from version n to n + 1. Append, never edit a released entry.
MIGRATIONS: list[list[str]] = [_V1]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0


def migrate(conn: sqlite3.Connection, migrations: Sequence[Sequence[str]] = MIGRATIONS) -> int:
    """Bring the journal to the newest schema, each step in its own transaction; return the version."""
    conn.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait, then see it done
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        current = schema_version(conn)
        if current > len(migrations):
            raise JournalError(
                f"the journal has schema version {current}, newer than this fixer knows ({len(migrations)}): "
                "upgrade fixer"
            )
        for version in range(current + 1, len(migrations) + 1):
            for statement in migrations[version - 1]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (version, _now()))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return len(migrations)


def connect(path: Path) -> sqlite3.Connection:
    """A connection set up for the journal (autocommit mode: the store issues BEGIN IMMEDIATE/COMMIT itself)."""
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise JournalError(f"journal {path}: {exc}") from exc
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            raise JournalError(f"journal {path}: cannot use WAL mode (got {mode and mode[0]})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise JournalError(f"journal {path}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn
