"""Records of the journal (what the store returns) and the vocabularies of its states.

Every record is a frozen dataclass built from one row. File contents are never held by a record: a
FileRecord names its blobs by sha256 and loads them through `before_state(journal)` / `after_state(journal)`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from fixer.errors import FixerError
from fixer.plan.model import FileState, Readiness, ServiceAction

RUN_KINDS = ("apply", "rollback")
RUN_STATUSES = ("running", "ok", "failed", "partial", "aborted")
HOST_STATUSES = ("pending", "ok", "unchanged", "failed", "rolled-back", "skipped")
FILE_STATES = ("planned", "backed-up", "written", "write-failed", "restored", "restore-failed")
SERVICE_OUTCOMES = ("ok", "failed", "readiness-timeout")

# mark_file: the states a file record may move to from each state (staying in the same state is allowed).
FILE_TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    "planned": ("backed-up", "write-failed"),
    "backed-up": ("written", "write-failed"),
    "written": ("restored", "restore-failed"),
    "write-failed": ("written", "restored", "restore-failed"),
    "restore-failed": ("restored",),
    "restored": (),
}


class JournalError(FixerError):
    """The journal cannot be opened, migrated or written, or a call breaks its rules."""


class BlobIntegrityError(JournalError):
    """A stored backup does not hash to its sha256 (or is missing): it must not be used to restore."""


class BlobSource(Protocol):
    def blob(self, sha: str) -> bytes: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 UTC with microseconds and a Z: sorts as text."""
    return (moment or utc_now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def new_run_id(now: datetime | None = None) -> str:
    """`20261127T031500Z-3f9a`: UTC start second (sorts by time) and 16 random bits (unique within it)."""
    return f"{(now or utc_now()).astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class RunRecord:
    id: str
    kind: str  # apply | rollback
    playbook: str | None
    inventory: str
    limit: str | None
    argv: tuple[str, ...]  # secret values of -e key=value (and secret-looking options) already masked
    user: str
    control_host: str
    fixer_version: str
    started_at: str
    finished_at: str | None
    status: str  # running | ok | failed | partial | aborted
    rolls_back: str | None  # the run this rollback undoes
    summary: Mapping[str, Any] = field(default_factory=dict)
    host_counts: Mapping[str, int] = field(default_factory=dict)  # hosts of the run by status

    @property
    def duration_s(self) -> float | None:
        start, end = parse_timestamp(self.started_at), parse_timestamp(self.finished_at)
        return None if start is None or end is None else (end - start).total_seconds()


@dataclass(frozen=True)
class HostRecord:
    run_id: str
    host: str
    address: str | None
    batch: int | None  # None for a host the run never put in a batch (e.g. skipped)
    status: str  # pending | ok | unchanged | failed | rolled-back | skipped
    category: str | None
    message: str | None
    added_at: str
    updated_at: str
    finished_at: str | None


@dataclass(frozen=True)
class FileRecord:
    """One path's change on one host in one run: the original (before), what the run writes (after), its state.

    before_sha / after_sha are sha256 of the contents and keys of stored blobs (None: the file is absent).
    """

    id: int
    run_id: str
    host: str
    path: str
    tasks: tuple[str, ...]
    state: str  # planned | backed-up | written | write-failed | restored | restore-failed
    message: str | None
    before_exists: bool
    before_sha: str | None
    before_owner: str | None
    before_group: str | None
    before_mode: int | None
    after_exists: bool
    after_sha: str | None
    after_owner: str | None
    after_group: str | None
    after_mode: int | None
    created_at: str
    written_at: str | None
    restored_at: str | None
    updated_at: str
    # True when the file may still hold its before state (the write may not have happened: states backed-up
    # and write-failed, or a rollback_source merge whose outcome is uncertain).
    write_uncertain: bool = False
    # ids of the records of the same run, host and path that rollback_source merged into this one (in order).
    chain: tuple[int, ...] = ()

    @property
    def backup_sha(self) -> str | None:
        """The blob holding the original bytes (None: the file did not exist, a rollback removes it)."""
        return self.before_sha

    def before_state(self, journal: BlobSource) -> FileState:
        """The file as it was before the run: what a rollback restores (content verified against its sha)."""
        if not self.before_exists or self.before_sha is None:
            return FileState(False)
        return FileState(True, journal.blob(self.before_sha), self.before_owner, self.before_group, self.before_mode)

    def after_state(self, journal: BlobSource) -> FileState:
        """The file as the run wrote it (or meant to): what a rollback expects to find, else drift."""
        if not self.after_exists or self.after_sha is None:
            return FileState(False)
        return FileState(True, journal.blob(self.after_sha), self.after_owner, self.after_group, self.after_mode)

    @property
    def before_key(self) -> tuple[bool, str | None, str | None, str | None, int | None]:
        return (self.before_exists, self.before_sha, self.before_owner, self.before_group, self.before_mode)

    @property
    def after_key(self) -> tuple[bool, str | None, str | None, str | None, int | None]:
        return (self.after_exists, self.after_sha, self.after_owner, self.after_group, self.after_mode)


@dataclass(frozen=True)
class ServiceRecord:
    id: int
    run_id: str
    host: str
    component: str
    action: str
    command: str
    reason: str
    readiness_port: int | None
    readiness_wait_for_ready: bool
    readiness_timeout_s: float
    outcome: str | None  # None while running (or when the control machine died during it)
    message: str | None
    started_at: str
    finished_at: str | None

    def to_action(self) -> ServiceAction:
        """The same action with the same readiness gate: what a rollback repeats."""
        readiness = Readiness(self.readiness_port, self.readiness_wait_for_ready, self.readiness_timeout_s)
        return ServiceAction(self.component, self.action, self.command, readiness, self.reason)


@dataclass(frozen=True)
class EventRecord:
    id: int
    run_id: str
    host: str | None
    at: str
    kind: str
    message: str
