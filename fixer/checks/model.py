"""Findings: what a check concludes from facts, with the evidence behind it."""

from __future__ import annotations

from dataclasses import dataclass, field

SEVERITIES = ("error", "warning", "info")
CAUSES = ("sni", "protocol", "cipher", "certificate", "jce", "config")


@dataclass(frozen=True)
class Evidence:
    """Where a finding was seen: a file and line, and the values read there."""

    file: str | None
    line: int | None
    values: dict[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Finding:
    id: str  # stable, e.g. "mp-sni-disabled"
    severity: str  # one of SEVERITIES
    cause: str  # one of CAUSES
    message: str
    evidence: tuple[Evidence, ...]
    remediation: str

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"bad severity {self.severity!r}")
        if self.cause not in CAUSES:
            raise ValueError(f"bad cause {self.cause!r}")
