"""The journal store: one SQLite file on the control machine that tells the truth about every run.

Contract with the executor: every call commits before it returns (WAL, synchronous=FULL), so a record made
before a remote change survives a crash of the control machine during that change. `record_backup` is
called before a file is written, `mark_file` after; `record_service` before a restart, `finish_service`
after.

Thread-safe: one connection guarded by a lock, shared by the executor's worker threads; other processes
writing the same file wait on SQLite's lock (busy timeout) instead of failing.

Secrets: the API takes no password or key, and none may be passed to it: the become/SSH passwords live
in memory only and never reach the journal (not in argv — secret-looking `-e` values and options are
masked by `start_run` —, not in events, not in summaries, whose secret-looking keys are masked too).
What is stored on purpose is the exact bytes of every file a run changes (the backups an exact rollback
needs), which is why the file is 0600 in a 0700 directory.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import fixer
from fixer.errors import UsageError
from fixer.journal import rows
from fixer.journal.blobs import get_blob, put_blob
from fixer.journal.model import (
    FILE_STATES,
    FILE_TRANSITIONS,
    HOST_STATUSES,
    RUN_KINDS,
    RUN_STATUSES,
    SERVICE_OUTCOMES,
    EventRecord,
    FileRecord,
    HostRecord,
    JournalError,
    RunRecord,
    ServiceRecord,
    new_run_id,
    timestamp,
)
from fixer.journal.paths import default_journal_path, prepare_journal_file
from fixer.journal.redact import redact_argv, redact_data
from fixer.journal.rollback import net_changes
from fixer.journal.schema import connect
from fixer.plan.model import FileChange, ServiceAction


def _check(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of {', '.join(allowed)}")


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid {os.getuid()}"


class Journal:
    """A journal file. Open with `Journal.open()` (default location) or `Journal(path)`; close when done."""

    def __init__(self, path: Path) -> None:
        self.path = prepare_journal_file(Path(path))
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = connect(self.path)
        self._conn.row_factory = sqlite3.Row

    @classmethod
    def open(cls, path: Path | None = None) -> Journal:
        """`path` (the CLI's --journal), else $FIXER_JOURNAL, else the user's state directory."""
        return cls(path if path is not None else default_journal_path())

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One committed transaction (durable when the block ends without an exception)."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise JournalError(f"journal {self.path}: {exc}") from exc
                raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            conn = self._connection()
            try:
                return list(conn.execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                raise JournalError(f"journal {self.path}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalError(f"journal {self.path} is closed")
        return self._conn

    @staticmethod
    def _ensure_host(conn: sqlite3.Connection, run_id: str, host: str) -> None:
        now = timestamp()
        conn.execute(
            "INSERT OR IGNORE INTO hosts (run_id, host, status, added_at, updated_at) VALUES (?, ?, 'pending', ?, ?)",
            (run_id, host, now, now),
        )

    # -- runs ---------------------------------------------------------------------------------------------

    def start_run(self, kind: str, playbook: str | None, inventory: str, limit: str | None, argv: Sequence[str],
                  rolls_back: str | None = None) -> str:
        """Record a new run (status 'running'); return its id. argv is stored with secret values masked."""
        _check(kind, RUN_KINDS, "run kind")
        if rolls_back is not None and not self._read("SELECT 1 FROM runs WHERE id = ?", (rolls_back,)):
            raise UsageError(f"unknown run {rolls_back!r}")
        argv_json = json.dumps(redact_argv([str(a) for a in argv]))
        for _ in range(20):
            run_id = new_run_id()
            try:
                with self._write() as conn:
                    conn.execute(
                        "INSERT INTO runs (id, kind, playbook, inventory, host_limit, argv, user, control_host, "
                        "fixer_version, started_at, status, rolls_back) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (run_id, kind, playbook, inventory, limit, argv_json, _current_user(), socket.gethostname(),
                         fixer.__version__, timestamp(), "running", rolls_back),
                    )
                return run_id
            except JournalError as exc:
                if "UNIQUE constraint failed: runs.id" not in str(exc.__cause__):
                    raise
        raise JournalError("could not find a free run id")  # pragma: no cover - 20 collisions in one second

    def finish_run(self, run_id: str, status: str, summary: Mapping[str, Any]) -> None:
        _check(status, RUN_STATUSES[1:], "final run status")
        text = json.dumps(redact_data(dict(summary)), sort_keys=True, default=str)
        with self._write() as conn:
            cur = conn.execute("UPDATE runs SET status = ?, finished_at = ?, summary = ? WHERE id = ?",
                               (status, timestamp(), text, run_id))
            if cur.rowcount != 1:
                raise JournalError(f"unknown run {run_id!r}")

    # -- hosts --------------------------------------------------------------------------------------------

    def add_host(self, run_id: str, host: str, address: str, batch: int) -> None:
        """A host enters the run in `batch` (status 'pending'). Again for the same host: address/batch updated."""
        now = timestamp()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO hosts (run_id, host, address, batch, status, added_at, updated_at) "
                "VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (run_id, host) DO UPDATE SET "
                "address = excluded.address, batch = excluded.batch, updated_at = excluded.updated_at",
                (run_id, host, address, batch, now, now),
            )

    def set_host_status(self, run_id: str, host: str, status: str, category: str | None = None,
                        message: str | None = None) -> None:
        """Set a host's status (and error); a host never added (e.g. skipped) is added without a batch."""
        _check(status, HOST_STATUSES, "host status")
        now = timestamp()
        finished = None if status == "pending" else now
        with self._write() as conn:
            conn.execute(
                "INSERT INTO hosts (run_id, host, status, error_category, error_message, added_at, updated_at, "
                "finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, host) DO UPDATE SET "
                "status = excluded.status, error_category = excluded.error_category, "
                "error_message = excluded.error_message, updated_at = excluded.updated_at, "
                "finished_at = excluded.finished_at",
                (run_id, host, status, category, message, now, now, finished),
            )

    # -- files --------------------------------------------------------------------------------------------

    def record_backup(self, run_id: str, host: str, change: FileChange) -> int:
        """Store the original bytes (and the bytes to write) and the planned change, state 'backed-up'.

        Call it before writing: when it returns, the backup is on disk. Returns the file record id.
        """
        before, after = change.before, change.after
        now = timestamp()
        with self._write() as conn:
            self._ensure_host(conn, run_id, host)
            before_sha = put_blob(conn, before.content) if before.exists else None
            after_sha = put_blob(conn, after.content) if after.exists else None
            cur = conn.execute(
                "INSERT INTO files (run_id, host, path, tasks, before_exists, before_sha, before_owner, "
                "before_group, before_mode, after_exists, after_sha, after_owner, after_group, after_mode, state, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'backed-up', ?, ?)",
                (run_id, host, change.path, json.dumps(list(change.tasks)), int(before.exists), before_sha,
                 before.owner, before.group, before.mode, int(after.exists), after_sha, after.owner, after.group,
                 after.mode, now, now),
            )
            file_id = cur.lastrowid
        assert file_id is not None
        return file_id

    def mark_file(self, file_id: int, state: str, message: str | None = None) -> None:
        """Move a file record on: backed-up → written | write-failed → restored | restore-failed.

        The allowed moves are FILE_TRANSITIONS (repeating the current state is allowed); any other raises
        JournalError. A None message keeps the record's previous message.
        """
        _check(state, FILE_STATES, "file state")
        now = timestamp()
        with self._write() as conn:
            row = conn.execute("SELECT state FROM files WHERE id = ?", (file_id,)).fetchone()
            if row is None:
                raise JournalError(f"unknown file record {file_id}")
            current = str(row[0])
            if state != current and state not in FILE_TRANSITIONS[current]:
                raise JournalError(f"file record {file_id}: cannot go from {current!r} to {state!r}")
            written = now if state in ("written", "write-failed") else None
            restored = now if state in ("restored", "restore-failed") else None
            conn.execute(
                "UPDATE files SET state = ?, message = COALESCE(?, message), updated_at = ?, "
                "written_at = COALESCE(?, written_at), restored_at = COALESCE(?, restored_at) WHERE id = ?",
                (state, message, now, written, restored, file_id),
            )

    # -- services and events ------------------------------------------------------------------------------

    def record_service(self, run_id: str, host: str, action: ServiceAction) -> int:
        """Record a service action (with its readiness gate) before running it; return its id."""
        r = action.readiness
        with self._write() as conn:
            self._ensure_host(conn, run_id, host)
            cur = conn.execute(
                "INSERT INTO services (run_id, host, component, action, command, reason, readiness_port, "
                "readiness_wait, readiness_timeout, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, host, action.component, action.action, action.command, action.reason, r.port,
                 int(r.wait_for_ready), float(r.timeout_s), timestamp()),
            )
            service_id = cur.lastrowid
        assert service_id is not None
        return service_id

    def finish_service(self, service_id: int, outcome: str, message: str | None = None) -> None:
        _check(outcome, SERVICE_OUTCOMES, "service outcome")
        with self._write() as conn:
            cur = conn.execute("UPDATE services SET outcome = ?, message = ?, finished_at = ? WHERE id = ?",
                               (outcome, message, timestamp(), service_id))
            if cur.rowcount != 1:
                raise JournalError(f"unknown service record {service_id}")

    def event(self, run_id: str, host: str | None, kind: str, message: str) -> None:
        """Append to the run's audit trail (never put a secret in `message`)."""
        with self._write() as conn:
            conn.execute("INSERT INTO events (run_id, host, at, kind, message) VALUES (?, ?, ?, ?, ?)",
                         (run_id, host, timestamp(), kind, message))

    # -- reading ------------------------------------------------------------------------------------------

    def _host_counts(self, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {r: {} for r in run_ids}
        if run_ids:
            marks = ", ".join("?" * len(run_ids))
            sql = f"SELECT run_id, status, COUNT(*) FROM hosts WHERE run_id IN ({marks}) GROUP BY run_id, status"
            for row in self._read(sql, run_ids):
                counts[str(row[0])][str(row[1])] = int(row[2])
        return counts

    def _runs(self, sql: str, params: Sequence[Any]) -> list[RunRecord]:
        found = self._read(sql, params)
        counts = self._host_counts([str(r["id"]) for r in found])
        return [rows.run_record(r, counts[str(r["id"])]) for r in found]

    def runs(self, limit: int = 50) -> list[RunRecord]:
        """The latest runs, newest first."""
        return self._runs("SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT ?", (limit,))

    def run(self, run_id: str) -> RunRecord:
        """The run with this id, or with the only id starting with it; UsageError otherwise."""
        run_id = run_id.strip()
        found = self._runs("SELECT * FROM runs WHERE id = ?", (run_id,))
        if not found and run_id:
            found = self._runs("SELECT * FROM runs WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 6",
                               (len(run_id), run_id))
        if not found:
            raise UsageError(f"unknown run {run_id!r} in journal {self.path} (`fixer runs` lists them)")
        if len(found) > 1:
            names = ", ".join(r.id for r in found[:5]) + (", …" if len(found) > 5 else "")
            raise UsageError(f"run id {run_id!r} is ambiguous: {names}")
        return found[0]

    def hosts(self, run_id: str) -> list[HostRecord]:
        sql = "SELECT * FROM hosts WHERE run_id = ? ORDER BY batch IS NULL, batch, added_at, host"
        return [rows.host_record(r) for r in self._read(sql, (run_id,))]

    def files(self, run_id: str, host: str | None = None) -> list[FileRecord]:
        """The run's file records (on one host if given), in the order they were made."""
        sql, params = "SELECT * FROM files WHERE run_id = ?", [run_id]
        if host is not None:
            sql, params = sql + " AND host = ?", [*params, host]
        return [rows.file_record(r) for r in self._read(sql + " ORDER BY id", params)]

    def services(self, run_id: str, host: str | None = None) -> list[ServiceRecord]:
        sql, params = "SELECT * FROM services WHERE run_id = ?", [run_id]
        if host is not None:
            sql, params = sql + " AND host = ?", [*params, host]
        return [rows.service_record(r) for r in self._read(sql + " ORDER BY id", params)]

    def events(self, run_id: str) -> list[EventRecord]:
        return [rows.event_record(r) for r in self._read("SELECT * FROM events WHERE run_id = ? ORDER BY id",
                                                         (run_id,))]

    def blob(self, sha: str) -> bytes:
        """The stored bytes with this sha256, verified (BlobIntegrityError when missing or corrupt)."""
        with self._lock:
            return get_blob(self._connection(), sha)

    def rollback_source(self, run_id: str, host: str | None = None) -> list[FileRecord]:
        """What a rollback of `run_id` must restore: one record per changed (host, path); see journal.rollback."""
        return net_changes(self.files(run_id, host))

    def rollbacks_of(self, run_id: str) -> list[RunRecord]:
        """The rollback runs of `run_id`, oldest first."""
        return self._runs("SELECT * FROM runs WHERE rolls_back = ? ORDER BY started_at, id", (run_id,))
