"""The JSON report: one document per run, described by schema.json (schema_version 1.1).

Secrets never belong in a report. Host variables are not part of it at all; as defence in depth, the
values of .properties entries, override tokens and evidence whose key name looks secret are masked, and
the diffs of findings come redacted from fixer.plan.diff.

Schema versions: 1.1 added, to every finding, `playbook` (the shipped playbook that fixes it, or null),
`diff` (the unified diff it would make on that host, "" for none, "could not plan: ..." when planning
failed, null when not computed) and `actions` (the service actions it would run and its notes). These
keys are optional in the schema, so a 1.0 document still validates.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from typing import Any

import fixer
from fixer.checks.model import SEVERITIES, Evidence, Finding
from fixer.errors import FixerError
from fixer.facts.model import MessageProcessorFacts, NodeFacts
from fixer.result import STATUSES, CheckRun, HostResult

SCHEMA_VERSION = "1.2"
REDACTED = "********"

# Key names whose values are secrets. Apigee override *tokens* (conf_<file>_<key>) are not secrets,
# so the word "token" alone does not count.
_SECRET_KEY = re.compile(
    r"password|passwd|passphrase|secret|private|credential|api[_.-]?key|(?:^|[._-])pass(?:$|[._-])",
    re.IGNORECASE,
)

EXIT_CODE_MEANINGS = {
    0: "clean: no error findings",
    1: "error findings",
    3: "a host could not be inspected",
}


class ReportSchemaError(FixerError):
    """A report document that does not match schema.json."""


def is_secret_key(key: str) -> bool:
    """True when a property or value name looks like it holds a secret."""
    return _SECRET_KEY.search(key) is not None


def redact_values(values: dict[str, str]) -> dict[str, str]:
    """A copy of `values` with the values of secret-looking keys masked."""
    return {k: (REDACTED if is_secret_key(k) else v) for k, v in values.items()}


@dataclass(frozen=True)
class Summary:
    hosts: int
    by_status: dict[str, int]
    findings_by_severity: dict[str, int]
    findings_by_id: dict[str, int]
    exit_code: int


def host_counts(host: HostResult) -> dict[str, int]:
    """Findings of one host by severity, every severity present."""
    counts = Counter(f.severity for f in host.findings)
    return {sev: counts.get(sev, 0) for sev in SEVERITIES}


def summarize(run: CheckRun) -> Summary:
    statuses = Counter(h.status for h in run.hosts)
    severities = Counter(f.severity for h in run.hosts for f in h.findings)
    ids = Counter(f.id for h in run.hosts for f in h.findings)
    return Summary(
        hosts=len(run.hosts),
        by_status={s: statuses.get(s, 0) for s in STATUSES},
        findings_by_severity={s: severities.get(s, 0) for s in SEVERITIES},
        findings_by_id={i: ids[i] for i in sorted(ids)},
        exit_code=run.exit_code,
    )


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively (dataclasses.asdict keeps tuples)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _redact_facts(doc: dict[str, Any]) -> None:
    """Mask secret-looking entries of every properties file and override token, in place."""
    for props in (doc.get("customer"), doc.get("generated")):
        if isinstance(props, dict):
            for entry in props.get("entries", []):
                if is_secret_key(str(entry.get("key", ""))):
                    entry["value"] = REDACTED
    for token in doc.get("tokens", []):
        if is_secret_key(str(token.get("key", ""))) or is_secret_key(str(token.get("raw_key", ""))):
            token["value"] = REDACTED


def facts_to_dict(facts: NodeFacts) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "kind": "message_processor" if isinstance(facts, MessageProcessorFacts) else "router",
    }
    doc.update(_plain(dataclasses.asdict(facts)))
    _redact_facts(doc)
    for props in (doc.get("customer"), doc.get("generated")):
        if isinstance(props, dict) and isinstance(props.get("stat"), dict):
            props["stat"]["mode"] = f"{props['stat']['mode']:04o}"  # as ls/stat show it, not 420
    return doc


def evidence_to_dict(evidence: Evidence) -> dict[str, Any]:
    return {"file": evidence.file, "line": evidence.line, "values": redact_values(dict(evidence.values))}


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.id,
        "severity": finding.severity,
        "cause": finding.cause,
        "message": finding.message,
        "evidence": [evidence_to_dict(e) for e in finding.evidence],
        "remediation": finding.remediation,
        "playbook": finding.playbook,
        "diff": finding.diff,
        "actions": list(finding.actions),
        "target": finding.target,
        "apply_args": None if finding.apply_args is None else list(finding.apply_args),
    }


def apply_command(playbook: str, inventory: str, host: str, args: tuple[str, ...] | None = None) -> str:
    """The command that applies `playbook` (a shipped playbook's name) to one host of `inventory`, or with
    `args` instead of `-l HOST` (e.g. `-l bundle_hosts -e bundle_dir=...`)."""
    tail = ["-l", host] if args is None else list(args)
    return " ".join(["fixer", "apply", shlex.quote(playbook), "-i", shlex.quote(inventory),
                     *(shlex.quote(a) for a in tail)])


def host_to_dict(host: HostResult) -> dict[str, Any]:
    return {
        "name": host.name,
        "address": host.address,
        "role": host.role,
        "status": host.status,
        "error": (
            None if host.error is None else {"category": host.error.category, "message": host.error.message}
        ),
        "facts": None if host.facts is None else facts_to_dict(host.facts),
        "findings": [finding_to_dict(f) for f in host.findings],
        "duration_s": host.duration_s,
    }


def targets_to_list(run: CheckRun) -> list[dict[str, Any]]:
    from fixer.report.targets import group_targets

    return [
        {"url": g.url, "hosts": list(g.hosts), "issues": [
            {"id": i.id, "severity": i.severity, "cause": i.cause, "message": i.message, "hosts": list(i.hosts)}
            for i in g.issues]}
        for g in group_targets(run)
    ]


def run_to_dict(run: CheckRun) -> dict[str, Any]:
    summary = summarize(run)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "fixer", "version": fixer.__version__},
        "inventory": run.inventory,
        "started_at": run.started_at,
        "duration_s": run.duration_s,
        "hosts": [host_to_dict(h) for h in run.hosts],
        "targets": targets_to_list(run),
        "summary": {
            "hosts": summary.hosts,
            "by_status": summary.by_status,
            "findings_by_severity": summary.findings_by_severity,
            "findings_by_id": summary.findings_by_id,
            "exit_code": summary.exit_code,
        },
    }


def render_json(run: CheckRun) -> str:
    """The report as JSON text: indent 2, keys in the documented order, trailing newline."""
    return json.dumps(run_to_dict(run), indent=2, ensure_ascii=False) + "\n"


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the report, shipped as package data."""
    text = resources.files("fixer.report").joinpath("schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_report(doc: dict[str, Any]) -> None:
    """Raise ReportSchemaError (a FixerError) naming where and why `doc` breaks the schema."""
    import jsonschema  # imported here: rendering a report never needs it, and it is slow to import

    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return
    first = jsonschema.exceptions.best_match(errors)
    where = "/".join(str(p) for p in first.absolute_path) or "(document)"
    more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
    raise ReportSchemaError(
        f"report does not match schema {SCHEMA_VERSION}: at {where}: {first.message}{more}"
    ) from first
