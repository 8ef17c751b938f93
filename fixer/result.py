"""The outcome of inspecting one host, and of a whole `fixer check` run."""

from __future__ import annotations

from dataclasses import dataclass, field

from fixer.checks.model import Finding
from fixer.facts.model import NodeFacts

STATUSES = ("ok", "findings", "unreachable", "error")


@dataclass(frozen=True)
class HostFailure:
    category: str  # one of fixer.errors.HOST_ERROR_CATEGORIES
    message: str


@dataclass(frozen=True)
class HostResult:
    name: str
    address: str
    role: str | None
    status: str  # one of STATUSES
    error: HostFailure | None = None
    facts: NodeFacts | None = None
    findings: tuple[Finding, ...] = ()
    duration_s: float = 0.0


@dataclass(frozen=True)
class CheckRun:
    inventory: str
    started_at: str  # ISO 8601, UTC
    duration_s: float
    hosts: tuple[HostResult, ...] = field(default_factory=tuple)

    @property
    def exit_code(self) -> int:
        """0 clean, 1 error findings, 3 a host could not be inspected (wins over 1)."""
        if any(h.status in ("unreachable", "error") for h in self.hosts):
            return 3
        if any(f.severity == "error" for h in self.hosts for f in h.findings):
            return 1
        return 0
