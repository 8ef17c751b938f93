"""Remote primitives of `fixer apply`: read, lock, compare-and-swap write, service actions, verifications.

Each call is one POSIX sh script on stdin (one exec), framed like the fact scripts (fixer.facts.gather).
Values reach the shell through shlex.quote; contents travel as base64 in a quoted heredoc (data, never
code). The body is a function called on the last line: a script cut off in transit runs nothing.
Writes, per file in order, stopping at the first refusal or failure: temp file in the same directory,
owner/mode, fsync, compare-and-swap on the sha256 the plan saw, rename, directory fsync. A target that
already holds the planned bytes is `unchanged` (owner/mode still set). The lock is a directory (mkdir is
atomic) with an `info` file: `<apigee_root>/var/run/fixer.lock` unless host var `fixer_lock_dir` says.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import posixpath
import re
import secrets
import shlex
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Protocol

from fixer.errors import ApplyError, CommandTimeoutError, LockedError, ParseError
from fixer.facts.gather import Section, new_boundary, script_prelude, split_sections
from fixer.facts.properties import parse_properties, parse_stat
from fixer.inventory.model import Host
from fixer.plan.model import FileChange, FileState, ServiceAction, Verify
from fixer.transport.ssh import CommandResult, ConnectOptions

ACTION_TIMEOUT_S = 900.0  # bound of `apigee-service <component> <action>` itself (readiness has its own)
SLACK_S = 30.0  # added to a remote bound for the exec that carries it
READY_ACTIONS = ("start", "restart")
WRITE_STATUSES = ("written", "unchanged", "changed-since-plan", "failed", "not-attempted")
q = shlex.quote


class Runner(Protocol):
    """What the primitives need of a connection; `fixer.transport.ssh.Session` is one."""

    host: Host
    options: ConnectOptions

    def run_script(self, script: str, become: bool | None = None) -> CommandResult: ...


@dataclass(frozen=True)
class WriteResult:
    path: str
    status: str  # one of WRITE_STATUSES
    message: str = ""  # why (changed-since-plan, failed), or what was done
    sha_after: str | None = None  # sha256 on disk after the attempt; None when absent or unknown

    @property
    def ok(self) -> bool:
        return self.status in ("written", "unchanged")


@dataclass(frozen=True)
class ServiceResult:
    component: str
    action: str
    outcome: str  # ok | failed | readiness-timeout
    message: str
    output: str = ""  # tail of what the action and the readiness gate printed
    rc: int | None = None  # exit status of the action command
    duration_s: float = 0.0


@dataclass(frozen=True)
class VerifyResult:
    name: str
    kind: str
    ok: bool
    message: str
    actual: str | None = None  # the value found (properties), the match (file_contains)


def default_lock_dir(host: Host) -> str:
    """`fixer_lock_dir`, else `<apigee_root>/var/run/fixer.lock` (var/run exists on every Apigee node)."""
    explicit = host.vars.get("fixer_lock_dir")
    return str(explicit) if explicit else posixpath.join(host.apigee_root, "var/run/fixer.lock")


def wrap(boundary: str, body: str, functions: str = "") -> str:
    """Prelude + helper functions + `fixer_main` (stderr merged into the sections, stdin /dev/null)."""
    return f"{script_prelude(boundary)}{functions}\nfixer_main() {{\nexec 2>&1\n{body}\n}}\nfixer_main </dev/null\n"


@contextmanager
def _command_timeout(session: Runner, seconds: float | None) -> Iterator[None]:
    """Let one exec run longer than the session's command timeout (restarts, readiness gates)."""
    old = session.options
    if seconds is not None and seconds > old.command_timeout:
        session.options = replace(old, command_timeout=seconds)
    try:
        yield
    finally:
        session.options = old


def _exec(session: Runner, body: str, what: str, functions: str = "",
          timeout: float | None = None) -> tuple[dict[str, Section], CommandResult]:
    boundary = new_boundary()
    with _command_timeout(session, timeout):
        result = session.run_script(wrap(boundary, body, functions))
    try:
        sections = split_sections(result.stdout.decode("utf-8", errors="replace"), boundary)
    except ParseError as exc:
        raise ApplyError(f"{what}: {exc}{_stderr(result)}") from exc
    return {s.name: s for s in sections}, result


def _stderr(result: CommandResult) -> str:
    text = _one_line(_tail(result.stderr.decode("utf-8", errors="replace"), 3))
    return f" (exit {result.exit_status}{': ' + text if text else ''})"


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _one_line(text: str) -> str:
    return " / ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def _first(section: Section | None) -> tuple[str, str]:
    """First line of a section's body, and the rest on one line."""
    first, _, rest = (section.body.strip() if section is not None else "").partition("\n")
    return first, _one_line(rest)


def _check_path(*paths: str) -> None:
    for path in paths:
        if not path.startswith("/") or path.endswith("/") or "\0" in path:
            raise ApplyError(f"not an absolute file path: {path!r}")


_READ_ONE = """p={path}; begin stat.{i}; stat -L -c '%U %G %a %u %g' -- "$p"; rc=$?; end $rc
[ $rc -ne 0 ] || {{ begin data.{i}; base64 < "$p"; end $?; }}
"""


def _read_body(paths: Sequence[str]) -> str:
    _check_path(*paths)
    return "".join(_READ_ONE.format(i=i, path=q(p)) for i, p in enumerate(paths))


def _read_one(sections: dict[str, Section], i: int, path: str) -> FileState:
    stat, data = sections.get(f"stat.{i}"), sections.get(f"data.{i}")
    if stat is None or stat.rc is None:
        raise ApplyError(f"cannot read {path}: no complete answer from the node")
    if stat.rc != 0 and "No such file or directory" in stat.body:
        return FileState(exists=False)
    if stat.rc != 0:
        raise ApplyError(f"cannot read {path}: {_one_line(stat.body)}")
    if data is None or data.rc != 0:
        raise ApplyError(f"cannot read {path}: {_one_line(data.body) if data else 'no content returned'}")
    try:
        st = parse_stat(stat.body)
        content = base64.b64decode("".join(data.body.split()), validate=True)
    except (ParseError, binascii.Error, ValueError) as exc:
        raise ApplyError(f"cannot read {path}: unexpected answer from the node ({exc})") from exc
    return FileState(True, content, st.owner, st.group, st.mode)


def read_files(session: Runner, paths: Sequence[str]) -> dict[str, FileState]:
    """Owner, group, mode and exact bytes of each path in one exec; absent -> FileState(exists=False).

    Raises ApplyError naming the path when one cannot be read (permission denied, not a file).
    """
    unique = list(dict.fromkeys(paths))
    if not unique:
        return {}
    sections, _ = _exec(session, _read_body(unique), "read")
    return {path: _read_one(sections, i, path) for i, path in enumerate(unique)}


_LOCK = """L={lock}; now=$(date +%s)
if err=$(mkdir -- "$L" 2>&1); then
  if printf '%s\\n' {info} "time=$now" > "$L/info.tmp" && mv -f -- "$L/info.tmp" "$L/info"; then
    begin lock; echo acquired; end 0
  else rm -f -- "$L/info.tmp"; rmdir -- "$L"; begin lock; echo error; echo "cannot write $L/info"; end 1; fi
elif [ -d "$L" ]; then
  n=0  # a fresh lock may not have its info yet
  while [ ! -f "$L/info" ] && [ $n -lt 20 ]; do sleep 0.1 2>/dev/null || sleep 1; n=$((n + 1)); done
  begin lock; echo held; end 0
  begin holder; cat -- "$L/info"; end $?; begin now; echo "$now"; end 0
else begin lock; echo error; printf '%s\\n' "$err"; end 1; fi
"""

_RELEASE = """L={lock}; R={run_id}; err=; holder=
if [ ! -d "$L" ]; then res=absent
else
  [ ! -f "$L/info" ] || while IFS= read -r line; do case $line in run_id=*) holder=${{line#run_id=}};; esac
  done < "$L/info"
  if [ "$holder" != "$R" ]; then res=other
  elif err=$(rm -f -- "$L/info" "$L/info.tmp" 2>&1 && rmdir -- "$L" 2>&1); then res=released
  else res=error; fi
fi
begin release; echo "$res"; [ -z "$err" ] || printf '%s\\n' "$err"; end 0
"""


def acquire_lock(session: Runner, run_id: str, lock_dir: str | None = None) -> None:
    """Take the host's lock (mkdir, atomic); re-entrant for the same run id.

    Held by another run -> LockedError naming its run id, control host, pid and age. The lock directory's
    parent must exist (it is never created: a root-owned directory in apigee's tree would break it).
    """
    lock = lock_dir or default_lock_dir(session.host)
    _check_path(lock)
    user = session.host.become_user if session.host.become else session.host.user or "?"
    info = " ".join(q(f"{key}={' '.join(str(value).split())}") for key, value in (
        ("run_id", run_id), ("control_host", socket.gethostname()), ("pid", os.getpid()), ("user", user)))
    sections, result = _exec(session, _LOCK.format(lock=q(lock), info=info), "lock")
    state, detail = _first(sections.get("lock"))
    if state == "acquired":
        return
    if state != "held":
        raise ApplyError(f"cannot take the lock {lock}: {detail or _stderr(result)} (fixer_lock_dir sets "
                         "another directory, whose parent the become user can write)")
    holder, now = sections.get("holder"), sections.get("now")
    fields = {k: v for k, _, v in (line.partition("=") for line in (holder.body if holder else "").splitlines())}
    if fields.get("run_id") == " ".join(run_id.split()):  # as written into info
        return
    age = ""
    if now is not None and now.body.strip().isdigit() and fields.get("time", "").isdigit():
        age = f", for {int(now.body.strip()) - int(fields['time'])}s"
    raise LockedError(
        f"{session.host.name} is locked by run {fields.get('run_id', '?')} (control host "
        f"{fields.get('control_host', '?')}, pid {fields.get('pid', '?')}{age}): {lock}; wait for that run, "
        f"or if it is dead remove the lock on the node (rm -r {q(lock)})"
    )


def release_lock(session: Runner, run_id: str, lock_dir: str | None = None) -> bool:
    """Remove the lock only if this run holds it. True when released, False when absent or another's."""
    lock = lock_dir or default_lock_dir(session.host)
    _check_path(lock)
    sections, result = _exec(session, _RELEASE.format(lock=q(lock), run_id=q(" ".join(run_id.split()))), "unlock")
    state, detail = _first(sections.get("release"))
    if state in ("released", "absent", "other"):
        return state == "released"
    raise ApplyError(f"cannot release the lock {lock}: {detail or _stderr(result)}")


_WRITE_FUNCTIONS = r"""
tmp=; stop=
trap '[ -z "$tmp" ] || rm -f -- "$tmp"' EXIT; trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
trap 'exit 141' PIPE
cursha() {  # sha256 of $1, or "absent"; fails when its directory $2 cannot be searched
  if [ -e "$1" ] || [ -L "$1" ]; then s=$(sha256sum < "$1") || return 1; printf '%s' "${s%% *}"
  elif [ -d "$2" ] && [ -x "$2" ]; then printf absent
  else echo "directory missing or not accessible" >&2; return 1; fi
}
attrs_ok() {
  a=$(stat -c '%U %G %a %u %g' -- "$1") || return 2
  set -- $a
  { [ -z "$own" ] || [ "$own" = "$1" ] || [ "$own" = "$4" ]; } &&
    { [ -z "$grp" ] || [ "$grp" = "$2" ] || [ "$grp" = "$5" ]; } && { [ -z "$mode" ] || [ "$mode" = "$3" ]; }
}
setattrs() {
  if [ -n "$own$grp" ]; then chown -- "$own${grp:+:$grp}" "$1" || return 1; fi
  if [ -n "$mode" ]; then chmod -- "$mode" "$1" || return 1; fi
}
syncdir() { sync -- "$d" 2>/dev/null || sync; }
swap_ok() {
  cur=$(cursha "$t" "$d") || { why="cannot read the current file"; return 1; }
  [ "$cur" = "$expect" ] || { st=changed-since-plan; why="changed since the plan was made: refused"; return 1; }
}
one() {
  if [ -L "$t" ]; then why="is a symbolic link (fixer replaces regular files only)"; return 1; fi
  if [ -e "$t" ] && [ ! -f "$t" ]; then why="is not a regular file"; return 1; fi
  cur=$(cursha "$t" "$d") || { why="cannot read the current file"; return 1; }
  if [ "$cur" = "$want" ]; then
    if [ "$want" = absent ] || attrs_ok "$t"; then st=unchanged; return 0; fi
    setattrs "$t" || { why="cannot set owner/mode"; return 1; }
    st=written; why="owner/mode set"; return 0
  fi
  swap_ok || return 1
  if [ "$want" = absent ]; then
    rm -f -- "$t" || { why="cannot remove the file"; return 1; }
    syncdir; st=written; why="removed"; return 0
  fi
  tmp=$(mktemp -- "$d/.fixer.XXXXXX") || { tmp=; why="cannot create a temporary file in the directory"; return 1; }
  put || { why="cannot write the temporary file"; return 1; }
  s=$(sha256sum < "$tmp") || { why="cannot read back the temporary file"; return 1; }
  [ "${s%% *}" = "$want" ] || { why="the temporary file does not hold the planned bytes"; return 1; }
  setattrs "$tmp" || { why="cannot set owner/mode"; return 1; }
  sync -- "$tmp" 2>/dev/null || sync
  swap_ok || return 1
  mv -f -- "$tmp" "$t" || { why="cannot rename the temporary file into place"; return 1; }
  tmp=; syncdir; st=written; why="replaced"
}
step() {  # one file, framed: log.N (what commands said), res.N (status, sha256 on disk, why)
  [ -z "$stop" ] || return 0
  st=failed; why=
  begin log.$1; one; rc=$?
  if [ -n "$tmp" ]; then rm -f -- "$tmp"; tmp=; fi
  end $rc
  [ $rc -eq 0 ] || stop=1
  now=$(cursha "$t" "$d" 2>/dev/null) || now=unknown
  begin res.$1; printf '%s\n%s\n%s' "$st" "$now" "$why"; end 0
}
"""


def _write_block(i: int, change: FileChange) -> str:
    """Shell variables of one change, its `put` (the new bytes as base64 in a quoted heredoc), `step i`."""
    _check_path(change.path)
    before, after = change.before, change.after
    owner = group = mode = ""
    if after.exists:  # unset owner/group keep the file's; a new file without a mode gets 0644
        owner, group = after.owner or before.owner or "", after.group or before.group or ""
        bits = after.mode if after.mode is not None else before.mode if before.mode is not None else 0o644
        if not 0 <= bits <= 0o7777:
            raise ApplyError(f"{change.path}: not a file mode: {bits:o}")
        mode = f"{bits:o}"
    values = {"t": change.path, "d": posixpath.dirname(change.path) or "/", "expect": before.sha256 or "absent",
              "want": after.sha256 or "absent", "own": owner, "grp": group, "mode": mode}
    put = 'put() { echo "no content in the plan" >&2; return 1; }\n'
    if after.exists and (not before.exists or before.content != after.content):
        delim = f"FIXER_EOF_{secrets.token_hex(8)}"  # `_` never occurs in base64
        put = f"put() {{\nbase64 -d > \"$tmp\" <<'{delim}'\n{base64.encodebytes(after.content).decode()}{delim}\n}}\n"
    return "; ".join(f"{k}={q(v)}" for k, v in values.items()) + f"\n{put}step {i}\n"


def write_files(session: Runner, changes: Sequence[FileChange]) -> list[WriteResult]:
    """All changes of a host in one exec, in order, stopping at the first refusal or failure. Each gets
    `written`, `unchanged`, `changed-since-plan`, `failed` (original untouched, no temp left) or `not-attempted`."""
    if not changes:
        return []
    body = "".join(_write_block(i, c) for i, c in enumerate(changes))
    sections, result = _exec(session, body, "write", _WRITE_FUNCTIONS)
    if not sections and result.exit_status != 0:
        raise ApplyError(f"the write script did not run{_stderr(result)}")
    results: list[WriteResult] = []
    for i, change in enumerate(changes):
        res, log = sections.get(f"res.{i}"), sections.get(f"log.{i}")
        if res is None or res.rc is None:
            results.append(WriteResult(change.path, "not-attempted", "not attempted: an earlier file stopped")
                           if log is None else
                           WriteResult(change.path, "failed", "interrupted: state unknown, re-read the file"))
            continue
        status, sha, why = [*res.body.split("\n", 2), "", ""][:3]
        if status not in WRITE_STATUSES:
            raise ApplyError(f"{change.path}: unexpected write status {status!r}")
        said, message = _one_line(log.body) if log is not None else "", why
        if status == "changed-since-plan":
            message = f"{why} (sha256 on disk {sha}, the plan saw {change.before.sha256 or 'no file'})"
        elif status == "failed" and said:
            message = f"{why}: {said}"
        results.append(WriteResult(change.path, status, message, None if sha in ("absent", "unknown") else sha))
    return results


_BOUNDED = """bounded() {  # bounded SECONDS CMD...: CMD, killed after SECONDS where timeout(1) exists
  s=$1; shift; if command -v timeout >/dev/null 2>&1; then timeout -k 5 "$s" "$@"; else "$@"; fi
}
"""
_PY_GET = ("import sys,urllib.request as u;"
           "sys.stdout.write(u.urlopen(sys.argv[1],timeout=float(sys.argv[2])).read().decode(errors='replace'))")
_READY = """C={command}; N={component}; T={limit}; P={port}; W={wait}
end_at=$(( $(date +%s) + T + 1 ))  # whole seconds: never shorter than T
if [ -n "$W" ]; then
  begin wait; bounded "$T" "$C" "$N" wait_for_ready; rc=$?; end $rc
  [ $rc -eq 0 ] || return 0
fi
[ -n "$P" ] || return 0
url="http://localhost:$P/v1/servers/self/up"
if command -v curl >/dev/null 2>&1; then get() {{ curl -s -m "$1" "$url"; }}
elif command -v wget >/dev/null 2>&1; then get() {{ wget -q -O - -T "$1" "$url"; }}
elif command -v python3 >/dev/null 2>&1; then get() {{ python3 -c {py} "$url" "$1"; }}
else begin up; echo "no curl, wget or python3 on the node to GET $url"; end 127; return 0; fi
begin up; ok=1; body=
while :; do
  left=$(( end_at - $(date +%s) )); [ $left -ge 1 ] || left=1; [ $left -le 5 ] || left=5
  body=$(get "$left" 2>/dev/null | tr -d ' \\t\\r\\n')
  if [ "$body" = true ]; then ok=0; break; fi
  [ "$(date +%s)" -lt "$end_at" ] || break
  sleep 0.2 2>/dev/null || sleep 1
done
printf 'GET %s: %s\\n' "$url" "${{body:-no answer}}"; end $ok
"""


def run_service(session: Runner, action: ServiceAction, action_timeout_s: float = ACTION_TIMEOUT_S) -> ServiceResult:
    """`<command> <component> <action>`, then (start/restart) the readiness gate of `action.readiness`.

    Two execs (action, gate) so that each has its own bound. Never raises for a failed action or
    readiness: the outcome says it; a gate out of time, even as an exec timeout, is `readiness-timeout`.
    A lost connection still raises.
    """
    started, what = time.monotonic(), f"{action.component} {action.action}"

    def done(outcome: str, message: str, output: str = "", rc: int | None = None) -> ServiceResult:
        took = round(time.monotonic() - started, 3)
        return ServiceResult(action.component, action.action, outcome, message, _tail(output), rc, took)

    limit = max(1, math.ceil(action_timeout_s))
    body = f"begin action; bounded {limit} {q(action.command)} {q(action.component)} {q(action.action)}; end $?\n"
    try:
        sections, result = _exec(session, body, what, _BOUNDED, timeout=limit + SLACK_S)
    except CommandTimeoutError:
        return done("failed", f"{what} did not finish within {limit}s")
    run = sections.get("action")
    rc = run.rc if run is not None else None
    output = run.body if run is not None else result.stdout.decode("utf-8", errors="replace")
    if rc != 0:
        why = f"timed out after {limit}s" if rc == 124 else f"exit status {rc if rc is not None else '?'}"
        last = _tail(output, 1)
        return done("failed", f"{what} failed ({why}){': ' + last if last else ''}", output, rc)
    ready = action.readiness
    if action.action not in READY_ACTIONS or (not ready.wait_for_ready and ready.port is None):
        return done("ok", f"{what} done", output, rc)
    gate = max(1, math.ceil(ready.timeout_s))
    body = _READY.format(command=q(action.command), component=q(action.component), limit=gate,
                         port=q(str(ready.port or "")), wait="1" if ready.wait_for_ready else "''", py=q(_PY_GET))
    try:
        sections, result = _exec(session, body, f"{what} readiness", _BOUNDED, timeout=gate + SLACK_S)
    except CommandTimeoutError:
        return done("readiness-timeout", f"not ready within {gate}s (no answer from the node)", output, rc)
    for name, step in (("wait", "wait_for_ready"), ("up", f"GET http://localhost:{ready.port}/v1/servers/self/up")):
        section = sections.get(name)
        if section is None:
            continue
        output, last = f"{output}\n{section.body}", _tail(section.body, 1)
        if section.rc == 127:
            return done("failed", f"readiness check cannot run: {last}", output, rc)
        if section.rc != 0:
            return done("readiness-timeout", f"{step}: not ready within {gate}s{': ' + last if last else ''}",
                        output, rc)
    return done("ok", f"{what} done, ready", output, rc)


_NGINX_T = """nginx_t() {
  for n in /opt/nginx/sbin/nginx "$(command -v nginx 2>/dev/null)"; do [ -x "$n" ] && { "$n" -t "$@"; return; }; done
  echo "nginx not found (/opt/nginx/sbin/nginx, PATH)"; return 127
}
"""


def run_verifies(session: Runner, verifies: Sequence[Verify]) -> list[VerifyResult]:
    """Every post-condition in one exec. properties/file_contains read the file and decide here;
    nginx_test runs `nginx -t` (with `-c <path>` when the verify has a path) on the node."""
    if not verifies:
        return []
    paths = list(dict.fromkeys(v.path for v in verifies if v.kind in ("properties", "file_contains") and v.path))
    body = _read_body(paths) + "".join(
        f"begin nginx.{i}; nginx_t{' -c ' + q(v.path) if v.path else ''}; end $?\n"
        for i, v in enumerate(verifies) if v.kind == "nginx_test")
    sections, _ = _exec(session, body, "verify", _NGINX_T)
    texts: dict[str, str | ApplyError] = {}
    for i, path in enumerate(paths):
        try:
            state = _read_one(sections, i, path)
            texts[path] = state.content.decode("utf-8", errors="replace") if state.exists else ApplyError(
                f"{path} does not exist")
        except ApplyError as exc:
            texts[path] = exc
    return [_verdict(v, sections.get(f"nginx.{i}"), texts) for i, v in enumerate(verifies)]


def _verdict(v: Verify, nginx: Section | None, texts: dict[str, str | ApplyError]) -> VerifyResult:
    def result(ok: bool, message: str, actual: str | None = None) -> VerifyResult:
        return VerifyResult(v.name, v.kind, ok, message, actual)

    if v.kind == "nginx_test":
        if nginx is None:
            return result(False, "nginx -t: no answer from the node")
        said = _one_line(_tail(nginx.body, 3))
        return result(nginx.rc == 0, f"nginx -t {'passed' if nginx.rc == 0 else 'failed'}: {said}")
    if v.kind not in ("properties", "file_contains") or not v.path:
        return result(False, f"unknown verify kind {v.kind!r}" if v.path else f"{v.kind} needs a path")
    text = texts[v.path]
    if isinstance(text, ApplyError):
        return result(False, str(text))
    if v.kind == "file_contains":
        try:
            match = re.search(v.pattern or "", text, re.MULTILINE)
        except re.error as exc:
            return result(False, f"bad pattern {v.pattern!r}: {exc}")
        if match is None:
            return result(False, f"no match for /{v.pattern}/ in {v.path}")
        return result(True, f"{v.path} matches /{v.pattern}/", match.group(0))
    try:
        found = [e.value for e in parse_properties(text) if e.key == v.key]
    except ParseError as exc:
        return result(False, f"cannot parse {v.path}: {exc}")
    actual = found[-1] if found else None  # the last one wins, as in java.util.Properties
    shown = f"{v.key}={actual} in {v.path}" if actual is not None else f"{v.key} not set in {v.path}"
    return result(actual == v.value, shown + ("" if actual == v.value else f" (want {v.value})"), actual)
