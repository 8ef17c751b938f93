"""Findings: what a check concludes from facts, with the evidence behind it."""

from __future__ import annotations

from dataclasses import dataclass, field

SEVERITIES = ("error", "warning", "info")
CAUSES = ("sni", "protocol", "cipher", "certificate", "jce", "config")
NOT_PLANNED = "could not plan: "  # how Finding.diff starts when the fixing playbook could not be planned


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
    # Set by `fixer check` (fixer.remedy) when a shipped playbook fixes the finding; see fixer/remedy.py.
    playbook: str | None = None  # the playbook's file name, e.g. "enable-sni.yml"
    diff: str | None = None  # its unified diff on this host (redacted); "" no file change; "could not plan: ..."
    actions: tuple[str, ...] = ()  # service actions it would run (with readiness gates) and its notes
    target: str | None = None  # southbound findings: the backend URL, so reports group MPs per backend
    # `fixer apply PLAYBOOK -i INV` + these instead of `-l HOST` (a playbook that runs elsewhere, with -e vars)
    apply_args: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"bad severity {self.severity!r}")
        if self.cause not in CAUSES:
            raise ValueError(f"bad cause {self.cause!r}")

    @property
    def plan_error(self) -> str | None:
        """Why the fixing playbook could not be planned on the host (the whole `diff` text), or None."""
        return self.diff if self.diff is not None and self.diff.startswith(NOT_PLANNED) else None
