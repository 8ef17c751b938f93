"""`fixer apply`: plan every host (read-only), then roll the changes out batch by batch.

A failed host fails its batch: every changed host of that batch is restored and restarted, and the run
stops unless the play's failure budget (max_fail_percentage, counted over the whole run) allows going on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fixer.apply.batches import split_batches
from fixer.apply.engine import HostOutcome, RunContext, apply_host, revert_host
from fixer.apply.remote import read_files
from fixer.errors import FixerError, HostError
from fixer.facts.build import mp_facts
from fixer.facts.gather import mp_script, new_boundary, split_sections
from fixer.inventory.model import Host
from fixer.plan.model import HostPlan
from fixer.plan.planner import paths_to_read, plan_host
from fixer.playbook import Play, facts_vars
from fixer.transport.ssh import ConnectOptions, Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedHost:
    host: Host
    plan: HostPlan | None
    category: str | None = None  # set when the host could not be planned
    message: str | None = None


@dataclass
class PlayResult:
    play: str
    planned: list[PlannedHost] = field(default_factory=list)
    outcomes: dict[str, HostOutcome] = field(default_factory=dict)
    batches: list[list[str]] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped early, if it did

    @property
    def failed_hosts(self) -> list[str]:
        failed = [p.host.name for p in self.planned if p.plan is None]
        return failed + [name for name, o in self.outcomes.items() if o.category is not None or o.failed]


def _pool(forks: int, n: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, min(forks, n or 1)))


# variables that come from a node's facts (fixer.playbook.facts_vars), read only for plays that use them
FACT_VARIABLES = ("java_home", "java_security_file", "java_version", "java_major", "jce_crypto_policy")


def uses_facts(play: Play) -> bool:
    text = repr([(t.args, t.when, t.requires) for t in (*play.tasks, *play.handlers)]) + repr(play.vars)
    return any(name in text for name in FACT_VARIABLES)


def _mp_facts(session: Session, host: Host) -> dict[str, Any]:
    """The same facts `fixer check` reads (one batched exec), as playbook variables."""
    boundary = new_boundary()
    result = session.run_script(mp_script(host, boundary))
    sections = split_sections(result.stdout.decode("utf-8", errors="replace"), boundary)
    return facts_vars(mp_facts(host, sections))


def plan_play(play: Play, hosts: Sequence[Host], connect: ConnectOptions, forks: int,
              extra_vars: Mapping[str, Any]) -> list[PlannedHost]:
    """Read every target of every host (one batched read each) and compute its plan. Changes nothing."""
    needs_facts = uses_facts(play)

    def one(host: Host) -> PlannedHost:
        try:
            with Session(host, connect) as session:
                session.connect()
                facts = _mp_facts(session, host) if needs_facts and host.role == "message_processor" else None
                paths = paths_to_read(play, host, extra_vars, facts)
                seen = read_files(session, paths) if paths else {}
            return PlannedHost(host, plan_host(play, host, seen, extra_vars, facts))
        except HostError as exc:
            return PlannedHost(host, None, exc.category, str(exc))
        except FixerError as exc:
            return PlannedHost(host, None, "error", str(exc))

    with _pool(forks, len(hosts)) as pool:
        return list(pool.map(one, hosts))


def roll_out(name: str, planned: Sequence[PlannedHost], ctx: RunContext, forks: int,
             serial: Sequence[int | str] | None, max_fail_percentage: float | None, total_hosts: int,
             failed_so_far: int = 0, on_batch: Callable[[int, list[str]], None] | None = None,
             restore_failed_batches: bool = True) -> PlayResult:
    """Apply the plans batch by batch; a failed batch is restored before the budget decides."""
    result = PlayResult(name, list(planned))
    budget = float(max_fail_percentage or 0)
    failed = failed_so_far + sum(1 for p in planned if p.plan is None)
    runnable = [p for p in planned if p.plan is not None]
    if failed and failed * 100.0 / max(total_hosts, 1) > budget:
        unplanned = ", ".join(p.host.name for p in planned if p.plan is None)
        result.stopped = (f"{unplanned} could not be planned: over the failure budget (max_fail_percentage "
                          f"{budget:g}%); nothing was changed. Exclude them (-l 'all:!name') or fix them first")
        return result
    for number, batch in enumerate(split_batches(runnable, serial), start=1):
        names = [p.host.name for p in batch]
        result.batches.append(names)
        for p in batch:
            ctx.journal.add_host(ctx.run_id, p.host.name, p.host.address, number)
        if on_batch is not None:
            on_batch(number, names)
        with _pool(forks, len(batch)) as pool:
            outcomes = list(pool.map(lambda p: _apply_planned(p, ctx), batch))
        if restore_failed_batches and any(o.failed for o in outcomes):
            outcomes = _restore_batch(batch, outcomes, ctx, forks)
        for outcome in outcomes:
            result.outcomes[outcome.host] = outcome
            ctx.journal.set_host_status(ctx.run_id, outcome.host, _journal_status(outcome),
                                        outcome.category, outcome.message)
        # a host restored only because a neighbour failed is not a failure of its own
        batch_failed = sum(1 for o in outcomes if o.category is not None or o.failed)
        failed += batch_failed
        if batch_failed and failed * 100.0 / max(total_hosts, 1) > budget:
            rest = [p.host.name for p in runnable if p.host.name not in result.outcomes]
            result.stopped = (f"batch {number} failed ({batch_failed} host(s)); {failed} of {total_hosts} hosts "
                              f"failed, over max_fail_percentage {budget:g}%: stopped"
                              + (f", not attempted: {', '.join(rest)}" if rest else ""))
            for name in rest:
                ctx.journal.set_host_status(ctx.run_id, name, "skipped", None, "run stopped before this batch")
            break
    return result


def _apply_planned(planned: PlannedHost, ctx: RunContext) -> HostOutcome:
    assert planned.plan is not None
    return apply_host(planned.host, planned.plan, ctx)


def _restore_batch(batch: Sequence[PlannedHost], outcomes: list[HostOutcome], ctx: RunContext,
                   forks: int) -> list[HostOutcome]:
    """Every changed host of a failed batch goes back to its original files, restarted and ready."""
    hosts = {p.host.name: p.host for p in batch}

    def undo(outcome: HostOutcome) -> HostOutcome:
        if not outcome.written:
            return outcome
        reverted = revert_host(hosts[outcome.host], outcome, ctx)
        if outcome.status == "ok":  # a healthy host restored only because its batch failed
            return HostOutcome(outcome.host, reverted.status if reverted.failed else "restored", None,
                               "restored because another host of its batch failed" if not reverted.failed
                               else reverted.message)
        return reverted

    with _pool(forks, len(outcomes)) as pool:
        return list(pool.map(undo, outcomes))


def _journal_status(outcome: HostOutcome) -> str:
    return {
        "ok": "ok", "unchanged": "unchanged", "restored": "rolled-back",
    }.get(outcome.status, "failed")
