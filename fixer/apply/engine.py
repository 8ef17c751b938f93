"""One host's part of a run: lock, re-read (compare-and-swap), back up, write, restart, verify — or undo.

Shared by `fixer apply`, the automatic rollback of a failed batch, and `fixer rollback`.
"""

from __future__ import annotations

import logging
import os
import shlex
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from fixer.apply.remote import (
    acquire_lock,
    read_files,
    release_lock,
    run_service,
    run_verifies,
    write_files,
)
from fixer.errors import ApplyError, ChangedSincePlanError, HostError, UnreachableError
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
    phase: str = ""  # prefix of progress lines, e.g. "restore" while a failed batch is put back


@dataclass(frozen=True)
class HostOutcome:
    host: str
    status: str  # ok | unchanged | failed | restored | restore-failed | refused
    category: str | None = None
    message: str | None = None
    written: tuple[tuple[FileChange, int], ...] = ()  # changes on disk now, with their journal file ids
    services: tuple[ServiceAction, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "restore-failed", "refused")


def same_file(seen: FileState, now: FileState) -> bool:
    """The compare half of compare-and-swap: bytes (sha256) and existence."""
    return seen.exists == now.exists and (not seen.exists or seen.sha256 == now.sha256)


def _say(ctx: RunContext, host: Host, message: str) -> None:
    message = f"{ctx.phase}: {message}" if ctx.phase else message
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
                _fault("drop-after-write", host, session)
                for action in plan.services:
                    ran.append(action)
                    _service(session, host, action, ctx)
                failures = _verify(session, plan, ctx, host)
                if failures:
                    raise ApplyError("verify failed: " + "; ".join(failures))
            finally:
                _release(session, host, ctx, lock_dir)
    except HostError as exc:
        _say(ctx, host, f"failed ({exc.category}): {exc}")
        return HostOutcome(host.name, "failed", exc.category, str(exc), tuple(written), tuple(ran))
    _say(ctx, host, f"ok: {len(written)} file(s) written, {len(ran)} service action(s)")
    return HostOutcome(host.name, "ok", written=tuple(written), services=tuple(ran))


def _release(session: Session, host: Host, ctx: RunContext, lock_dir: str) -> None:
    """Release the host's lock; over a new connection when this one was lost (else the lock stays behind
    and blocks every later run, e.g. after a connection lost before anything was written)."""
    try:
        release_lock(session, ctx.run_id, lock_dir)
        return
    except UnreachableError:
        pass
    except HostError as exc:  # the lock dir names our run: a later run can tell it is stale
        log.warning("%s: could not release the lock: %s", host.name, exc)
        return
    try:
        with Session(host, ctx.connect) as fresh:
            fresh.connect()
            release_lock(fresh, ctx.run_id, lock_dir)
    except HostError as exc:
        _say(ctx, host, f"could not release the lock {lock_dir} of run {ctx.run_id} ({exc}): remove it on the "
                        f"node when no run is active (rm -r {shlex.quote(lock_dir)})")


def _write_all(session: Session, host: Host, changes: Sequence[FileChange], ctx: RunContext,
               written: list[tuple[FileChange, int]]) -> None:
    if not changes:
        return
    now = read_files(session, [c.path for c in changes])
    for change in changes:
        # a file that already holds the target bytes is fine too: writing it changes nothing (a retry, or
        # the undo of a write whose answer was lost and that never happened)
        if not same_file(change.before, now[change.path]) and not same_file(change.after, now[change.path]):
            raise ChangedSincePlanError(
                f"{change.path} changed since the plan was made (sha256 {change.before.sha256} → "
                f"{now[change.path].sha256}): refused, nothing written"
            )
    # the journal holds every backup before the first byte is written
    ids = {c.path: ctx.journal.record_backup(ctx.run_id, host.name, c) for c in changes}
    _fault("drop-after-backup", host, session)
    try:
        results = write_files(session, changes)
    except HostError as exc:
        # no answer: each write may or may not have happened. Treat them as written so that the batch
        # restore undoes them; undoing a write that never happened finds the original and changes nothing.
        for change in changes:
            ctx.journal.mark_file(ids[change.path], "write-failed", f"outcome unknown: {exc}")
            written.append((change, ids[change.path]))
        raise HostError(f"writing {', '.join(c.path for c in changes)}: {exc}: whether the write happened is "
                        "unknown; the batch restore puts the originals back", exc.category) from exc
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
    try:
        result = run_service(session, action)
    except HostError as exc:  # e.g. the connection was lost: the journal must not say "unfinished"
        ctx.journal.finish_service(sid, "failed", f"no result: {exc}")
        raise HostError(f"{action.component} {action.action}: {exc}", exc.category) from exc
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
    """Undo what `outcome` wrote (compare-and-swap against what we wrote), then restart like the apply did.

    Each file record says what happened to that file: `restored` when its undo was written (or the original
    was already back), `restore-failed` otherwise, also when only the restart after restoring failed.
    """
    if not outcome.written:
        return outcome  # nothing of ours is on disk: a restart would only repeat the failure
    undo = tuple(
        FileChange(change.path, change.after, change.before, (f"undo {', '.join(change.tasks)}",))
        for change, _ in outcome.written
    )
    plan = HostPlan(host.name, host.address, files=undo, services=outcome.services)
    result = apply_host(host, plan, replace(ctx, phase="restore"))
    back = {change.path for change, _ in result.written}
    for change, file_id in outcome.written:
        ctx.journal.mark_file(file_id, "restored" if change.path in back else "restore-failed")
    if not result.failed:
        return HostOutcome(host.name, "restored", outcome.category, outcome.message, (), outcome.services)
    why = f"{outcome.message}; " if outcome.message else ""
    if all(change.path in back for change, _ in outcome.written):
        message = f"{why}files restored, but RESTART AFTER RESTORE FAILED: {result.message}"
    else:
        message = f"{why}ROLLBACK FAILED: {result.message}"
    return HostOutcome(host.name, "restore-failed", outcome.category, message, (), outcome.services)


# -- test-only fault injection --------------------------------------------------------------------------
# FIXER_FAULT=<point>@<host>[,<point>@<host>...] closes <host>'s SSH transport (a real connection loss of
# the real session, not a mock) at <point> of apply_host:
#   drop-after-backup   the journal holds the backups, the write script has not run yet
#   drop-after-write    the files are written (journal: written), no service action has run yet
# Each fires once per process, so the automatic restore of the batch reconnects and runs normally.
# FOR TESTS ONLY (tests/integration/test_apply_faults.py): never set it outside them.
FAULT_ENV = "FIXER_FAULT"
FAULT_POINTS = ("drop-after-backup", "drop-after-write")
_fired: set[str] = set()
_fired_lock = threading.Lock()


def _fault(point: str, host: Host, session: Session) -> None:
    assert point in FAULT_POINTS, point
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    wanted = f"{point}@{host.name}"
    if wanted not in (item.strip() for item in spec.split(",")):
        return
    with _fired_lock:
        if wanted in _fired:
            return
        _fired.add(wanted)
    log.warning("%s: %s=%s: closing the SSH connection (test-only fault injection)", host.name, FAULT_ENV, wanted)
    clients = session._clients  # the target's client is the last one (earlier ones are ProxyJump hops)
    transport = clients[-1].get_transport() if clients else None
    if transport is not None:
        transport.close()
