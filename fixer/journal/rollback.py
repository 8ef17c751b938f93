"""Which files a rollback must restore: the net effect of a run on each (host, path). Pure.

THE RULE. For each (host, path) of the run, walk its file records in the order they were made, tracking
the set S of states the file may be in now (a state = exists, sha256, owner, group, mode). S starts as
{the first record's before} — the original, which the executor checked by sha256 before writing.

    planned                    no effect (nothing was backed up or written)
    backed-up, write-failed    S + {after}    the write may or may not have happened (a crash between the
                                              backup and the write, a failure whose effect is unknown)
    written                    S = {after}
    restore-failed             S = {after, before}  written, and an undo failed (the undo, if the run made
                                              one, is a later record of its own and continues the walk)
    restored                   S = {before}   written, then put back

If S is then just {original}, the run left that path as it found it (e.g. a failed batch restored it,
or every write failed before anything changed) and a rollback has nothing to do there. Otherwise the
path is returned as one FileRecord: `before_*` = the original (restore this), `after_*` = the last state
of S the run wrote (expect this: anything else is drift), `write_uncertain` = the original is still in S
(finding the original there means already restored, not drift), `chain` = the merged record ids.

A run that touched a path once yields that record unchanged (plus write_uncertain and chain). The walk
matters when a path has several records: the automatic restore of a failed batch records its undo
(before = what was written, after = the original) in the same run, and two plays may change one file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from fixer.journal.model import FileRecord

State = tuple[bool, str | None, str | None, str | None, int | None]


def _walk(records: list[FileRecord]) -> set[State]:
    possible: set[State] = {records[0].before_key}
    for record in records:
        if record.state in ("backed-up", "write-failed"):
            possible.add(record.after_key)
        elif record.state == "written":
            possible = {record.after_key}
        elif record.state == "restore-failed":
            possible = {record.after_key, record.before_key}
        elif record.state == "restored":
            possible = {record.before_key}
    return possible


def _net(records: list[FileRecord]) -> FileRecord | None:
    original = records[0]
    possible = _walk(records)
    changed = possible - {original.before_key}
    if not changed:
        return None
    # the run's last word on what the file holds: the latest record whose after is possible (else its before)
    use_before = False
    last = next((r for r in reversed(records) if r.after_key in changed), None)
    if last is None:
        use_before = True
        last = next(r for r in reversed(records) if r.before_key in changed)  # S holds only befores and afters
    ex, sha, owner, group, mode = last.before_key if use_before else last.after_key
    return dataclasses.replace(
        last,
        before_exists=original.before_exists, before_sha=original.before_sha, before_owner=original.before_owner,
        before_group=original.before_group, before_mode=original.before_mode,
        after_exists=ex, after_sha=sha, after_owner=owner, after_group=group, after_mode=mode,
        created_at=original.created_at,
        tasks=tuple(dict.fromkeys(t for r in records for t in r.tasks)),
        write_uncertain=original.before_key in possible,
        chain=tuple(r.id for r in records),
    )


def net_changes(records: Iterable[FileRecord]) -> list[FileRecord]:
    """The files a rollback of these records (one run) must restore, by host then first touch."""
    by_path: dict[tuple[str, str], list[FileRecord]] = {}
    for record in sorted(records, key=lambda r: r.id):
        by_path.setdefault((record.host, record.path), []).append(record)
    out = [n for group in by_path.values() if (n := _net(group)) is not None]
    first = {key: group[0].id for key, group in by_path.items()}
    return sorted(out, key=lambda r: (r.host, first[(r.host, r.path)]))
