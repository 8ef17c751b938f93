"""Text and JSON renderings of an apply or rollback run (diffs always redacted)."""

from __future__ import annotations

import json
from typing import Any

from fixer.apply.command import RunReport
from fixer.apply.runner import PlannedHost, PlayResult
from fixer.plan.diff import render_diff

EXIT_MEANING = {
    "apply": {
        0: "done",
        1: "a host failed or was refused (its batch was restored)",
        3: "a host could not be reached or planned (nothing changed there)",
    },
    "rollback": {
        0: "done",
        1: "a host could not be restored or was refused (see above)",
        3: "a host could not be reached (nothing changed there)",
    },
}


def _host_status(play: PlayResult, planned: PlannedHost, check: bool) -> str:
    if planned.plan is None:
        return planned.category or "error"
    if planned.host.name in play.outcomes:
        return play.outcomes[planned.host.name].status
    if check:
        return "would change" if planned.plan.changed else "unchanged"
    return "not attempted"


def render_text(report: RunReport) -> str:
    out: list[str] = []
    title = "dry run (--check): nothing was changed" if report.check else f"run {report.run_id}"
    out.append(f"fixer {report.kind}: {title}")
    for play in report.plays:
        out.append("")
        out.append(f"PLAY [{play.play}]")
        for number, names in enumerate(play.batches, start=1):
            out.append(f"  batch {number}: {', '.join(names)}")
        for planned in play.planned:
            status = _host_status(play, planned, report.check)
            outcome = play.outcomes.get(planned.host.name)
            if outcome is not None and outcome.category is not None:
                # a host whose batch was put back failed itself: say so, and why (the category)
                status = f"failed ({outcome.category})" + (f", {status}" if status != "failed" else "")
            line = f"  {planned.host.name:<24} {status}"
            message = outcome.message if outcome is not None and outcome.message else planned.message
            if message:
                line += f": {message}"
            out.append(line)
            if planned.plan is not None and (report.check or outcome is None):
                for change in planned.plan.changes:
                    out.extend("      " + d for d in render_diff(change, planned.host.name).splitlines())
                for action in planned.plan.services:
                    out.append(f"      would run: {action.command} {action.component} {action.action}"
                               f" ({action.reason}), then wait until ready")
                for note in planned.plan.notes:
                    out.append(f"      note: {note}")
        if play.stopped:
            out.append(f"  STOPPED: {play.stopped}")
    for view in report.refused.values():
        out.append("")
        out.extend(view.splitlines())
    out.append("")
    out.append(_summary_line(report))
    return "\n".join(out) + "\n"


def _summary_line(report: RunReport) -> str:
    counts: dict[str, int] = {}
    for play in report.plays:
        for planned in play.planned:
            status = _host_status(play, planned, report.check)
            counts[status] = counts.get(status, 0) + 1
    parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    changed = any(o.written or o.status in ("ok", "restored") for p in report.plays for o in p.outcomes.values())
    undo = f" (undo: fixer rollback {report.run_id} -i INVENTORY)" if changed else " (nothing was changed)"
    run = f"; run id {report.run_id}{undo}" if report.run_id else ""
    code = report.exit_code
    return f"{parts or 'no hosts'}{run}; exit {code}: {EXIT_MEANING[report.kind].get(code, '')}"


def report_to_dict(report: RunReport) -> dict[str, Any]:
    plays = []
    for play in report.plays:
        hosts = []
        for planned in play.planned:
            outcome = play.outcomes.get(planned.host.name)
            plan = planned.plan
            hosts.append({
                "name": planned.host.name,
                "address": planned.host.address,
                "status": _host_status(play, planned, report.check),
                "category": outcome.category if outcome else planned.category,
                "message": outcome.message if outcome else planned.message,
                "changes": [
                    {"path": c.path, "before_sha256": c.before.sha256, "after_sha256": c.after.sha256,
                     "owner": c.after.owner, "group": c.after.group, "mode": c.after.mode_text or None,
                     "tasks": list(c.tasks), "diff": render_diff(c, planned.host.name)}
                    for c in (plan.changes if plan else ())
                ],
                "services": [
                    {"component": a.component, "action": a.action, "reason": a.reason}
                    for a in (plan.services if plan else ())
                ],
                "notes": list(plan.notes) if plan else [],
            })
        plays.append({"name": play.play, "batches": play.batches, "stopped": play.stopped, "hosts": hosts})
    return {
        "kind": report.kind,
        "check": report.check,
        "run_id": report.run_id,
        "plays": plays,
        "refused": report.refused,
        "exit_code": report.exit_code,
    }


def render_json(report: RunReport) -> str:
    return json.dumps(report_to_dict(report), indent=2) + "\n"
