"""Southbound findings grouped per backend: one row per (target, finding id) with every MP that saw it.

Pure; shared by the text, JSON and HTML reports. A backend that fails the same way from every message
processor is a backend problem; one that fails from some MPs only points at those MPs' configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

from fixer.checks.model import SEVERITIES
from fixer.result import CheckRun


@dataclass(frozen=True)
class TargetIssue:
    id: str
    severity: str
    cause: str
    message: str  # the first MP's message without the leading "URL: "
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class TargetGroup:
    url: str
    issues: tuple[TargetIssue, ...]
    hosts: tuple[str, ...]  # every MP with a finding about this target

    @property
    def worst(self) -> str:
        return min((i.severity for i in self.issues), key=SEVERITIES.index, default="info")


def group_targets(run: CheckRun) -> list[TargetGroup]:
    """Targets in the order first seen; issues by severity then id; hosts in run order."""
    rows: dict[str, dict[tuple[str, str], tuple[str, str, list[str]]]] = {}
    for host in run.hosts:
        for f in host.findings:
            if f.target is None:
                continue
            issues = rows.setdefault(f.target, {})
            key = (f.id, f.severity)
            if key not in issues:
                message = f.message.removeprefix(f"{f.target}: ")
                issues[key] = (f.cause, message, [])
            hosts = issues[key][2]
            if host.name not in hosts:
                hosts.append(host.name)
    groups = []
    for url, issues in rows.items():
        items = tuple(
            TargetIssue(fid, sev, cause, message, tuple(hosts))
            for (fid, sev), (cause, message, hosts) in sorted(
                issues.items(), key=lambda kv: (SEVERITIES.index(kv[0][1]), kv[0][0]))
        )
        seen = {h for i in items for h in i.hosts}
        groups.append(TargetGroup(url, items, tuple(h.name for h in run.hosts if h.name in seen)))
    return groups
