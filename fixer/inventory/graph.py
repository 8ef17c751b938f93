"""Groups, hosts and variable precedence, independent of the file format they were read from.

Precedence, lowest first, as Ansible's VariableManager does it (checked against ansible-core 2.19 with
ansible-inventory; see tests/unit/test_inventory.py::test_matches_ansible_inventory):

1. vars of group `all` in the inventory file
2. vars of every other group of the host in the inventory file, in group order
3. group_vars/all
4. group_vars/<group> for every other group of the host, in group order
5. the host's vars in the inventory file (later occurrences win; `host:port` sets ansible_port)
6. host_vars/<host>
7. magic vars: inventory_hostname, inventory_hostname_short, group_names

Host.groups lists "all" and then the host's other groups in this order (lowest precedence first).
"Group order" is Ansible's: by depth (longest path from `all`; top-level groups are 1), then
`ansible_group_priority` (inventory-file vars only, default 1), then name. So a child beats its parent,
a deeper group beats a shallower one even if unrelated, and among siblings the name later in the
alphabet wins. Note that group_vars/all (3) beats any group's vars written in the inventory file (2):
that is Ansible's real order, not the intuitive one. Every merge is a shallow replace
(hash_behaviour=replace).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Any

from fixer.errors import InventoryError
from fixer.inventory._yaml import to_plain
from fixer.inventory.model import Host
from fixer.inventory.templating import resolve_vars
from fixer.inventory.varfiles import load_vars, unused_entries

IMPLICIT_GROUPS = ("all", "ungrouped")


@dataclass
class GroupDef:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)  # direct members, in listing order
    priority: int = 1


@dataclass
class HostDef:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolved:
    hosts: dict[str, Host]
    groups: dict[str, tuple[str, ...]]
    warnings: tuple[str, ...]


class InventoryGraph:
    """What a parser fills in: groups (with vars, children, direct hosts) and hosts (with vars)."""

    def __init__(self) -> None:
        self.groups: dict[str, GroupDef] = {name: GroupDef(name) for name in IMPLICIT_GROUPS}
        self.hosts: dict[str, HostDef] = {}  # in order of first appearance: "inventory order"

    def group(self, name: str) -> GroupDef:
        group = self.groups.get(name)
        if group is None:
            group = self.groups[name] = GroupDef(name)
        return group

    def set_group_var(self, group: str, key: str, value: Any, path: str, line: int) -> None:
        if key != "ansible_group_priority":
            self.groups[group].vars[key] = value
            return
        # Like Ansible: it orders groups and is not itself a var (unless it comes from group_vars/).
        try:
            self.groups[group].priority = int(value)
        except (TypeError, ValueError):
            msg = f"ansible_group_priority of group {group!r} must be an integer, got {value!r}"
            raise InventoryError(msg, path, line) from None

    def add_child(self, parent: str, child: str, path: str, line: int) -> None:
        if child == "all":
            raise InventoryError("group 'all' is the root and cannot be a child of another group", path, line)
        if child == parent or parent in self._descendants(child):
            raise InventoryError(
                f"group {child!r} under {parent!r} makes a loop: {parent!r} is already inside {child!r}",
                path,
                line,
            )
        children = self.groups[parent].children
        if child not in children:
            children.append(child)

    def add_host(self, group: str, name: str, port: int | None) -> HostDef:
        host = self.hosts.get(name)
        if host is None:
            host = self.hosts[name] = HostDef(name)
            if port is not None:  # Ansible applies a `:port` only where the host first appears
                host.vars["ansible_port"] = port
        members = self.groups[group].hosts
        if name not in members:
            members.append(name)
        return host

    def _descendants(self, name: str) -> set[str]:
        seen: set[str] = set()
        todo = [name]
        while todo:
            for child in self.groups[todo.pop()].children:
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen

    def resolve(self, base_dir: str) -> Resolved:
        """Memberships and merged vars; group_vars/ and host_vars/ are read from `base_dir`."""
        top = [g for g in self.groups if g != "all" and not self._parents(g)]
        for name in top:  # like Ansible's reconcile: parentless groups hang under `all`
            self.groups["all"].children.append(name)
        parents = {name: self._parents(name) for name in self.groups}
        depth: dict[str, int] = {"all": 0}

        def depth_of(name: str) -> int:
            if name not in depth:
                depth[name] = 1 + max(depth_of(p) for p in parents[name])
            return depth[name]

        lineage: dict[str, set[str]] = {}

        def ancestors(name: str) -> set[str]:
            if name not in lineage:
                lineage[name] = {name}.union(*(ancestors(p) for p in parents[name]))
            return lineage[name]

        direct: dict[str, set[str]] = {h: set() for h in self.hosts}
        for group in self.groups.values():
            for h in group.hosts:
                direct[h].add(group.name)
        member_of: dict[str, set[str]] = {}
        for h, direct_groups in direct.items():
            closure = {"all"}.union(*(ancestors(g) for g in direct_groups))
            if closure - {"all", "ungrouped"}:
                closure.discard("ungrouped")  # Ansible: ungrouped means in no group but all
            else:
                closure.add("ungrouped")
            member_of[h] = closure

        sort_key = {name: (depth_of(name), g.priority, name) for name, g in self.groups.items()}
        group_vars_dir = os.path.join(base_dir, "group_vars")
        host_vars_dir = os.path.join(base_dir, "host_vars")
        file_vars = {name: load_vars(group_vars_dir, name) for name in self.groups}

        hosts: dict[str, Host] = {}
        for name, host in self.hosts.items():
            ranked = sorted(member_of[name] - {"all"}, key=sort_key.__getitem__)
            merged = dict(self.groups["all"].vars)
            for g in ranked:
                merged.update(self.groups[g].vars)
            merged.update(file_vars["all"])
            for g in ranked:
                merged.update(file_vars[g])
            merged.update(host.vars)
            merged.update(load_vars(host_vars_dir, name))
            merged.update(_magic_vars(name, ranked))
            hosts[name] = Host(name=name, groups=("all", *ranked), vars=to_plain(resolve_vars(merged)))

        groups = {g: self._group_hosts(g, member_of) for g in self.groups}
        warnings = [
            f"{name!r} is both a group and a host; a --limit of that name selects the host"
            for name in self.hosts
            if name in self.groups
        ]
        warnings += unused_entries(group_vars_dir, "group", self.groups)
        warnings += unused_entries(host_vars_dir, "host", self.hosts)
        return Resolved(hosts, groups, tuple(warnings))

    def _parents(self, name: str) -> list[str]:
        return [g.name for g in self.groups.values() if name in g.children]

    def _group_hosts(self, name: str, member_of: dict[str, set[str]]) -> tuple[str, ...]:
        # Ansible's order within a group: its own hosts as listed, then its children's, breadth first.
        found: dict[str, None] = {}
        seen_groups = [name]
        for group in seen_groups:
            listed = self.hosts if group == "ungrouped" else self.groups[group].hosts
            found.update((h, None) for h in listed if group in member_of[h])
            seen_groups.extend(c for c in self.groups[group].children if c not in seen_groups)
        return tuple(found)


def _magic_vars(name: str, groups: list[str]) -> dict[str, Any]:
    try:
        ipaddress.ip_address(name)
        short = name
    except ValueError:
        short = name.split(".")[0]
    return {"inventory_hostname": name, "inventory_hostname_short": short, "group_names": sorted(groups)}
