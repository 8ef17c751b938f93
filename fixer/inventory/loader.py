"""Load an Ansible YAML inventory (plus group_vars/ and host_vars/ beside it) into `Host`s.

Reads what Ansible's `yaml` inventory plugin reads, with the same meaning (see graph.py for variable
precedence and templating.py for `{{ }}`), but where Ansible only warns or silently drops data
(a typo like `host:`, a group written as a list, duplicate keys, an empty host range) fixer refuses
the inventory with one InventoryError naming the file and line: no host is contacted on a guess.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from typing import Any

from fixer.errors import InventoryError
from fixer.inventory._yaml import LineDict, load_yaml, read_text
from fixer.inventory.graph import InventoryGraph
from fixer.inventory.model import Host
from fixer.inventory.patterns import select_hosts
from fixer.inventory.ranges import RangeError, expand_host_key
from fixer.inventory.varfiles import describe

SECTIONS = ("hosts", "vars", "children")
_INI_SECTION = re.compile(r"\[[^\]\s]+\]\s*([#;].*)?")  # at column 0, unlike YAML flow lists in a value
_YAML_KEY = re.compile(r"[^#]*:(\s|$)")
_INI_MESSAGE = (
    "this looks like an INI inventory, fixer reads YAML inventories: convert it once with "
    "`ansible-inventory -i FILE --list --yaml > inventory.yml` (group_vars/ and host_vars/ keep working)"
)


@dataclass(frozen=True)
class Inventory:
    """A loaded inventory: hosts in inventory order (first appearance), and group -> member host names."""

    path: str
    hosts: dict[str, Host]
    groups: dict[str, tuple[str, ...]]  # every group incl. "all" and "ungrouped"; members via children too
    warnings: tuple[str, ...] = ()  # what Ansible would silently ignore (unused group_vars files, ...)

    def select(self, limit: str | None) -> list[Host]:
        """Hosts matching an Ansible --limit pattern, in inventory order; None selects every host.

        Raises UsageError when the limit, or any part of it, matches no host (see patterns.py).
        """
        names = select_hosts(list(self.hosts), self.groups, limit)
        return [self.hosts[name] for name in names]


def load_inventory(path: str | os.PathLike[str]) -> Inventory:
    """Read one YAML inventory file; raises InventoryError (file and line) on any problem."""
    shown = os.fspath(path)
    if os.path.isdir(shown):
        candidates = sorted(f for f in os.listdir(shown) if f.endswith((".yml", ".yaml")) and not f.startswith("."))
        hint = f" (it holds {', '.join(candidates)})" if candidates else ""
        raise InventoryError(f"is a directory: pass the inventory file inside it{hint}", shown)
    text = read_text(shown, "inventory file")
    try:
        data, root_line = load_yaml(shown, text)
    except InventoryError:
        ini_line = _ini_line(text)
        if ini_line is not None:
            raise InventoryError(_INI_MESSAGE, shown, ini_line) from None
        raise
    if data is None or data == {}:
        raise InventoryError("inventory file is empty", shown, root_line)
    if not isinstance(data, LineDict):
        ini_line = _ini_line(text)
        if ini_line is not None:
            raise InventoryError(_INI_MESSAGE, shown, ini_line)
        raise InventoryError(
            f"a YAML inventory must be a mapping of group names (usually `all:`), got {describe(data)}",
            shown,
            root_line,
        )
    if isinstance(data.get("plugin"), str):  # what Ansible's yaml plugin rejects the same way
        raise InventoryError(
            f"this configures inventory plugin {data['plugin']!r}, it is not an inventory: fixer cannot run "
            "plugins; export one with `ansible-inventory -i FILE --list --yaml > inventory.yml`",
            shown,
            data.line_of("plugin"),
        )
    graph = InventoryGraph()
    parser = _YamlParser(shown, graph)
    for name, body in data.items():
        parser.group(name, body, data.line_of(name))
    resolved = graph.resolve(os.path.dirname(os.path.abspath(shown)))
    return Inventory(shown, resolved.hosts, resolved.groups, resolved.warnings)


def _ini_line(text: str) -> int | None:
    """The line of the first `[section]` of an INI inventory, or of its first host when it has no YAML keys."""
    rows = [(i, row) for i, row in enumerate(text.splitlines(), 1) if row.strip() and row.strip()[0] not in "#;"]
    for i, row in rows:
        if _INI_SECTION.fullmatch(row):
            return i
    if rows and not any(_YAML_KEY.match(row) or row.lstrip().startswith("-") for _, row in rows):
        return rows[0][0]
    return None


class _YamlParser:
    """Walks the YAML tree like Ansible's yaml plugin, feeding an InventoryGraph."""

    def __init__(self, path: str, graph: InventoryGraph) -> None:
        self.path = path
        self.graph = graph

    def fail(self, message: str, line: int) -> InventoryError:
        return InventoryError(message, self.path, line)

    def declare(self, name: Any, line: int) -> str:
        if not isinstance(name, str) or not name:
            raise self.fail(f"group name {name!r} must be a non-empty string (quote it)", line)
        self.graph.group(name)
        return name

    def group(self, key: Any, body: Any, line: int) -> None:
        name = self.declare(key, line)
        if body is None:
            return
        if not isinstance(body, LineDict):
            hint = " (list hosts as `name:` keys under `hosts:`)" if isinstance(body, list) else ""
            raise self.fail(
                f"group {name!r} must be a mapping with `hosts:`, `vars:` and/or `children:`, "
                f"got {describe(body)}{hint}",
                line,
            )
        for key in body:
            if key not in SECTIONS:
                raise self.fail(self._unknown_key(name, key), body.line_of(key))
        for key, value in body.items():  # in written order, like Ansible (it decides inventory order)
            key_line = body.line_of(key)
            if value is None:
                continue
            if key == "vars":
                self._group_vars(name, value, key_line)
            elif key == "children":
                self._children(name, value, key_line)
            else:
                self._hosts(name, value, key_line)

    def _unknown_key(self, group: str, key: Any) -> str:
        message = f"unknown key {key!r} in group {group!r}: a group holds only hosts, vars and children"
        close = difflib.get_close_matches(str(key).lower(), SECTIONS, n=1, cutoff=0.6)
        if close:
            return f"{message} (did you mean {close[0]!r}?)"
        if group in SECTIONS:  # e.g. a top-level `hosts:` is a group named "hosts" for Ansible
            return f"{message} (a top-level {group!r} is read as a group of that name; put it under `all:`)"
        return f"{message} (to add host {key!r}, list it under `hosts:`; a subgroup goes under `children:`)"

    def _group_vars(self, group: str, value: Any, line: int) -> None:
        if not isinstance(value, LineDict):
            raise self.fail(f"`vars` of group {group!r} must be a mapping, got {describe(value)}", line)
        for var, var_value in value.items():
            self._check_var_name(var, value.line_of(var))
            self.graph.set_group_var(group, var, var_value, self.path, value.line_of(var))

    def _children(self, group: str, value: Any, line: int) -> None:
        if isinstance(value, str):  # Ansible accepts `children: one_group`
            value = _single(value, line)
        if not isinstance(value, LineDict):
            raise self.fail(
                f"`children` of group {group!r} must be a mapping of group names (`name:` keys), got {describe(value)}",
                line,
            )
        for child, body in value.items():
            child_line = value.line_of(child)
            # Link before descending, so a loop is reported where it closes.
            self.graph.add_child(group, self.declare(child, child_line), self.path, child_line)
            self.group(child, body, child_line)

    def _hosts(self, group: str, value: Any, line: int) -> None:
        if isinstance(value, str):  # Ansible accepts `hosts: one_host`
            value = _single(value, line)
        if not isinstance(value, LineDict):
            raise self.fail(
                f"`hosts` of group {group!r} must be a mapping of host names (`name:` keys, each followed by "
                f"its vars or nothing), got {describe(value)}",
                line,
            )
        for key, host_vars in value.items():
            key_line = value.line_of(key)
            if not isinstance(key, str) or not key:
                raise self.fail(f"host name {key!r} must be a non-empty string (quote it)", key_line)
            try:
                names, port = expand_host_key(key)
            except RangeError as exc:
                raise self.fail(str(exc), key_line) from None
            if host_vars is not None and not isinstance(host_vars, LineDict):
                hint = ""
                if isinstance(host_vars, str):
                    hint = f" (for its address write `ansible_host: {host_vars}`)"
                raise self.fail(
                    f"host {key!r} must be followed by a mapping of its vars or nothing, "
                    f"got {describe(host_vars)}{hint}",
                    key_line,
                )
            if host_vars is not None:
                for var in host_vars:
                    self._check_var_name(var, host_vars.line_of(var))
            for name in names:
                host = self.graph.add_host(group, name, port)
                host.vars.update(host_vars or {})

    def _check_var_name(self, var: Any, line: int) -> None:
        if not isinstance(var, str) or not var:
            raise self.fail(f"variable name {var!r} must be a non-empty string", line)


def _single(name: str, line: int) -> LineDict:
    single = LineDict({name: None})
    single.line = line
    single.key_lines = {name: line}
    return single
