"""Plain-text and JSON views of the journal for `fixer runs` and `fixer runs show RUN_ID`. Pure: no I/O."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from fixer.journal.model import FileRecord, HostRecord, RunRecord, ServiceRecord, parse_timestamp
from fixer.journal.store import Journal

_HOST_ORDER = ("ok", "unchanged", "rolled-back", "failed", "skipped", "pending")


def _when(text: str | None) -> str:
    moment = parse_timestamp(text)
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _counts(counts: Mapping[str, int]) -> str:
    order = [s for s in _HOST_ORDER if s in counts] + sorted(s for s in counts if s not in _HOST_ORDER)
    return ", ".join(f"{counts[s]} {s}" for s in order) or "-"


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    widths = [max(len(header[i]), *(len(row[i]) for row in body)) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *body]]
    return "\n".join(lines)


def render_runs_table(runs: list[RunRecord]) -> str:
    """One line per run: id, kind, status, start (UTC), duration, hosts by status, playbook or rolled-back run."""
    if not runs:
        return "no runs in the journal"
    body = [
        [r.id, r.kind, r.status, _when(r.started_at), _duration(r.duration_s), _counts(r.host_counts),
         f"rollback of {r.rolls_back}" if r.rolls_back else (r.playbook or "-")]
        for r in runs
    ]
    return _table(["RUN ID", "KIND", "STATUS", "STARTED (UTC)", "DURATION", "HOSTS", "PLAYBOOK"], body)


def _short(sha: str | None, exists: bool) -> str:
    return sha[:12] if exists and sha else "(absent)"


def _attrs(owner: str | None, group: str | None, mode: int | None) -> str:
    who = f"{owner or '?'}:{group or '?'}" if owner or group else "-"
    return f"{who} {'-' if mode is None else f'{mode:04o}'}"


def _file_line(f: FileRecord) -> str:
    content = (f"{_short(f.before_sha, f.before_exists)} → {_short(f.after_sha, f.after_exists)}"
               if f.before_key[:2] != f.after_key[:2] else f"{_short(f.before_sha, f.before_exists)} (same content)")
    attrs = _attrs(f.before_owner, f.before_group, f.before_mode)
    after_attrs = _attrs(f.after_owner, f.after_group, f.after_mode)
    if after_attrs != attrs and f.after_exists:
        attrs = f"{attrs} → {after_attrs}"
    line = f"    {f.path}  {content}  {attrs}  [{f.state}]"
    if f.message:
        line += f"  {f.message}"
    return line


def _service_line(s: ServiceRecord) -> str:
    start, end = parse_timestamp(s.started_at), parse_timestamp(s.finished_at)
    took = _duration((end - start).total_seconds()) if start and end else "-"
    outcome = s.outcome or "unfinished"
    line = f"    {s.component} {s.action}" + (f" ({s.reason})" if s.reason else "") + f" → {outcome}  {took}"
    return line + (f"  {s.message}" if s.message else "")


def _host_line(h: HostRecord) -> str:
    batch = f"batch {h.batch}" if h.batch is not None else "no batch"
    line = f"  {h.host}" + (f" ({h.address})" if h.address else "") + f"  {batch}  {h.status}"
    if h.category:
        line += f" ({h.category})"
    return line + (f": {h.message}" if h.message else "")


def render_run_detail(journal: Journal, run_id: str) -> str:
    """Everything the journal knows about one run (id or unique prefix), as plain text."""
    run = journal.run(run_id)
    hosts, files, services = journal.hosts(run.id), journal.files(run.id), journal.services(run.id)
    lines = [f"run {run.id}  {run.kind}  {run.status}"]
    if run.playbook:
        lines.append(f"  playbook:   {run.playbook}")
    lines.append(f"  inventory:  {run.inventory}" + (f"  (limit {run.limit})" if run.limit else ""))
    lines.append(f"  by:         {run.user}@{run.control_host}  (fixer {run.fixer_version})")
    lines.append(f"  started:    {_when(run.started_at)} UTC  finished: {_when(run.finished_at)}"
                 f"  ({_duration(run.duration_s)})")
    lines.append(f"  command:    {' '.join(run.argv)}")
    if run.rolls_back:
        lines.append(f"  rolls back: {run.rolls_back}")
    for rb in journal.rollbacks_of(run.id):
        lines.append(f"  rolled back by: {rb.id} ({rb.status})")
    if run.summary:
        lines.append("  summary:    " + ", ".join(f"{k}={v}" for k, v in run.summary.items()))
    lines.append("")
    lines.append(f"hosts ({_counts(run.host_counts)}):")
    lines.extend(_host_line(h) for h in hosts)
    for name in dict.fromkeys([h.host for h in hosts] + [f.host for f in files] + [s.host for s in services]):
        host_files = [f for f in files if f.host == name]
        host_services = [s for s in services if s.host == name]
        if not host_files and not host_services:
            continue
        lines.append("")
        lines.append(f"{name}:")
        if host_files:
            lines.append("  files:")
            lines.extend(_file_line(f) for f in host_files)
        if host_services:
            lines.append("  services:")
            lines.extend(_service_line(s) for s in host_services)
    events = journal.events(run.id)
    if events:
        lines.append("")
        lines.append("events:")
        for e in events:
            when = _when(e.at)[11:]
            lines.append(f"  {when} " + (f"{e.host} " if e.host else "") + f"{e.kind}: {e.message}")
    return "\n".join(lines)


def _record_dict(record: Any) -> dict[str, Any]:
    data: dict[str, Any] = dataclasses.asdict(record)
    for key, value in list(data.items()):
        if key.endswith("mode") and isinstance(value, int):
            data[key] = f"{value:04o}"  # octal text, as in the check report
        elif isinstance(value, tuple):
            data[key] = list(value)
    return data


def run_summary_dict(run: RunRecord) -> dict[str, Any]:
    data = _record_dict(run)
    data["summary"] = dict(run.summary)
    data["host_counts"] = dict(run.host_counts)
    data["duration_s"] = run.duration_s
    return data


def runs_to_list(runs: list[RunRecord]) -> list[dict[str, Any]]:
    """`fixer runs --format json`."""
    return [run_summary_dict(r) for r in runs]


def run_to_dict(journal: Journal, run_id: str) -> dict[str, Any]:
    """`fixer runs show RUN_ID --format json`: the run and all its records (no file contents: blob shas)."""
    run = journal.run(run_id)
    files = []
    for f in journal.files(run.id):
        data = _record_dict(f)
        for key in ("write_uncertain", "chain"):
            data.pop(key)
        files.append(data)
    return {
        "run": run_summary_dict(run),
        "rolled_back_by": [r.id for r in journal.rollbacks_of(run.id)],
        "hosts": [_record_dict(h) for h in journal.hosts(run.id)],
        "files": files,
        "services": [_record_dict(s) for s in journal.services(run.id)],
        "events": [_record_dict(e) for e in journal.events(run.id)],
    }
