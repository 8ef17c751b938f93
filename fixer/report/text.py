"""The terminal report: a summary table, then the findings and failures of each host, then totals.

Rendered with rich into a string of fixed width, so the output does not depend on the terminal it
ends up in; with color=False it is plain text (no ANSI codes), fit for pipes, files and mail.

A finding that a shipped playbook fixes shows, under its `fix:` line, the command that applies it to
that host, the service actions it would run and its notes, then its unified diff on that host, indented
and never wrapped (so it can be copied whole). A later finding of the same host with the same plan says
so instead of repeating it.
"""

from __future__ import annotations

import re
from io import StringIO

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

import fixer
from fixer.checks.model import SEVERITIES, Evidence, Finding
from fixer.report.json_report import EXIT_CODE_MEANINGS, apply_command, host_counts, redact_values, summarize
from fixer.result import STATUSES, CheckRun, HostResult

WIDTH = 120
_TRAILING_BLANKS = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)

STATUS_STYLE = {"ok": "green", "findings": "yellow", "unreachable": "magenta", "error": "bold red"}
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
DIFF_INDENT = " " * 8


def diff_style(line: str) -> str:
    """The style of one line of a unified diff (as fixer.plan.diff writes them)."""
    if line.startswith(("+++", "---")):
        return "bold"
    if line.startswith("@@"):
        return "cyan"
    if line.startswith("+"):
        return "green"
    if line.startswith("-"):
        return "red"
    if line.startswith(("#", "\\")):
        return "dim"
    return ""


def _console(color: bool) -> Console:
    return Console(
        file=StringIO(),
        width=WIDTH,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        force_jupyter=False,
        force_interactive=False,
        legacy_windows=False,
        highlight=False,
        emoji=False,
        markup=False,
        soft_wrap=False,
    )


def _quote(value: str) -> str:
    if value == "" or any(c.isspace() for c in value) or '"' in value:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def _where(evidence: Evidence) -> str:
    if evidence.file is None:
        return "(no file)" if evidence.line is None else f"(line {evidence.line})"
    return evidence.file if evidence.line is None else f"{evidence.file}:{evidence.line}"


def _evidence_line(evidence: Evidence) -> Text:
    text = Text()
    text.append(_where(evidence), style="dim")
    for key, value in redact_values(dict(evidence.values)).items():
        text.append("  ")
        text.append(key, style="bold")
        text.append("=" + _quote(value))
    return text


def _summary_table(run: CheckRun) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("host", overflow="fold")
    table.add_column("role")
    table.add_column("address", overflow="fold")
    table.add_column("status")
    table.add_column("errors", justify="right")
    table.add_column("warnings", justify="right")
    table.add_column("info", justify="right")
    for host in run.hosts:
        counts = host_counts(host)
        table.add_row(
            Text(host.name),
            Text(host.role or "-"),
            Text(host.address),
            Text(host.status, style=STATUS_STYLE.get(host.status, "")),
            *(
                Text(str(counts[sev]), style=SEVERITY_STYLE[sev] if counts[sev] else "dim")
                for sev in SEVERITIES
            ),
        )
    return table


def _labelled(console: Console, label: str, style: str, body: str, body_style: str = "") -> None:
    line = Text()
    line.append(label, style=style)
    line.append(body, style=body_style)
    console.print(Padding(line, (0, 0, 0, 6)))


def _remedy(console: Console, finding: Finding, inventory: str, host: str, same_as: str | None) -> None:
    """The playbook that fixes `finding` on `host`, what it would run, and its diff there."""
    assert finding.playbook is not None
    command = apply_command(finding.playbook, inventory, host, finding.apply_args)
    if same_as is not None:
        _labelled(console, "playbook: ", "bold green", f"{command} (same plan as for {same_as} above)")
        return
    _labelled(console, "playbook: ", "bold green", command)
    for action in finding.actions:
        label, _, body = action.partition(": ") if action.startswith("note: ") else ("would run", "", action)
        _labelled(console, f"{label}: ", "bold", body)
    error = finding.plan_error
    if error is not None:
        _labelled(console, "", "", error, "yellow")
    elif finding.diff == "":
        _labelled(console, "diff: ", "bold", "none (no file changes)")
    elif finding.diff is not None:
        _labelled(console, "diff:", "bold", "")
        for line in finding.diff.splitlines():
            text = Text(DIFF_INDENT)
            text.append(line, style=diff_style(line))
            console.print(text, soft_wrap=True)


def _finding(console: Console, finding: Finding) -> None:
    head = Text()
    head.append(f"[{finding.severity.upper()}]", style=SEVERITY_STYLE.get(finding.severity, ""))
    head.append(" ")
    head.append(finding.id, style="bold")
    head.append(f" ({finding.cause}) ")
    head.append(finding.message)
    console.print(Padding(head, (0, 0, 0, 2)))
    for evidence in finding.evidence:
        console.print(Padding(_evidence_line(evidence), (0, 0, 0, 6)))
    fix = Text()
    fix.append("fix: ", style="bold green")
    fix.append(finding.remediation)
    console.print(Padding(fix, (0, 0, 0, 6)))


def _host(console: Console, host: HostResult, inventory: str) -> None:
    head = Text()
    head.append(host.name, style="bold")
    head.append(f" ({host.address}, {host.role or 'role unknown'}): ")
    head.append(host.status, style=STATUS_STYLE.get(host.status, ""))
    console.print(head)
    if host.error is not None:
        line = Text()
        line.append(f"{host.error.category}: ", style=STATUS_STYLE.get(host.status, "bold red"))
        line.append(host.error.message)
        console.print(Padding(line, (0, 0, 0, 2)))
    planned: dict[tuple[str, str | None, tuple[str, ...]], str] = {}
    for finding in host.findings:
        _finding(console, finding)
        if finding.playbook is not None:
            key = (finding.playbook, finding.diff, finding.actions)
            _remedy(console, finding, inventory, host.name, planned.get(key))
            planned.setdefault(key, finding.id)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def totals_line(run: CheckRun) -> str:
    """One line: hosts by status, findings by severity, and what the exit code means."""
    summary = summarize(run)
    statuses = ", ".join(f"{summary.by_status[s]} {s}" for s in STATUSES)
    sev = summary.findings_by_severity
    findings = f"{_plural(sev['error'], 'error')}, {_plural(sev['warning'], 'warning')}, {sev['info']} info"
    meaning = EXIT_CODE_MEANINGS.get(summary.exit_code, "")
    code = summary.exit_code
    return f"{_plural(summary.hosts, 'host')}: {statuses}; {findings}; exit {code}: {meaning}"


def _targets(console: Console, run: CheckRun) -> None:
    """Southbound findings per backend: which MPs see what (the per-host sections have the evidence).

    A backend's URL is printed whole on its own line (copy, grep); under it one line per finding id and
    severity with the MPs that saw it ("all N MPs" when every MP probing it did), then the message.
    """
    from fixer.report.targets import group_targets

    groups = group_targets(run)
    if not groups:
        return
    console.print()
    console.print(Text("Backends (probed from the message processors)", style="bold"))
    for g in groups:
        console.print(Text("  " + g.url, style="bold"), soft_wrap=True)
        for issue in g.issues:
            hosts = (f"all {len(g.hosts)} MPs" if len(g.hosts) > 1 and issue.hosts == g.hosts
                     else ", ".join(issue.hosts))
            line = Text("    ")
            line.append(f"[{issue.severity.upper()}]", style=SEVERITY_STYLE[issue.severity])
            line.append(f" {issue.id}", style="bold")
            line.append(f"  seen from {hosts}")
            console.print(line)
            console.print(Padding(Text(issue.message), (0, 0, 0, 8)))


def render_text(run: CheckRun, color: bool) -> str:
    console = _console(color)
    title = Text()
    title.append(f"fixer {fixer.__version__}", style="bold")
    title.append(f" check of {run.inventory}, started {run.started_at}, took {run.duration_s:.1f} s")
    console.print(title)
    console.print()
    if run.hosts:
        console.print(_summary_table(run))
    else:
        console.print("no hosts")
    _targets(console, run)
    for host in run.hosts:
        if host.findings or host.error is not None:
            console.print()
            _host(console, host, run.inventory)
    console.print()
    code = run.exit_code
    # the verdict stays on one line, however long, so `tail -1` and grep find it whole
    console.print(Text(totals_line(run), style="bold " + ("green" if code == 0 else "red")), soft_wrap=True)
    out = console.file
    assert isinstance(out, StringIO)
    # rich pads wrapped, indented text to the full width: drop the trailing blanks (before a final reset code)
    return _TRAILING_BLANKS.sub(r"\1", out.getvalue())
