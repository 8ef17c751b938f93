"""The planner (pure, no remote I/O): what one play would do on one host, from what was read there.

Two calls per host:
1. `paths_to_read(play, host, extra_vars)`: every remote path the play's tasks and handlers (and their
   `requires`) may read or write, for ONE batched read.
2. `plan_host(play, host, seen, extra_vars)`: the tasks run in order over a virtual file state that
   starts as `seen` (absent files as FileState(exists=False)). Each module transforms it and says
   whether it changed something; a task that changed something notifies its handlers; afterwards the
   notified handlers run once each, in the order they are DEFINED (Ansible semantics). Verify tasks
   become Verify entries the executor checks after the handlers.

Variables, lowest precedence first: the host's inventory vars < `inventory_hostname`, `group_names`,
`apigee_root`, `nginx_conf_dir` (normalised from the inventory, with the usual defaults) < `facts`
(what `fixer check` learned about the host, e.g. `fixer.playbook.facts.facts_vars`) < play `vars` <
extra vars (`-e key=value`).

Errors: a bad template, undefined variable or argument → UsageError naming host, task and file:line;
a host state that makes a task impossible (file to edit missing) → PlanError. A path missing from
`seen` is a programming error (KeyError).

Services: a restart asked for twice on one host (e.g. by a `requires`-gated task and by a handler) is
planned once, since the executor writes every file before it runs any service.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fixer.errors import UsageError
from fixer.inventory.model import Host
from fixer.modules import MODULES
from fixer.modules import template as templates
from fixer.modules.base import ArgError, Outcome, PlanError, PlanState, coerce
from fixer.plan.model import FileChange, FileState, HostPlan, ServiceAction, Verify
from fixer.playbook.model import Play, Task
from fixer.playbook.requires import holds, paths, resolved
from fixer.playbook.templar import Templar, TemplateFailure


def host_variables(play: Play, host: Host, extra_vars: Mapping[str, Any],
                   facts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The variables of `host` for `play`, merged by precedence (see the module doc)."""
    merged: dict[str, Any] = dict(host.vars)
    merged.update({
        "inventory_hostname": host.name,
        "group_names": sorted(g for g in host.groups if g not in ("all", "ungrouped")),
        "apigee_root": host.apigee_root,
        "nginx_conf_dir": host.nginx_conf_dir,
    })
    merged.update(facts or {})
    merged.update(play.vars)
    merged.update(extra_vars)
    return merged


def _templar(play: Play, host: Host, extra_vars: Mapping[str, Any], facts: Mapping[str, Any] | None) -> Templar:
    return Templar(host_variables(play, host, extra_vars, facts), templates.template_dirs())


@contextmanager
def _errors(host: Host, task: Task) -> Iterator[None]:
    where = f"{host.name}: task {task.name!r} ({task.where})"
    try:
        yield
    except (TemplateFailure, ArgError) as exc:
        raise UsageError(f"{where}: {exc}") from None
    except PlanError as exc:
        raise PlanError(f"{where}: {exc}") from None


def _args(task: Task, templar: Templar) -> dict[str, Any]:
    module = MODULES[task.module]
    rendered = templar.render(task.args)
    if not isinstance(rendered, dict):
        raise ArgError(f"the {task.module} module needs a mapping of arguments, got {rendered!r}")
    for key, default in module.template_defaults.items():
        if key not in rendered:
            rendered[key] = templar.render(default)
    args = coerce(module.spec, rendered, task.module, static=False)
    module.check(args, static=False)
    return args


def _when(task: Task, templar: Templar) -> bool:
    return all(templar.truth(expression) for expression in task.when)


def paths_to_read(play: Play, host: Host, extra_vars: Mapping[str, Any],
                  facts: Mapping[str, Any] | None = None) -> list[str]:
    """Every remote file the play may read or write on `host` (templated, deduplicated, in order)."""
    templar = _templar(play, host, extra_vars, facts)
    out: list[str] = []
    for task in (*play.tasks, *play.handlers):
        with _errors(host, task):
            if not _when(task, templar):
                continue
            blocked = False
            for req in task.requires:
                args = resolved(req, templar)
                if req.kind == "vars" and not holds(req, args, templar, {}):
                    blocked = True  # later conditions and the arguments may use these variables
                    break
                out += paths(req, args)
            if not blocked:
                out += MODULES[task.module].paths(_args(task, templar))
    return list(dict.fromkeys(out))


def _run(task: Task, templar: Templar, state: PlanState) -> Outcome | None:
    """The task's outcome; None when `when` is false or a requirement is unmet (without a note)."""
    with _errors(state.host, task):
        if not _when(task, templar):
            return None
        for req in task.requires:
            if not holds(req, resolved(req, templar), templar, state.files):
                return Outcome(False, notes=(str(templar.render(req.note)),)) if req.note else None
        return MODULES[task.module].plan(_args(task, templar), state, task.name)


def plan_host(play: Play, host: Host, seen: Mapping[str, FileState], extra_vars: Mapping[str, Any],
              facts: Mapping[str, Any] | None = None) -> HostPlan:
    """What `play` would do on `host`, given the files `seen` there (see the module doc)."""
    templar = _templar(play, host, extra_vars, facts)
    state = PlanState(host, dict(seen), templar.render_file)
    notified: set[str] = set()
    services: list[ServiceAction] = []
    verifies: list[Verify] = []
    notes: list[str] = []

    def collect(outcome: Outcome | None) -> bool:
        if outcome is None:
            return False
        if outcome.service is not None:
            services.append(outcome.service)
        if outcome.verify is not None:
            verifies.append(outcome.verify)
        notes.extend(outcome.notes)
        return outcome.changed

    for task in play.tasks:
        if collect(_run(task, templar, state)):
            notified.update(task.notify)
    for handler in play.handlers:
        if handler.name in notified:
            collect(_run(handler, templar, state))
    files = tuple(
        FileChange(path, seen[path], state.files[path], tuple(names)) for path, names in state.touched.items()
    )
    return HostPlan(
        host=host.name,
        address=host.address,
        files=files,
        services=_unique_restarts(services),
        verifies=tuple(verifies),
        notes=tuple(dict.fromkeys(notes)),
    )


def _unique_restarts(services: list[ServiceAction]) -> tuple[ServiceAction, ...]:
    """Each restart of a component once (the first asked); start/stop stay as asked."""
    seen: set[tuple[str, str]] = set()
    out = []
    for action in services:
        if action.action == "restart":
            key = (action.component, action.command)
            if key in seen:
                continue
            seen.add(key)
        out.append(action)
    return tuple(out)
