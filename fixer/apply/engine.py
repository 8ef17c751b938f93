"""One host's part of a run: lock, re-read (compare-and-swap), back up, write, restart, verify — or undo.

Shared by `fixer apply`, the automatic rollback of a failed batch, and `fixer rollback`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fixer.apply.remote import (
    acquire_lock,
    read_files,
    release_lock,
    run_service,
    run_verifies,
    write_files,
)
from fixer.errors import ApplyError, ChangedSincePlanError, HostError
from fixer.inventory.model import Host
from fixer.journal import Journal
from fixer.plan.model import FileChange, FileState, HostPlan, ServiceAction
from fixer.transport.ssh import ConnectOptions, Session

log = logging.getLogger(__name__)

Notify = Callable[[str, str], None]  # (host, message): progress lines


@dataclass(frozen=True)
class RunContext:
    run_id: str
    journal: Journal
    connect: ConnectOptions
    lock_dir: Callable[[Host], str]
    notify: Notify | None = None


@dataclass(frozen=True)
class HostOutcome:
    host: str
    status: str  # ok | unchanged | failed | restored | restore-failed | refused
    category: str | None = None
    message: str | None = None
    written: tuple[tuple[FileChange, int], ...] = ()  # changes on disk now, with their journal file ids
    services: tuple[ServiceAction, ...] = ()
    verify_failures: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "restore-failed", "refused")


def same_file(seen: FileState, now: FileState) -> bool:
    """The compare half of compare-and-swap: bytes (sha256) and existence."""
    return seen.exists == now.exists and (not seen.exists or seen.sha256 == now.sha256)


def _say(ctx: RunContext, host: Host, message: str) -> None:
    ctx.journal.event(ctx.run_id, host.name, "progress", message)
    if ctx.notify is not None:
        ctx.notify(host.name, message)


def apply_host(host: Host, plan: HostPlan, ctx: RunContext) -> HostOutcome:
    """Apply one host's plan. Never raises for a host failure: the outcome says what is on disk now."""
    changes = plan.changes
    if not changes and not plan.services:
        return HostOutcome(host.name, "unchanged")
    written: list[tuple[FileChange, int]] = []
    ran: list[ServiceAction] = []
    try:
        with Session(host, ctx.connect) as session:
            session.connect()
            lock_dir = ctx.lock_dir(host)
            acquire_lock(session, ctx.run_id, lock_dir)
            try:
                _write_all(session, host, changes, ctx, written)
                for action in plan.services:
                    ran.append(action)
                    _service(session, host, action, ctx)
                failures = _verify(session, plan, ctx, host)
                if failures:
                    raise ApplyError("verify failed: " + "; ".join(failures))
            finally:
                try:
                    release_lock(session, ctx.run_id, lock_dir)
                except HostError as exc:  # the lock dir names our run: a later run can tell it is stale
                    log.warning("%s: could not release the lock: %s", host.name, exc)
    except HostError as exc:
        _say(ctx, host, f"failed ({exc.category}): {exc}")
        return HostOutcome(host.name, "failed", exc.category, str(exc), tuple(written), tuple(ran))
    _say(ctx, host, f"ok: {len(written)} file(s) written, {len(ran)} service action(s)")
    return HostOutcome(host.name, "ok", written=tuple(written), services=tuple(ran))


def _write_all(session: Session, host: Host, changes: Sequence[FileChange], ctx: RunContext,
               written: list[tuple[FileChange, int]]) -> None:
    if not changes:
        return
    now = read_files(session, [c.path for c in changes])
    for change in changes:
        if not same_file(change.before, now[change.path]):
            raise ChangedSincePlanError(
                f"{change.path} changed since the plan was made (sha256 {change.before.sha256} → "
                f"{now[change.path].sha256}): refused, nothing written"
            )
    # the journal holds every backup before the first byte is written
    ids = {c.path: ctx.journal.record_backup(ctx.run_id, host.name, c) for c in changes}
    results = write_files(session, changes)
    by_path = {r.path: r for r in results}
    problems = []
    for change in changes:
        result = by_path.get(change.path)
        status = result.status if result is not None else "not-attempted"
        if status in ("written", "unchanged"):
            ctx.journal.mark_file(ids[change.path], "written")
            written.append((change, ids[change.path]))
        else:
            message = result.message if result is not None else "not attempted"
            ctx.journal.mark_file(ids[change.path], "write-failed", f"{status}: {message}")
            problems.append(f"{change.path}: {status}{': ' + message if message else ''}")
    if problems:
        if any("changed-since-plan" in p for p in problems):
            raise ChangedSincePlanError("; ".join(problems))
        raise ApplyError("write failed: " + "; ".join(problems))
    _say(ctx, host, f"wrote {len(written)} file(s)")


def _service(session: Session, host: Host, action: ServiceAction, ctx: RunContext) -> None:
    sid = ctx.journal.record_service(ctx.run_id, host.name, action)
    _say(ctx, host, f"{action.component} {action.action} ({action.reason})")
    result = run_service(session, action)
    ctx.journal.finish_service(sid, result.outcome, result.message)
    if result.outcome != "ok":
        raise ApplyError(f"{action.component} {action.action}: {result.outcome}: {result.message}")


def _verify(session: Session, plan: HostPlan, ctx: RunContext, host: Host) -> list[str]:
    if not plan.verifies:
        return []
    results = run_verifies(session, plan.verifies)
    failures = [f"{r.name}: {r.message}" for r in results if not r.ok]
    _say(ctx, host, "verify ok" if not failures else f"verify failed: {'; '.join(failures)}")
    return failures


def revert_host(host: Host, outcome: HostOutcome, ctx: RunContext) -> HostOutcome:
    """Undo what `outcome` wrote (compare-and-swap against what we wrote), then restart like the apply did."""
    if not outcome.written:
        return outcome  # nothing of ours is on disk: a restart would only repeat the failure
    undo = tuple(
        FileChange(change.path, change.after, change.before, (f"undo {', '.join(change.tasks)}",))
        for change, _ in outcome.written
    )
    plan = HostPlan(host.name, host.address, files=undo, services=outcome.services)
    result = apply_host(host, plan, ctx)
    for _, file_id in outcome.written:
        ctx.journal.mark_file(file_id, "restored" if not result.failed else "restore-failed")
    status = "restored" if not result.failed else "restore-failed"
    message = outcome.message if not result.failed else f"{outcome.message}; ROLLBACK FAILED: {result.message}"
    return HostOutcome(host.name, status, outcome.category, message, (), outcome.services)
