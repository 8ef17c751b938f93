"""The dry-run part of `fixer check`: per finding, the shipped playbook that fixes it and what it would
change on that host.

For a host whose findings map to shipped playbooks (`fixer.playbook.FINDING_PLAYBOOKS`), `Remedies.attach`
plans each of those playbooks exactly as `fixer apply PLAYBOOK --check -l HOST` would, with the host's
check facts as variables (`facts_vars`, e.g. the MP's java.security for jce-unlimited.yml) and no extra
vars. Every file the plans need is read in ONE call of `read` (the caller's extra exec on the session the
check already holds); a host without such findings costs nothing here. The result lands in the finding:

- `playbook`: the playbook's file name (`enable-sni.yml`);
- `diff`: the unified diff of every file the plan changes (secrets redacted, `fixer.plan.diff`), "" when
  it changes no file, or `could not plan: <why>` when planning failed (never a host failure);
- `actions`: the service actions the plan would run (restarts with their readiness gates) and the plan's
  notes (`note: ...`, e.g. "install the JCE policy files"), one line each.

Which plays apply to a host: those whose `hosts` pattern selects it, evaluated with Ansible's pattern
rules (`fixer.inventory.patterns`) over the hosts of this check run (their `groups` and names), leniently
like Ansible: a term that matches nothing adds nothing (where `--limit` would refuse it). Subscripts
(`group[0]`) therefore count among the checked hosts, not the whole inventory. When several plays of one
playbook apply, they are planned in order, each from the file state the previous one leaves.

Playbooks are loaded once per run (thread-safe cache) and only when a finding needs one; the planner
and the playbook package are imported lazily, so a run over healthy hosts never pays for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from fixer.checks.model import NOT_PLANNED, Finding
from fixer.errors import FixerError
from fixer.facts.model import NodeFacts
from fixer.inventory.model import Host
from fixer.inventory.patterns import HostPatterns

if TYPE_CHECKING:
    from fixer.plan.model import FileState, HostPlan, ServiceAction
    from fixer.playbook.model import Play, Playbook

Reader = Callable[[Sequence[str]], Mapping[str, "FileState"]]


@dataclass(frozen=True)
class Remedy:
    """What one playbook would do on one host (see the module doc for the meaning of each field)."""

    playbook: str
    diff: str
    actions: tuple[str, ...] = ()

    @classmethod
    def failed(cls, playbook: str, why: str) -> Remedy:
        return cls(playbook, NOT_PLANNED + why)


def playbooks_for(findings: Sequence[Finding]) -> list[str]:
    """The distinct shipped playbooks that fix some of `findings`, in finding order."""
    if not findings:  # a healthy host: not even the import below
        return []
    from fixer.playbook.findings import FINDING_PLAYBOOKS

    return list(dict.fromkeys(FINDING_PLAYBOOKS[f.id] for f in findings if f.id in FINDING_PLAYBOOKS))


class Remedies:
    """One per `fixer check` run; shared by the worker threads."""

    def __init__(self, hosts: Sequence[Host], extra_vars: Mapping[str, Any] | None = None) -> None:
        self.patterns = HostPatterns(hosts)
        self.extra_vars: Mapping[str, Any] = dict(extra_vars or {})
        self._books: dict[str, Playbook | str] = {}  # name → playbook, or why it could not be loaded
        self._lock = threading.Lock()

    def playbook(self, name: str) -> Playbook | str:
        """The shipped playbook `name`, loaded once; a string says why it could not be loaded."""
        with self._lock:
            book = self._books.get(name)
            if book is None:
                from fixer.playbook import find_playbook, load_playbook

                try:
                    book = load_playbook(find_playbook(name))
                except (FixerError, OSError) as exc:
                    book = f"cannot load {name}: {exc}"
                self._books[name] = book
            return book

    def attach(self, host: Host, facts: NodeFacts | None, findings: Sequence[Finding],
               read: Reader) -> tuple[Finding, ...]:
        """`findings` with playbook, diff and actions set on those a shipped playbook fixes.

        Calls `read` once (with every path the plans need) when some finding maps to a playbook that
        targets the host; never raises: a failure is written into the findings it concerns.
        """
        names = playbooks_for(findings)
        if not names:
            return tuple(findings)
        from fixer.playbook.findings import FINDING_PLAYBOOKS

        remedies = self.plan(host, facts, names, read)
        return tuple(
            replace(f, playbook=r.playbook, diff=r.diff, actions=r.actions)
            if (r := remedies.get(FINDING_PLAYBOOKS.get(f.id, ""))) is not None else f
            for f in findings
        )

    def plan(self, host: Host, facts: NodeFacts | None, names: Sequence[str], read: Reader) -> dict[str, Remedy]:
        """Playbook name → what it would do on `host` (one `read` for all of them)."""
        from fixer.playbook import facts_vars

        variables = facts_vars(facts) if facts is not None else {}
        out: dict[str, Remedy] = {}
        todo: dict[str, tuple[tuple[Play, ...], list[str]]] = {}
        for name in names:
            book = self.playbook(name)
            if isinstance(book, str):
                out[name] = Remedy.failed(name, book)
                continue
            plays = tuple(p for p in book.plays if self.patterns.selects(p.hosts, host))
            if not plays:
                targets = ", ".join(repr(p.hosts) for p in book.plays)
                out[name] = Remedy.failed(name, f"no play of {name} targets {host.name} (hosts: {targets})")
                continue
            try:
                todo[name] = (plays, self._paths(plays, host, variables))
            except Exception as exc:  # a planning failure must never fail the host
                out[name] = Remedy.failed(name, _reason(exc))
        if not todo:
            return out
        paths = list(dict.fromkeys(p for _, wanted in todo.values() for p in wanted))
        try:
            seen = dict(read(paths)) if paths else {}
        except Exception as exc:  # the diagnosis stands even when this read fails
            why = f"cannot read the files the playbook needs: {_reason(exc)}"
            return out | {name: Remedy.failed(name, why) for name in todo}
        for name, (plays, _) in todo.items():
            try:
                out[name] = _remedy(name, self._plans(plays, host, seen, variables), host.name)
            except Exception as exc:  # idem
                out[name] = Remedy.failed(name, _reason(exc))
        return {name: out[name] for name in names}

    def _paths(self, plays: Sequence[Play], host: Host, variables: Mapping[str, Any]) -> list[str]:
        from fixer.plan.planner import paths_to_read

        return [p for play in plays for p in paths_to_read(play, host, self.extra_vars, variables)]

    def _plans(self, plays: Sequence[Play], host: Host, seen: Mapping[str, FileState],
               variables: Mapping[str, Any]) -> list[HostPlan]:
        from fixer.plan.planner import plan_host

        state = dict(seen)
        plans = []
        for play in plays:
            plan = plan_host(play, host, state, self.extra_vars, variables)
            state.update((change.path, change.after) for change in plan.files)
            plans.append(plan)
        return plans


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, FixerError) else f"{type(exc).__name__}: {text}"


def _remedy(name: str, plans: Sequence[HostPlan], host: str) -> Remedy:
    from fixer.plan.diff import render_diff

    diff = "".join(render_diff(change, host) for plan in plans for change in plan.changes)
    actions = [service_line(a) for plan in plans for a in plan.services]
    actions += [f"note: {note}" for plan in plans for note in plan.notes]
    if not diff and not actions:
        actions.append("note: nothing to change on this host: the playbook's plan is empty")
    return Remedy(name, diff, tuple(dict.fromkeys(actions)))


def service_line(action: ServiceAction) -> str:
    """`<command> <component> <action>`, then its readiness gates and timeout, on one line."""
    ready = action.readiness
    line = f"{action.command} {action.component} {action.action}"
    if action.action not in ("start", "restart"):
        return line
    gates = [g for g in (
        "wait_for_ready" if ready.wait_for_ready else "",
        f"GET http://localhost:{ready.port}/v1/servers/self/up" if ready.port else "",
    ) if g]
    return line + (f", then {' and '.join(gates)}" if gates else "") + f" (timeout {ready.timeout_s:g}s)"
