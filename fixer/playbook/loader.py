"""Load and fully validate a playbook: every problem is a PlaybookError naming the file and line.

Validation happens before any host is contacted: play and task keys, modules and their arguments
(types, required, unknown — with a "did you mean" hint), `notify` targets, `when` and `{{ }}` syntax,
`serial` and `max_fail_percentage`. What depends on a host (templated values) is checked at plan time.
"""

from __future__ import annotations

import os
import re
from typing import Any

from fixer.errors import PlaybookError
from fixer.inventory._yaml import LineDict, LineList, load_yaml, read_text
from fixer.modules import MODULES
from fixer.modules.base import ArgError, coerce, did_you_mean, is_templated
from fixer.playbook.model import Play, Playbook, Task, plain
from fixer.playbook.requires import parse_requires
from fixer.playbook.templar import syntax_error

PLAY_KEYS = ("name", "hosts", "vars", "serial", "max_fail_percentage", "tasks", "handlers")
TASK_KEYS = ("name", "notify", "when", "requires")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PERCENT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")

# Ansible keys and modules people will write, with what to do instead.
ANSIBLE_HINTS = {
    "become": "set ansible_become in the inventory: fixer reads it per host",
    "become_user": "set ansible_become_user in the inventory",
    "gather_facts": "not needed: fixer reads exactly the files the tasks name",
    "register": "not supported: tasks return no values",
    "loop": "not supported: write one task per item",
    "with_items": "not supported: write one task per item",
    "tags": "not supported",
    "ignore_errors": "not supported: a failing host fails its batch (see max_fail_percentage)",
    "listen": "not supported: notify handlers by name",
    "roles": "not supported: one playbook file holds everything",
    "import_playbook": "not supported: one playbook file holds everything",
    "include_tasks": "not supported: one playbook file holds everything",
    "import_tasks": "not supported: one playbook file holds everything",
    "vars_files": "not supported: put variables in the inventory (group_vars/host_vars) or pass -e",
    "delegate_to": "not supported",
    "run_once": "not supported",
    "any_errors_fatal": "use max_fail_percentage: 0 (the default)",
    "lineinfile": "use the `properties` module (keeps every other line, plans exactly)",
    "copy": "use the `template` module",
    "systemd": "use the `service` module (apigee-service)",
    "command": "not supported: fixer runs no arbitrary commands",
    "shell": "not supported: fixer runs no arbitrary commands",
    "wait_for": "the `service` module has a readiness gate (readiness: {port, wait_for_ready, timeout})",
}


def load_playbook(path: str | os.PathLike[str]) -> Playbook:
    """Read and validate a playbook file. Raises PlaybookError (exit code 2)."""
    name = os.fspath(path)
    return parse_playbook(read_text(name, "playbook", PlaybookError), name)


def parse_playbook(text: str, path: str = "<string>") -> Playbook:
    data, line = load_yaml(path, text, PlaybookError)
    if data is None:
        raise PlaybookError("empty playbook: expected a list of plays", path, line)
    if not isinstance(data, LineList):
        raise PlaybookError("a playbook is a list of plays (each starting with `- name:`/`- hosts:`)", path, line)
    if not data:
        raise PlaybookError("the playbook has no plays", path, line)
    return Playbook(path, tuple(_Parser(path).play(item, data.line_of(i), i) for i, item in enumerate(data)))


class _Parser:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, message: str, line: int | None) -> PlaybookError:
        return PlaybookError(message, self.path, line)

    def unknown(self, key: Any, known: tuple[str, ...], what: str, line: int) -> PlaybookError:
        hint = ANSIBLE_HINTS.get(key) if isinstance(key, str) else None
        extra = f": {hint}" if hint else did_you_mean(key, known)
        return self.fail(f"unknown {what} {key!r}{extra}; known: {', '.join(known)}", line)

    # -- plays ------------------------------------------------------------------------------------

    def play(self, data: Any, line: int, index: int) -> Play:
        if not isinstance(data, LineDict):
            raise self.fail(f"play {index + 1} must be a mapping (name, hosts, tasks, ...)", line)
        for key in data:
            if key not in PLAY_KEYS:
                raise self.unknown(key, PLAY_KEYS, "play key", data.line_of(key))
        name = self.text(data, "name", f"play {index + 1}")
        if "hosts" not in data:
            raise self.fail(f"play {name!r} has no `hosts` (an inventory pattern, e.g. message_processors)", line)
        hosts = data["hosts"]
        if isinstance(hosts, list) and hosts and all(isinstance(h, str) for h in hosts):
            hosts = ",".join(hosts)
        if not isinstance(hosts, str) or not hosts.strip():
            raise self.fail("hosts must be an inventory pattern string", data.line_of("hosts"))
        variables = self.variables(data.get("vars", LineDict()), data.line_of("vars"))
        serial = self.serial(data["serial"], data.line_of("serial")) if "serial" in data else None
        budget = self.percentage(data.get("max_fail_percentage", 0), data.line_of("max_fail_percentage"))
        handlers = self.tasks(data.get("handlers"), data.line_of("handlers"), "handlers", None, required=False)
        tasks = self.tasks(data.get("tasks"), data.line_of("tasks"), "tasks", handlers, required=True)
        return Play(
            name=name,
            hosts=hosts.strip(),
            vars=variables,
            serial=serial,
            max_fail_percentage=budget,
            tasks=tasks,
            handlers=handlers,
            file=self.path,
            line=line,
        )

    def text(self, data: LineDict, key: str, default: str | None = None) -> str:
        if key not in data:
            if default is None:
                raise self.fail(f"missing `{key}`", data.line)
            return default
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"`{key}` must be a non-empty string", data.line_of(key))
        return str(value)

    def variables(self, value: Any, line: int) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, LineDict):
            raise self.fail("vars must be a mapping of name: value", line)
        for key, item in value.items():
            if not isinstance(key, str) or not _VAR_NAME.fullmatch(key):
                raise self.fail(f"{key!r} is not a valid variable name", value.line_of(key))
            self.templates(item, value.line_of(key))
        return {key: plain(item) for key, item in value.items()}

    def serial(self, value: Any, line: int) -> tuple[int | str, ...]:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise self.fail("serial must not be an empty list", line)
        out: list[int | str] = []
        for item in items:
            if isinstance(item, str) and item.strip().isdigit():
                item = int(item.strip())
            if isinstance(item, int) and not isinstance(item, bool) and item >= 1:
                out.append(item)
                continue
            match = _PERCENT.fullmatch(item) if isinstance(item, str) else None
            if match is not None and 0 < float(match[1]) <= 100:
                out.append(f"{match[1]}%")
                continue
            raise self.fail(f"serial entry {item!r} must be a number of hosts (>= 1) or a percentage "
                            "like '25%' (0 < p <= 100)", line)
        return tuple(out)

    def percentage(self, value: Any, line: int) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            raise self.fail(f"max_fail_percentage must be a number from 0 to 100, got {value!r}", line)
        return float(value)

    # -- tasks ------------------------------------------------------------------------------------

    def tasks(self, value: Any, line: int, what: str, handlers: tuple[Task, ...] | None,
              required: bool) -> tuple[Task, ...]:
        if value is None:
            if required:
                raise self.fail(f"the play has no {what}", line)
            return ()
        if not isinstance(value, LineList):
            raise self.fail(f"{what} must be a list of tasks", line)
        if required and not value:
            raise self.fail(f"the play has no {what}", line)
        out = tuple(self.task(item, value.line_of(i), handlers) for i, item in enumerate(value))
        if handlers is None:  # these are the handlers: names must be unique
            seen: dict[str, int] = {}
            for task in out:
                if task.name in seen:
                    raise self.fail(f"duplicate handler name {task.name!r} (first at line {seen[task.name]})",
                                    task.line)
                seen[task.name] = task.line
        return out

    def task(self, data: Any, line: int, handlers: tuple[Task, ...] | None) -> Task:
        is_handler = handlers is None
        if not isinstance(data, LineDict):
            raise self.fail("a task must be a mapping with a name and one module", line)
        modules = [k for k in data if k in MODULES]
        known = TASK_KEYS + tuple(MODULES)
        for key in data:
            if key not in TASK_KEYS and key not in MODULES:
                raise self.unknown(key, known, "task key or module", data.line_of(key))
        name = self.text(data, "name")
        if not modules:
            raise self.fail(f"task {name!r} has no module: one of {', '.join(MODULES)}", line)
        if len(modules) > 1:
            raise self.fail(f"task {name!r} has more than one module ({', '.join(modules)}): one per task",
                            data.line_of(modules[1]))
        module_name = modules[0]
        module = MODULES[module_name]
        arg_line = data.line_of(module_name)
        raw = data[module_name]
        try:
            if is_templated(raw):  # all arguments from one template: checked per host
                self.templates(raw, arg_line)
                args = raw
            else:
                args = self.module_args(module_name, raw, arg_line)
        except ArgError as exc:
            raise self.fail(f"task {name!r}: {exc.message}", exc.line or arg_line) from None
        notify = self.notify(data, name, handlers, is_handler, module.can_change)
        when = self.when(data.get("when"), data.line_of("when")) if "when" in data else ()
        requires = parse_requires(data["requires"], data.line_of("requires"), self.fail) if "requires" in data else ()
        return Task(
            name=name, module=module_name, args=plain(args), notify=notify, when=when, requires=requires,
            file=self.path, line=line,
        )

    def module_args(self, name: str, raw: Any, line: int) -> Any:
        module = MODULES[name]
        if not isinstance(raw, dict):
            raise ArgError(f"the {name} module needs a mapping of arguments", line)
        module.check(coerce(module.spec, raw, name, static=True, line=line), static=True)
        self.templates(raw, line)
        return raw

    def notify(self, data: LineDict, name: str, handlers: tuple[Task, ...] | None, is_handler: bool,
               can_change: bool) -> tuple[str, ...]:
        if "notify" not in data:
            return ()
        line = data.line_of("notify")
        if is_handler:
            raise self.fail(f"handler {name!r}: handlers cannot notify other handlers", line)
        if not can_change:
            raise self.fail(f"task {name!r}: a verify task changes nothing, so it cannot notify", line)
        value = data["notify"]
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise self.fail("notify must be a handler name or a list of handler names", line)
        assert handlers is not None
        known = tuple(h.name for h in handlers)
        for index, target in enumerate(names):
            if target not in known:
                where = names.line_of(index) if isinstance(names, LineList) else line
                listed = f"; handlers: {', '.join(known)}" if known else "; the play has no handlers"
                raise self.fail(f"task {name!r} notifies {target!r}, which is not a handler of this play"
                                f"{did_you_mean(target, known)}{listed}", where)
        return tuple(dict.fromkeys(names))

    def when(self, value: Any, line: int) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            if isinstance(item, bool):
                out.append("true" if item else "false")
                continue
            if not isinstance(item, str) or not item.strip():
                raise self.fail("when must be an expression (or a list of expressions, all true)", line)
            if "{{" in item or "{%" in item:
                raise self.fail(f"when is already an expression: write `{item.strip('{} ')}`, without {{{{ }}}}",
                                line)
            error = syntax_error(item, expression=True)
            if error is not None:
                raise self.fail(f"when: invalid expression {item!r}: {error}", line)
            out.append(str(item))
        return tuple(out)

    def templates(self, value: Any, line: int) -> None:
        """Every `{{ }}` string inside `value` must parse (keys too)."""
        if isinstance(value, dict):
            for key, item in value.items():
                where = value.line_of(key) if isinstance(value, LineDict) else line
                self.templates(key, where)
                self.templates(item, where)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.templates(item, value.line_of(index) if isinstance(value, LineList) else line)
        elif is_templated(value):
            error = syntax_error(value)
            if error is not None:
                raise self.fail(f"invalid template {value!r}: {error}", line)

