"""Ansible host patterns, as used by `--limit`.

Semantics follow ansible-core's InventoryManager (checked against `ansible --list-hosts`):

- terms are separated by `,` or `:` (a `:` inside `[...]` or in an IPv6 address does not separate);
  `&term` intersects, `!term` excludes; plain terms are applied first, then `&`, then `!`, whatever the
  order written; with only `&`/`!` terms the base is `all`.
- a term that is exactly a host name selects that host; otherwise it is a shell glob (`mp*`, `r?`,
  `mp0[1-3]`), or a regex when it starts with `~` (matched from the start, like re.match), and it
  selects every host of every matching group (`all` and `ungrouped` included) plus, when no group
  matched or the term has glob/regex characters, every matching host name. Matching is case-sensitive.
- `group[i]`, `group[i:j]` (inclusive), `group[i:]` pick from the group's hosts in group order.
- `@path` (path relative to the working directory) reads one pattern per line; blank and `#` lines skip.

Where fixer is stricter or differs, on purpose:

- any term that matches no host is an error (Ansible warns and carries on): a typo in `all:!mp0l` must
  not turn into "all hosts"; the whole limit matching nothing is an error too.
- `a,b:c` splits on both separators (Ansible keeps `b:c` whole and then matches nothing).
- a subscript whose base matches nothing is read as a glob, so `mp-0[1-3]` means mp-01..mp-03 (Ansible
  takes it as items 1..3 of a group `mp-0` and selects nothing).
- the result is in inventory order, not in Ansible's set-dependent group walk order.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import threading
from collections.abc import Mapping, Sequence

from fixer.errors import UsageError
from fixer.inventory.model import Host

_TERM = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_SUBSCRIPT = re.compile(r"(.+)\[(?:(-?[0-9]+)|([0-9]+)[:-]([0-9]*))\]")
_GLOB_CHARS = (".", "?", "*", "[")


def split_pattern(limit: str) -> list[str]:
    """Split a limit into terms, reading `@file` terms; keeps `&`/`!` prefixes."""
    terms: list[str] = []
    for piece in limit.split(","):
        piece = piece.strip()
        if not piece:
            continue
        if piece.startswith("@"):
            for line in _read_limit_file(piece[1:]):
                terms.extend(_split_piece(line))
        else:
            terms.extend(_split_piece(piece))
    return terms


def _split_piece(piece: str) -> list[str]:
    bare = piece.lstrip("&!")
    if ":" in bare:
        try:
            ipaddress.IPv6Address(bare)
        except ValueError:
            return [t.strip() for t in _TERM.findall(piece) if t.strip()]
    return [piece]


def _read_limit_file(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        raise UsageError(f"--limit file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read --limit file {path}: {exc}") from None
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def order_terms(terms: Sequence[str]) -> list[str]:
    """Plain terms first, then `&` intersections, then `!` exclusions (Ansible's order_patterns)."""
    plain = [t for t in terms if t[0] not in "&!"]
    return (plain or ["all"]) + [t for t in terms if t[0] == "&"] + [t for t in terms if t[0] == "!"]


def select_hosts(hosts: Sequence[str], groups: Mapping[str, Sequence[str]], limit: str | None) -> list[str]:
    """Names of the hosts `limit` selects, in the order of `hosts`; raises UsageError if none match."""
    if not hosts:
        raise UsageError("the inventory has no hosts")
    if limit is None:
        return list(hosts)
    terms = split_pattern(limit)
    if not terms:
        raise UsageError(f"empty --limit {limit!r}")
    matcher = _Matcher(hosts, groups)
    selected: dict[str, None] = {}
    for term in order_terms(terms):
        if term in matcher.host_set:
            selected[term] = None
            continue
        matched = matcher.match(term[1:] if term[0] in "&!" else term, limit)
        if not matched:
            raise UsageError(f"no hosts matched {term!r} in --limit {limit!r}")
        if term[0] == "!":
            selected = {h: None for h in selected if h not in matched}
        elif term[0] == "&":
            selected = {h: None for h in selected if h in matched}
        else:
            selected.update((h, None) for h in matched)
    if not selected:
        raise UsageError(f"no hosts matched --limit {limit!r}")
    return [h for h in hosts if h in selected]


class _Matcher:
    def __init__(self, hosts: Sequence[str], groups: Mapping[str, Sequence[str]]) -> None:
        self.hosts = hosts
        self.host_set = set(hosts)
        self.groups = groups

    def match(self, pattern: str, limit: str) -> list[str]:
        if not pattern:
            raise UsageError(f"empty pattern in --limit {limit!r}")
        if pattern.startswith("~"):
            return self._enumerate(pattern, limit)
        m = _SUBSCRIPT.fullmatch(pattern)
        if m is not None:
            base = self._enumerate(m.group(1), limit)
            if base:
                return _subscript(base, m.group(2), m.group(3), m.group(4), pattern)
        return self._enumerate(pattern, limit)

    def _enumerate(self, pattern: str, limit: str) -> list[str]:
        try:
            regex = re.compile(pattern[1:] if pattern.startswith("~") else fnmatch.translate(pattern))
        except re.error as exc:
            raise UsageError(f"invalid pattern {pattern!r} in --limit {limit!r}: {exc}") from None
        found: dict[str, None] = {}
        matching_groups = [g for g in self.groups if regex.match(g)]
        for g in matching_groups:
            found.update((h, None) for h in self.groups[g])
        if not matching_groups or pattern.startswith("~") or any(c in pattern for c in _GLOB_CHARS):
            found.update((h, None) for h in self.hosts if regex.match(h))
        return list(found)


def _subscript(hosts: list[str], index: str | None, start: str | None, end: str | None, pattern: str) -> list[str]:
    try:
        if index is not None:
            return [hosts[int(index)]]
        assert start is not None
        first, last = int(start), int(end) if end else len(hosts) - 1
        if end and last == 0:  # Ansible reads [i:0] as [i]
            return [hosts[first]]
        if first >= len(hosts):
            raise IndexError(first)
        return hosts[first : last + 1]
    except IndexError:
        raise UsageError(f"no hosts matched the subscripted pattern {pattern!r}") from None


class HostPatterns:
    """Which hosts a play's `hosts` pattern selects among some hosts, leniently like a play's `hosts:`.

    Unlike --limit (select_hosts), a term that matches nothing adds nothing instead of being an error.
    """

    def __init__(self, hosts: Sequence[Host]) -> None:
        self._names = [h.name for h in hosts]
        groups: dict[str, list[str]] = {}
        for host in hosts:
            for group in dict.fromkeys(("all", *host.groups)):
                groups.setdefault(group, []).append(host.name)
        self._groups = groups
        self._cache: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def selects(self, pattern: str, host: Host) -> bool:
        with self._lock:
            chosen = self._cache.get(pattern)
            if chosen is None:
                chosen = self._cache[pattern] = self._select(pattern)
        return host.name in chosen

    def _select(self, pattern: str) -> frozenset[str]:
        try:
            terms = order_terms(split_pattern(pattern))
        except UsageError:  # an @file that cannot be read
            return frozenset()
        selected: set[str] = set()
        for term in terms:
            bare = term[1:] if term[0] in "&!" else term
            try:
                matched = set(select_hosts(self._names, self._groups, bare)) if self._names else set()
            except UsageError:  # matches nothing here (or is not a valid pattern): adds nothing
                matched = set()
            if term[0] == "!":
                selected -= matched
            elif term[0] == "&":
                selected &= matched
            else:
                selected |= matched
        return frozenset(selected)
