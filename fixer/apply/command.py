"""`fixer apply` and `fixer rollback` end to end: plan, (dry run | journaled rollout), summary.

A dry run (`--check`) reads hosts and writes nothing anywhere, not even the journal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fixer.apply.engine import RunContext, same_file
from fixer.apply.remote import default_lock_dir, read_files
from fixer.apply.runner import PlannedHost, PlayResult, plan_play, roll_out
from fixer.errors import HostError, UsageError
from fixer.inventory.loader import Inventory
from fixer.inventory.model import Host
from fixer.inventory.patterns import HostPatterns
from fixer.journal import FileRecord, Journal
from fixer.plan.model import FileChange, HostPlan
from fixer.plan.planner import paths_to_read
from fixer.playbook import Playbook
from fixer.transport.ssh import ConnectOptions, Session

Notify = Callable[[str, str], None]


@dataclass(frozen=True)
class RunSettings:
    connect: ConnectOptions
    forks: int
    serial: Sequence[int | str] | None = None  # --serial overrides every play's serial
    extra_vars: Mapping[str, Any] = field(default_factory=dict)
    check: bool = False
    force: bool = False  # rollback: restore even files that drifted since the run wrote them
    notify: Notify | None = None


@dataclass
class RunReport:
    kind: str  # apply | rollback
    check: bool
    run_id: str | None
    plays: list[PlayResult] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # rollback: host → three-way drift view

    @property
    def exit_code(self) -> int:
        """0 done (or nothing to do); 1 a host failed or was refused; 3 a host could not be reached/planned."""
        if self.refused or any(
            o.category is not None or o.failed for p in self.plays for o in p.outcomes.values()
        ) or any(p.stopped for p in self.plays if p.outcomes):
            return 1
        if any(ph.plan is None for p in self.plays for ph in p.planned):
            return 3
        return 0


def _hosts_for(inventory: Inventory, pattern: str, limit: str | None) -> list[Host]:
    """A play's hosts: its pattern evaluated leniently (a term matching nothing adds nothing), within --limit."""
    everyone = list(inventory.hosts.values())
    chooser = HostPatterns(everyone)
    allowed = {h.name for h in inventory.select(limit)} if limit is not None else None
    return [h for h in everyone if chooser.selects(pattern, h) and (allowed is None or h.name in allowed)]


def apply_playbook(playbook: Playbook, inventory: Inventory, limit: str | None, settings: RunSettings,
                   journal: Journal | None, argv: Sequence[str]) -> RunReport:
    report = RunReport("apply", settings.check, None)
    play_hosts = [_hosts_for(inventory, play.hosts, limit) for play in playbook.plays]
    _check_templates(playbook, play_hosts, settings.extra_vars)
    run_id = None
    if not settings.check:
        assert journal is not None
        run_id = journal.start_run("apply", playbook.path, inventory.path, limit, argv)
        report.run_id = run_id
    # max_fail_percentage is one budget for the whole run: failures of earlier plays count too
    total = len({h.name for hosts in play_hosts for h in hosts})
    failed = 0
    try:
        for play, hosts in zip(playbook.plays, play_hosts, strict=True):
            planned = plan_play(play, hosts, settings.connect, settings.forks, settings.extra_vars)
            if settings.check or journal is None or run_id is None:
                report.plays.append(PlayResult(play.name, planned))
                continue
            ctx = RunContext(run_id, journal, settings.connect, default_lock_dir, settings.notify)
            result = roll_out(play.name, planned, ctx, settings.forks, settings.serial or play.serial,
                              play.max_fail_percentage, total, failed, _batch_notice(settings))
            report.plays.append(result)
            failed += len(result.failed_hosts)
            if result.stopped:
                break
    finally:
        if journal is not None and run_id is not None:
            journal.finish_run(run_id, _run_status(report), _summary(report))
    return report


def _check_templates(playbook: Playbook, play_hosts: Sequence[Sequence[Host]],
                     extra_vars: Mapping[str, Any]) -> None:
    """Template every task's arguments for every host before any host is contacted (pure, no I/O).

    Bad input — an undefined variable, a bad argument, a value with a newline from `-e` (it would inject
    another key) — is a UsageError naming host, task and file:line: exit 2, no host contacted, no run
    journaled. The planner repeats this per host; here it only fails early.
    """
    for play, hosts in zip(playbook.plays, play_hosts, strict=True):
        for host in hosts:
            paths_to_read(play, host, extra_vars)


def _batch_notice(settings: RunSettings) -> Callable[[int, list[str]], None] | None:
    if settings.notify is None:
        return None
    notify = settings.notify
    return lambda number, names: notify("*", f"batch {number}: {', '.join(names)}")


def _run_status(report: RunReport) -> str:
    code = report.exit_code
    if code == 0:
        return "ok"
    ok_somewhere = any(o.status == "ok" for p in report.plays for o in p.outcomes.values())
    return "partial" if ok_somewhere else "failed"


def _summary(report: RunReport) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for play in report.plays:
        for ph in play.planned:
            status = play.outcomes[ph.host.name].status if ph.host.name in play.outcomes else (
                "unplanned" if ph.plan is None else "not-attempted")
            counts[status] = counts.get(status, 0) + 1
    return {"hosts": counts, "stopped": [p.stopped for p in report.plays if p.stopped],
            "exit_code": report.exit_code}


# -- rollback ---------------------------------------------------------------------------------------


def rollback_run(run_id: str, inventory: Inventory, limit: str | None, settings: RunSettings,
                 journal: Journal, argv: Sequence[str]) -> RunReport:
    """Restore every file `run_id` changed to its exact bytes, owner and mode; restart like the run did."""
    source = journal.run(run_id)
    records = journal.rollback_source(source.id)
    by_host: dict[str, list[FileRecord]] = {}
    for record in records:
        by_host.setdefault(record.host, []).append(record)
    names = set(by_host)
    if limit is not None:
        names &= {h.name for h in inventory.select(limit)}
    missing = sorted(n for n in names if n not in inventory.hosts)
    if missing:
        raise UsageError(f"run {source.id} changed host(s) not in the inventory: {', '.join(missing)}")
    hosts = [inventory.hosts[n] for n in sorted(names)]
    report = RunReport("rollback", settings.check, None)
    planned = _plan_rollbacks(source.id, hosts, by_host, journal, settings, report)
    if settings.check:
        report.plays.append(PlayResult(f"rollback {source.id}", planned))
        return report
    new_id = journal.start_run("rollback", source.playbook, inventory.path, limit, argv, rolls_back=source.id)
    report.run_id = new_id
    try:
        ctx = RunContext(new_id, journal, settings.connect, default_lock_dir, settings.notify)
        for name, view in report.refused.items():
            journal.add_host(new_id, name, inventory.hosts[name].address, 0)
            journal.set_host_status(new_id, name, "failed", "changed-since-plan", view.splitlines()[0])
        # a rollback restores every host it can: no failure budget, and a failed host's neighbours keep
        # their restored files (undoing a rollback would put the broken change back)
        reachable = [p for p in planned if p.plan is not None]
        result = roll_out(f"rollback {source.id}", reachable, ctx, settings.forks, settings.serial, 100.0,
                          len(hosts), 0, _batch_notice(settings), restore_failed_batches=False)
        result.planned = list(planned)
        report.plays.append(result)
    finally:
        journal.finish_run(new_id, _run_status(report), _summary(report))
    return report


def _plan_rollbacks(run_id: str, hosts: Sequence[Host], by_host: Mapping[str, list[FileRecord]],
                    journal: Journal, settings: RunSettings, report: RunReport) -> list[PlannedHost]:
    from concurrent.futures import ThreadPoolExecutor

    from fixer.plan.diff import render_diff

    def one(host: Host) -> PlannedHost:
        records = by_host[host.name]
        try:
            with Session(host, settings.connect) as session:
                session.connect()
                now = read_files(session, [r.path for r in records])
        except HostError as exc:
            return PlannedHost(host, None, exc.category, str(exc))
        changes: list[FileChange] = []
        drift: list[str] = []
        for record in records:
            original = record.before_state(journal)
            written = record.after_state(journal)
            current = now[record.path]
            if same_file(original, current) and _same_attrs(original, current):
                continue  # already back (e.g. a finished rollback run again): nothing to do
            if not same_file(written, current) and not settings.force:
                drift.append(
                    f"{record.path}: changed since run {run_id} wrote it\n"
                    + render_diff(FileChange(record.path, original, written, ()), host.name,
                                  ("original", f"what run {run_id} wrote"))
                    + render_diff(FileChange(record.path, written, current, ()), host.name,
                                  (f"what run {run_id} wrote", "now"))
                )
                continue
            changes.append(FileChange(record.path, current, original, (f"rollback of {run_id}",)))
        if drift:
            report.refused[host.name] = (
                f"{host.name}: refused, {len(drift)} file(s) drifted since run {run_id} (use --force to restore "
                "anyway)\n" + "\n".join(drift)
            )
            return PlannedHost(host, None, "changed-since-plan", report.refused[host.name].splitlines()[0])
        services = tuple(s.to_action() for s in journal.services(run_id, host.name)) if changes else ()
        unique = tuple(dict.fromkeys(services))
        return PlannedHost(host, HostPlan(host.name, host.address, tuple(changes), unique))

    with ThreadPoolExecutor(max_workers=max(1, min(settings.forks, len(hosts) or 1))) as pool:
        return list(pool.map(one, hosts))


def _same_attrs(a: Any, b: Any) -> bool:
    return not a.exists or (a.owner, a.group, a.mode) == (b.owner, b.group, b.mode)


