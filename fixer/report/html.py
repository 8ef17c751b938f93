"""The HTML report: one self-contained page (inline CSS, no scripts, no external assets).

The page is rendered by Jinja2 from templates/report.html.j2 with autoescaping on and StrictUndefined,
from a plain view model built here, so the template never reaches into the dataclasses itself.

A finding that a shipped playbook fixes shows the command that applies it to its host, the service
actions and notes of the plan, and the unified diff in a collapsible <pre>, one span per line classed
for colour (d-add, d-del, d-hunk, d-head, d-meta, d-ctx).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

import fixer
from fixer.checks.model import SEVERITIES, Evidence, Finding
from fixer.errors import FixerError
from fixer.facts.model import MessageProcessorFacts, NginxServer, NodeFacts, PropertiesFacts, RouterFacts
from fixer.report.json_report import EXIT_CODE_MEANINGS, apply_command, host_counts, redact_values, summarize
from fixer.result import STATUSES, CheckRun, HostResult

TEMPLATE = "report.html.j2"


def template_dirs() -> list[Path]:
    """Where report.html.j2 is looked for: the source tree, then an installed share/ directory."""
    return [
        Path(fixer.__file__).resolve().parent.parent / "templates",
        Path(sys.prefix) / "share" / "fixer" / "templates",
    ]


def template_dir() -> Path:
    for candidate in template_dirs():
        if (candidate / TEMPLATE).is_file():
            return candidate
    tried = ", ".join(str(d) for d in template_dirs())
    raise FixerError(f"HTML report template {TEMPLATE} not found (looked in {tried})")


@dataclass(frozen=True)
class EvidenceView:
    file: str
    line: str
    values: list[tuple[str, str]]


@dataclass(frozen=True)
class FindingView:
    id: str
    severity: str
    cause: str
    message: str
    evidence: list[EvidenceView]
    remediation: str
    remedy: RemedyView | None = None


@dataclass(frozen=True)
class RemedyView:
    playbook: str
    command: str  # fixer apply ... -l <host>
    actions: list[str]  # service actions and notes ("note: ...")
    error: str | None  # "could not plan: ..."
    diff_lines: list[tuple[str, str]]  # (css class, line with its newline)
    changes_files: bool


@dataclass(frozen=True)
class ServerView:
    where: str
    listen: str
    server_name: str
    ssl: bool
    protocols: str
    protocols_source: str
    ciphers: str
    cipher_count: int
    cipher_expansion: str
    certificate: str


@dataclass(frozen=True)
class FactsView:
    kind: str  # "message_processor" | "router"
    rows: list[tuple[str, str]]  # key facts, label and value
    servers: list[ServerView] = field(default_factory=list)


@dataclass(frozen=True)
class HostView:
    anchor: str
    name: str
    address: str
    role: str
    status: str
    error_category: str | None
    error_message: str | None
    counts: dict[str, int]
    findings: list[FindingView]
    facts: FactsView | None
    duration: str


@dataclass(frozen=True)
class IdView:
    id: str
    severity: str
    cause: str
    count: int
    hosts: list[tuple[str, str]]  # (anchor, name)


def _evidence(evidence: Evidence) -> EvidenceView:
    return EvidenceView(
        file=evidence.file or "",
        line="" if evidence.line is None else str(evidence.line),
        values=list(redact_values(dict(evidence.values)).items()),
    )


def diff_class(line: str) -> str:
    """The CSS class (without `d-`) of one unified diff line."""
    if line.startswith(("+++", "---")):
        return "head"
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+"):
        return "add"
    if line.startswith("-"):
        return "del"
    if line.startswith(("#", "\\")):
        return "meta"
    return "ctx"


def _remedy(finding: Finding, inventory: str, host: str) -> RemedyView | None:
    if finding.playbook is None:
        return None
    error = finding.plan_error
    diff = "" if error is not None or finding.diff is None else finding.diff
    return RemedyView(
        playbook=finding.playbook,
        command=apply_command(finding.playbook, inventory, host, finding.apply_args),
        actions=list(finding.actions),
        error=error,
        diff_lines=[(diff_class(line), line) for line in diff.splitlines(keepends=True)],
        changes_files=bool(diff),
    )


def _finding(finding: Finding, inventory: str, host: str) -> FindingView:
    return FindingView(
        id=finding.id,
        severity=finding.severity,
        cause=finding.cause,
        message=finding.message,
        evidence=[_evidence(e) for e in finding.evidence],
        remediation=finding.remediation,
        remedy=_remedy(finding, inventory, host),
    )


def _file_rows(label: str, props: PropertiesFacts) -> list[tuple[str, str]]:
    if not props.exists:
        state = "absent" if props.error is None else f"unreadable: {props.error}"
        return [(label, f"{props.path} ({state})")]
    rows = [(label, props.path)]
    if props.stat is not None:
        stat = props.stat
        rows.append((f"{label} owner / mode", f"{stat.owner}:{stat.group} {stat.mode_text}"))
    if props.error is not None:
        rows.append((f"{label} error", props.error))
    return rows


def _joined(values: tuple[str, ...] | None, empty: str = "(not set)") -> str:
    return empty if values is None else (", ".join(values) or "(empty)")


def _mp_facts(facts: MessageProcessorFacts) -> FactsView:
    java = facts.java
    sni = facts.generated.get("jsse.enableSNIExtension")
    sni_where = f"{facts.generated.path}:{sni.line}" if sni else "absent from the generated file: default"
    policy = java.crypto_policy + (f" (crypto.policy={java.crypto_policy_setting})"
                                   if java.crypto_policy_setting else "")
    rows = [
        ("SNI (jsse.enableSNIExtension)", f"{'enabled' if facts.sni_enabled else 'disabled'} — {sni_where}"),
        *_file_rows("customer file", facts.customer),
        *_file_rows("generated file", facts.generated),
        ("override tokens", str(len(facts.tokens))),
        ("https.protocols", _joined(facts.https_protocols)),
        ("jdk.tls.client.protocols", _joined(facts.client_protocols)),
        ("Java version", java.version or "unknown"),
        ("JAVA_HOME", f"{java.java_home or 'not found'} (from {java.source})"),
        ("JCE crypto policy", policy),
        ("jdk.tls.disabledAlgorithms", _joined(java.disabled_algorithms)),
    ]
    return FactsView(kind="message_processor", rows=rows)


def _server(server: NginxServer) -> ServerView:
    return ServerView(
        where=f"{server.file}:{server.line}",
        listen=", ".join(server.listen) or "?",
        server_name=" ".join(server.server_name) or "_",
        ssl=server.ssl,
        protocols=" ".join(server.ssl_protocols),
        protocols_source=server.ssl_protocols_source,
        ciphers=server.ssl_ciphers,
        cipher_count=len(server.effective_ciphers),
        cipher_expansion=server.cipher_expansion,
        certificate=server.ssl_certificate or "",
    )


def _router_facts(facts: RouterFacts) -> FactsView:
    rows = [
        *_file_rows("customer file", facts.customer),
        ("override tokens", str(len(facts.tokens))),
        ("nginx version", facts.nginx_version or "unknown"),
        ("conf dir", facts.conf_dir),
        ("conf files", _joined(facts.conf_files, "(none)")),
        *(("parse error", e) for e in facts.parse_errors),
    ]
    return FactsView(kind="router", rows=rows, servers=[_server(s) for s in facts.servers])


def _facts(facts: NodeFacts | None) -> FactsView | None:
    if facts is None:
        return None
    if isinstance(facts, MessageProcessorFacts):
        return _mp_facts(facts)
    return _router_facts(facts)


def _worst_of(severities: Iterable[str]) -> str:
    present = set(severities)
    return next((sev for sev in SEVERITIES if sev in present), "")


def _host(index: int, host: HostResult, inventory: str) -> HostView:
    return HostView(
        anchor=f"host-{index}",
        name=host.name,
        address=host.address,
        role=host.role or "unknown role",
        status=host.status,
        error_category=host.error.category if host.error else None,
        error_message=host.error.message if host.error else None,
        counts=host_counts(host),
        findings=[_finding(f, inventory, host.name) for f in host.findings],
        facts=_facts(host.facts),
        duration=f"{host.duration_s:.1f} s",
    )


def _ids(hosts: list[HostView]) -> list[IdView]:
    by_id: dict[str, list[tuple[HostView, FindingView]]] = {}
    for host in hosts:
        for finding in host.findings:
            by_id.setdefault(finding.id, []).append((host, finding))
    views = []
    for fid, pairs in by_id.items():
        first = pairs[0][1]
        names: dict[str, str] = {}
        for host, _ in pairs:
            names.setdefault(host.anchor, host.name)
        views.append(IdView(fid, _worst_of(f.severity for _, f in pairs), first.cause, len(pairs),
                            list(names.items())))
    rank = {sev: i for i, sev in enumerate(SEVERITIES)}
    return sorted(views, key=lambda v: (rank.get(v.severity, len(rank)), v.id))


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _targets(run: CheckRun, hosts: list[HostView]) -> list[dict[str, Any]]:
    """Southbound findings per backend, host names linked to their cards."""
    from fixer.report.targets import group_targets

    anchors = {h.name: h.anchor for h in hosts}
    return [{"url": g.url, "worst": g.worst, "count": len(g.hosts), "issues": [
        {"id": i.id, "severity": i.severity, "cause": i.cause, "message": i.message,
         "hosts": [(anchors.get(n, ""), n) for n in i.hosts]} for i in g.issues]}
        for g in group_targets(run)]


def render_html(run: CheckRun) -> str:
    summary = summarize(run)
    hosts = [_host(i, h, run.inventory) for i, h in enumerate(run.hosts, start=1)]
    total = max(summary.hosts, 1)
    return environment().get_template(TEMPLATE).render(
        version=fixer.__version__,
        inventory=run.inventory,
        started_at=run.started_at,
        duration=f"{run.duration_s:.1f} s",
        summary=summary,
        statuses=STATUSES,
        severities=SEVERITIES,
        status_share={s: round(100 * summary.by_status[s] / total, 2) for s in STATUSES},
        exit_meaning=EXIT_CODE_MEANINGS.get(summary.exit_code, ""),
        ids=_ids(hosts),
        hosts=hosts,
        targets=_targets(run, hosts),
    )
