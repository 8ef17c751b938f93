"""Rows of the journal's tables → records."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping

from fixer.journal.model import EventRecord, FileRecord, HostRecord, RunRecord, ServiceRecord


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: object) -> int | None:
    return None if value is None else int(str(value))


def run_record(row: sqlite3.Row, host_counts: Mapping[str, int]) -> RunRecord:
    return RunRecord(
        id=row["id"], kind=row["kind"], playbook=row["playbook"], inventory=row["inventory"],
        limit=row["host_limit"], argv=tuple(json.loads(row["argv"])), user=row["user"],
        control_host=row["control_host"], fixer_version=row["fixer_version"], started_at=row["started_at"],
        finished_at=row["finished_at"], status=row["status"], rolls_back=row["rolls_back"],
        summary=json.loads(row["summary"] or "{}"), host_counts=dict(host_counts),
    )


def host_record(row: sqlite3.Row) -> HostRecord:
    return HostRecord(
        run_id=row["run_id"], host=row["host"], address=row["address"], batch=_opt_int(row["batch"]),
        status=row["status"], category=row["error_category"], message=row["error_message"],
        added_at=row["added_at"], updated_at=row["updated_at"], finished_at=row["finished_at"],
    )


def file_record(row: sqlite3.Row) -> FileRecord:
    return FileRecord(
        id=int(row["id"]), run_id=row["run_id"], host=row["host"], path=row["path"],
        tasks=tuple(json.loads(row["tasks"])), state=row["state"], message=row["message"],
        before_exists=bool(row["before_exists"]), before_sha=_opt_str(row["before_sha"]),
        before_owner=_opt_str(row["before_owner"]), before_group=_opt_str(row["before_group"]),
        before_mode=_opt_int(row["before_mode"]),
        after_exists=bool(row["after_exists"]), after_sha=_opt_str(row["after_sha"]),
        after_owner=_opt_str(row["after_owner"]), after_group=_opt_str(row["after_group"]),
        after_mode=_opt_int(row["after_mode"]),
        created_at=row["created_at"], written_at=row["written_at"], restored_at=row["restored_at"],
        updated_at=row["updated_at"], write_uncertain=row["state"] in ("backed-up", "write-failed"),
    )


def service_record(row: sqlite3.Row) -> ServiceRecord:
    return ServiceRecord(
        id=int(row["id"]), run_id=row["run_id"], host=row["host"], component=row["component"],
        action=row["action"], command=row["command"], reason=row["reason"],
        readiness_port=_opt_int(row["readiness_port"]), readiness_wait_for_ready=bool(row["readiness_wait"]),
        readiness_timeout_s=float(row["readiness_timeout"]), outcome=row["outcome"], message=row["message"],
        started_at=row["started_at"], finished_at=row["finished_at"],
    )


def event_record(row: sqlite3.Row) -> EventRecord:
    return EventRecord(id=int(row["id"]), run_id=row["run_id"], host=row["host"], at=row["at"], kind=row["kind"],
                       message=row["message"])
