"""Unified diffs of planned file changes, with secrets redacted.

`render_diff(change, host)` gives a `difflib` unified diff headed `--- host:path (before)` /
`+++ host:path (after)`, preceded by `# new file`, `# file removed`, `# owner a:b -> c:d`,
`# mode 0600 -> 0644` lines as they apply. Content that is not UTF-8 text gets a one-line note.

Redaction: in every `key=value`, `key: value` or `key value` line (also commented out, and the
continuation lines of such a value) whose key looks secret (`fixer.report.json_report.is_secret_key`:
password, passwd, passphrase, secret, private, credential, api key, a bare `pass` segment) the value
is replaced by `********` on both sides, so a changed secret still shows as a changed line.
"""

from __future__ import annotations

import difflib
import re

from fixer.modules.propedit import split_lines
from fixer.plan.model import FileChange, FileState, HostPlan
from fixer.report.json_report import REDACTED, is_secret_key

_ASSIGNMENT = re.compile(
    r"(?P<head>[ \t\f]*(?:[#!][ \t\f]*)?(?P<key>(?:\\.|[^\s=:\\])+)(?:[ \t\f]*[=:][ \t\f]*|[ \t\f]+))(?P<value>.*)",
    re.DOTALL,
)
NO_NEWLINE = "\\ No newline at end of file\n"


def _odd_backslashes(text: str) -> bool:
    stripped = text.rstrip("\r\n")
    return (len(stripped) - len(stripped.rstrip("\\"))) % 2 == 1


class _Redactor:
    """Redacts one side's lines; remembers when a secret value continues on the next line."""

    def __init__(self) -> None:
        self.continuing = False

    def __call__(self, line: str) -> str:
        """The line as shown."""
        ending = line[len(line.rstrip("\r\n")):]
        if self.continuing:
            self.continuing = _odd_backslashes(line)
            return REDACTED + ending
        match = _ASSIGNMENT.fullmatch(line.rstrip("\r\n"))
        if match is None or not match["value"] or not is_secret_key(match["key"]):
            return line
        self.continuing = _odd_backslashes(line)
        return match["head"] + REDACTED + ending


def _attrs(before: FileState, after: FileState) -> list[str]:
    out = []
    if not before.exists and after.exists:
        made = [f"owner {after.owner or '?'}:{after.group or '?'}" if after.owner or after.group else "",
                f"mode {after.mode_text}" if after.mode is not None else ""]
        extra = ", ".join(m for m in made if m)
        out.append(f"# new file{f' ({extra})' if extra else ''}\n")
        return out
    if before.exists and not after.exists:
        return ["# file removed\n"]
    if not after.exists:
        return out
    old_owner = f"{before.owner or '?'}:{before.group or '?'}"
    new_owner = f"{after.owner or before.owner or '?'}:{after.group or before.group or '?'}"
    if old_owner != new_owner:
        out.append(f"# owner {old_owner} -> {new_owner}\n")
    if after.mode is not None and after.mode != before.mode:
        out.append(f"# mode {before.mode_text or '?'} -> {after.mode_text}\n")
    return out


def _text(state: FileState) -> str | None:
    if not state.exists:
        return ""
    try:
        return state.content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def render_diff(change: FileChange, host: str, labels: tuple[str, str] = ("before", "after")) -> str:
    """The change as an operator reviews it (see the module doc); "" when nothing changes.

    `labels` name the two sides in the ---/+++ lines (a rollback's drift view compares other versions).
    """
    before, after = change.before, change.after
    out = _attrs(before, after)
    if change.content_changed:
        old, new = _text(before), _text(after)
        if old is None or new is None:
            out.append(f"# {host}:{change.path}: binary or non-UTF-8 content, {len(before.content)} -> "
                       f"{len(after.content)} bytes (sha256 {(before.sha256 or 'absent')[:12]} -> "
                       f"{(after.sha256 or 'absent')[:12]})\n")
        else:
            out.extend(_unified(old, new, f"{host}:{change.path}", labels))
    return "".join(out)


def _unified(old: str, new: str, name: str, labels: tuple[str, str]) -> list[str]:
    lines = difflib.unified_diff(
        [c + e for c, e in split_lines(old)], [c + e for c, e in split_lines(new)],
        fromfile=f"{name} ({labels[0]})", tofile=f"{name} ({labels[1]})",
    )
    minus, plus = _Redactor(), _Redactor()
    out = []
    for line in lines:
        if line.startswith(("---", "+++", "@@")):
            out.append(line if line.endswith("\n") else line + "\n")
            continue
        tag, body = line[0], line[1:]
        if tag == "-":
            shown = minus(body)
        elif tag == "+":
            shown = plus(body)
        else:  # context: both sides hold this line (and both must know a secret value goes on)
            old_shown, new_shown = minus(body), plus(body)
            shown = old_shown if old_shown != body else new_shown
        out.append(tag + shown)
        if not shown.endswith(("\n", "\r")):
            out.append("\n" + NO_NEWLINE)
    return out


def render_plan(plan: HostPlan) -> str:
    """A host's whole plan as text: each changed file's diff, then services, verifies and notes."""
    out = [render_diff(change, plan.host) for change in plan.changes]
    for action in plan.services:
        ready = action.readiness
        gates = [g for g in (
            "wait_for_ready" if ready.wait_for_ready else "",
            f"GET http://localhost:{ready.port}/v1/servers/self/up" if ready.port else "",
        ) if g]
        out.append(f"# {plan.host}: {action.command} {action.component} {action.action}"
                   f"{' then ' + ' and '.join(gates) if gates else ''} (timeout {ready.timeout_s:g}s)"
                   f"{' [' + action.reason + ']' if action.reason else ''}\n")
    for verify in plan.verifies:
        what = {
            "properties": f"{verify.path} holds {verify.key}={verify.value}" if verify.value is not None
            else f"{verify.path} has no {verify.key}",
            "nginx_test": "nginx -t passes" + (f" (-c {verify.path})" if verify.path else ""),
            "file_contains": f"{verify.path} matches /{verify.pattern}/",
        }.get(verify.kind, verify.kind)
        out.append(f"# {plan.host}: verify: {what} [{verify.name}]\n")
    out.extend(f"# {plan.host}: note: {note}\n" for note in plan.notes)
    return "".join(out)
