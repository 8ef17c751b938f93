"""The remote primitives of `fixer apply`, run by a local POSIX sh (no SSH): scripts, quoting, parsers.

`LocalRunner` stands in for a Session: it feeds each script to `sh -s` on this machine (optionally as
user nobody, to see permission errors), so the real scripts run against a temporary directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fixer.apply.remote import (
    WriteResult,
    acquire_lock,
    default_lock_dir,
    read_files,
    release_lock,
    run_service,
    run_verifies,
    write_files,
)
from fixer.errors import ApplyError, CommandTimeoutError, LockedError
from fixer.inventory.model import Host
from fixer.plan.model import FileChange, FileState, Readiness, ServiceAction, Verify
from fixer.transport.ssh import CommandResult, ConnectOptions

NOBODY = 65534
HOSTILE_NAMES = [
    "plain.properties",
    "with space.properties",
    "quote'single\"double.properties",
    "$(touch PWNED).properties",
    "`touch PWNED`.properties",
    "new\nline.properties",
    "-dash.properties",
    "semi;colon&amp|pipe>.properties",
]
HOSTILE_CONTENT = [
    b"conf_system_jsse.enableSNIExtension=true\n",
    b"no trailing newline",
    b"",
    b"value=$(touch /tmp/pwned-fixer)\nother=`touch /tmp/pwned-fixer`\n",
    b"quotes='single' \"double\" \\backslash\\\n",
    bytes(range(256)) * 3,
    b"EOF\nFIXER_EOF_0000\n'\n",
    b"\n\n\r\n",
]


class LocalRunner:
    """A Session look-alike: scripts run in a local `sh -s`, as root or as nobody."""

    def __init__(self, host_vars: dict[str, object] | None = None, as_nobody: bool = False,
                 path: str | None = None) -> None:
        self.host = Host("local", ("all",), dict(host_vars or {}))
        self.options = ConnectOptions(known_hosts=Path("/dev/null"), command_timeout=20.0)
        self.as_nobody = as_nobody
        self.path = path
        self.scripts: list[str] = []

    def run_script(self, script: str, become: bool | None = None) -> CommandResult:
        self.scripts.append(script)
        argv = ["sh", "-s"]
        if self.as_nobody:
            argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]
        env = {"PATH": self.path or os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/"}
        try:
            proc = subprocess.run(argv, input=script.encode(), capture_output=True, env=env,
                                  timeout=self.options.command_timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise CommandTimeoutError("remote command timed out") from exc
        return CommandResult(proc.stdout, proc.stderr, proc.returncode)


class Recorder(LocalRunner):
    """Records scripts and answers nothing (for syntax checks of the builders)."""

    def run_script(self, script: str, become: bool | None = None) -> CommandResult:
        self.scripts.append(script)
        return CommandResult(b"", b"", 0)


def state(path: Path) -> FileState:
    if not path.exists():
        return FileState(exists=False)
    st = path.stat()
    return FileState(True, path.read_bytes(), str(st.st_uid), str(st.st_gid), st.st_mode & 0o7777)


def change(path: Path, content: bytes | None, owner: str = "0", group: str = "0", mode: int = 0o644,
           before: FileState | None = None) -> FileChange:
    after = FileState(exists=False) if content is None else FileState(True, content, owner, group, mode)
    return FileChange(str(path), state(path) if before is None else before, after, ("test",))


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".fixer.")]


@pytest.fixture
def run() -> LocalRunner:
    return LocalRunner()


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory that user nobody can reach (pytest's tmp_path sits under a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="fixer-remote-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


# -- script builders: valid sh, hostile values quoted ----------------------------------------------


def _all_scripts(tmp_path: Path) -> list[str]:
    rec = Recorder()
    hostile = [str(tmp_path / name) for name in HOSTILE_NAMES]
    calls: list[Callable[[], object]] = [
        lambda: read_files(rec, hostile),
        lambda: acquire_lock(rec, "run '$(x)`y`", str(tmp_path / "lock $(x)")),
        lambda: release_lock(rec, "run\nid", str(tmp_path / "lock `x`")),
        lambda: write_files(rec, [change(Path(p), c) for p, c in zip(hostile, HOSTILE_CONTENT, strict=True)]),
        lambda: run_service(rec, ServiceAction("edge-router; rm -rf /", "restart", "/opt/a b/apigee-service",
                                                Readiness(port=8081, wait_for_ready=True, timeout_s=3))),
        lambda: run_verifies(rec, [Verify("properties", "p", hostile[3], "k", "v"),
                                   Verify("nginx_test", "n", "/opt/nginx/x'y.conf")]),
    ]
    for call in calls:
        with contextlib.suppress(ApplyError):  # the recorder answers nothing: only the script matters here
            call()
    rec.scripts.append(_readiness_script(rec))
    return rec.scripts


def _readiness_script(rec: Recorder) -> str:
    # the readiness exec only runs after a successful action: answer the action with an ok frame
    class OkAction(Recorder):
        def run_script(self, script: str, become: bool | None = None) -> CommandResult:
            self.scripts.append(script)
            boundary = script.split("B=", 1)[1].split("\n", 1)[0]
            return CommandResult(f"{boundary} START\n\n{boundary} BEGIN action\n\n{boundary} END 0\n".encode(),
                                 b"", 0)

    ok = OkAction()
    run_service(ok, ServiceAction("edge-message-processor", "restart", "/x", Readiness(8082, True, 0.01)))
    assert len(ok.scripts) == 2
    return ok.scripts[1]


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_every_script_is_valid_posix_sh(tmp_path: Path, shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"no {shell}")
    scripts = _all_scripts(tmp_path)
    assert len(scripts) == 7
    for script in scripts:
        argv = [shell, "--posix", "-n"] if shell == "bash" else [shell, "-n"]
        proc = subprocess.run(argv, input=script, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr + script[:2000]


def test_hostile_values_only_appear_quoted(tmp_path: Path) -> None:
    scripts = "".join(_all_scripts(tmp_path))
    assert "rm -rf /" in scripts and "'edge-router; rm -rf /'" in scripts
    for name in HOSTILE_NAMES:
        assert shlex.quote(str(tmp_path / name)) in scripts
    for content in HOSTILE_CONTENT[3:5]:
        assert content.decode() not in scripts  # contents travel as base64 only


def test_relative_paths_are_refused() -> None:
    with pytest.raises(ApplyError, match="absolute"):
        read_files(Recorder(), ["etc/passwd"])
    with pytest.raises(ApplyError, match="absolute"):
        write_files(Recorder(), [FileChange("x", FileState(False), FileState(True, b"x"), ())])


def test_default_lock_dir() -> None:
    assert default_lock_dir(Host("h", ())) == "/opt/apigee/var/run/fixer.lock"
    assert default_lock_dir(Host("h", (), {"apigee_root": "/srv/apigee/"})) == "/srv/apigee/var/run/fixer.lock"
    assert default_lock_dir(Host("h", (), {"fixer_lock_dir": "/run/x.lock"})) == "/run/x.lock"


# -- read_files --------------------------------------------------------------------------------------


def test_read_files_exact_bytes_owner_mode_and_absent(tmp_path: Path, run: LocalRunner) -> None:
    paths = []
    for name, content in zip(HOSTILE_NAMES, HOSTILE_CONTENT, strict=True):
        p = tmp_path / name
        p.write_bytes(content)
        os.chown(p, NOBODY, NOBODY)
        p.chmod(0o640)
        paths.append(str(p))
    missing = str(tmp_path / "missing dir" / "x")
    got = read_files(run, [*paths, missing, paths[0]])
    assert len(run.scripts) == 1  # one exec for all
    for path, content in zip(paths, HOSTILE_CONTENT, strict=True):
        assert got[path] == FileState(True, content, "nobody", "nogroup", 0o640)
    assert got[missing] == FileState(exists=False)
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


def test_read_files_unreadable_names_the_path(open_dir: Path) -> None:
    secret = open_dir / "secret file"
    secret.write_text("a=1\n")
    secret.chmod(0o600)
    assert read_files(LocalRunner(as_nobody=True), [str(open_dir / "absent")])[str(open_dir / "absent")] == (
        FileState(exists=False))
    with pytest.raises(ApplyError, match=r"secret file.*Permission denied"):
        read_files(LocalRunner(as_nobody=True), [str(secret)])


# -- write_files: the core behaviours ----------------------------------------------------------------


def test_replace_is_atomic_byte_exact_and_sets_owner_mode(tmp_path: Path, run: LocalRunner) -> None:
    target = tmp_path / "message-processor.properties"
    target.write_bytes(b"old=1\n")
    other = tmp_path / "other.properties"
    other.write_bytes(b"keep=me\n")
    inode = target.stat().st_ino
    new = b"conf_system_jsse.enableSNIExtension=true\nlast line without newline"
    (result,) = write_files(run, [change(target, new, "nobody", "nogroup", 0o640)])
    assert result == WriteResult(str(target), "written", "replaced", hashlib.sha256(new).hexdigest())
    assert target.read_bytes() == new and other.read_bytes() == b"keep=me\n"
    st = target.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (NOBODY, NOBODY, 0o640)
    assert st.st_ino != inode  # a new inode renamed into place, not an in-place rewrite
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("index", range(len(HOSTILE_NAMES)))
def test_hostile_names_and_contents_are_data(tmp_path: Path, run: LocalRunner, index: int) -> None:
    Path("/tmp/pwned-fixer").unlink(missing_ok=True)
    target = tmp_path / HOSTILE_NAMES[index]
    target.write_bytes(b"before\n")
    content = HOSTILE_CONTENT[index]
    (result,) = write_files(run, [change(target, content, mode=0o600)])
    assert result.status == "written", result
    assert target.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == [HOSTILE_NAMES[index]]
    assert not Path("/tmp/pwned-fixer").exists() and not (tmp_path / "PWNED").exists()


def test_compare_and_swap_refuses_and_stops(tmp_path: Path, run: LocalRunner) -> None:
    first, second, third = (tmp_path / n for n in ("a.properties", "b.properties", "c.properties"))
    for p in (first, second, third):
        p.write_bytes(b"x=1\n")
    changes = [change(p, b"x=2\n") for p in (first, second, third)]
    second.write_bytes(b"x=1\nedited=by hand\n")  # after the plan was made
    results = write_files(run, changes)
    assert [r.status for r in results] == ["written", "changed-since-plan", "not-attempted"]
    assert results[1].sha_after == hashlib.sha256(b"x=1\nedited=by hand\n").hexdigest()
    assert "plan saw" in results[1].message
    assert first.read_bytes() == b"x=2\n"
    assert second.read_bytes() == b"x=1\nedited=by hand\n" and third.read_bytes() == b"x=1\n"
    assert leftovers(tmp_path) == []


def test_created_file_must_still_be_absent(tmp_path: Path, run: LocalRunner) -> None:
    target = tmp_path / "router.properties"
    plan = change(target, b"a=1\n", "nobody", "nogroup", 0o644)
    target.write_bytes(b"someone else\n")
    (result,) = write_files(run, [plan])
    assert result.status == "changed-since-plan" and target.read_bytes() == b"someone else\n"
    target.unlink()
    (result,) = write_files(run, [plan])
    assert result.status == "written" and target.read_bytes() == b"a=1\n"
    assert target.stat().st_uid == NOBODY


def test_remove_a_created_file(tmp_path: Path, run: LocalRunner) -> None:
    target = tmp_path / "created.properties"
    target.write_bytes(b"a=1\n")
    (result,) = write_files(run, [change(target, None)])
    assert (result.status, result.message, result.sha_after) == ("written", "removed", None)
    assert not target.exists()
    (again,) = write_files(run, [change(target, None, before=FileState(True, b"a=1\n"))])
    assert again.status == "unchanged"  # already as planned


def test_attribute_only_change_and_idempotence(tmp_path: Path, run: LocalRunner) -> None:
    target = tmp_path / "message-processor.properties"
    target.write_bytes(b"a=1\n")
    target.chmod(0o600)
    inode = target.stat().st_ino
    plan = change(target, b"a=1\n", "nobody", "nogroup", 0o644)
    (result,) = write_files(run, [plan])
    assert (result.status, result.message) == ("written", "owner/mode set")
    st = target.stat()
    assert (st.st_ino, st.st_uid, st.st_mode & 0o7777) == (inode, NOBODY, 0o644)
    (again,) = write_files(run, [plan])
    assert again.status == "unchanged"


def test_already_as_planned_is_unchanged(tmp_path: Path, run: LocalRunner) -> None:
    target = tmp_path / "x.properties"
    target.write_bytes(b"old\n")
    plan = change(target, b"new\n", "0", "0", 0o644)
    assert write_files(run, [plan])[0].status == "written"
    mtime = target.stat().st_mtime_ns
    assert write_files(run, [plan])[0].status == "unchanged"  # a retry after a lost answer
    assert target.stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    ("setup", "owner", "reason"),
    [
        ("none", "no-such-user-fixer", "cannot set owner/mode"),
        ("missing-dir", "0", "cannot read the current file"),
        ("symlink", "0", "symbolic link"),
        ("directory", "0", "not a regular file"),
    ],
)
def test_failures_leave_the_original_and_no_temp(tmp_path: Path, run: LocalRunner, setup: str, owner: str,
                                                 reason: str) -> None:
    target = tmp_path / "t.properties"
    target.write_bytes(b"original\n")
    plan = change(target, b"new\n", owner)
    later = tmp_path / "later.properties"
    if setup == "missing-dir":
        plan = change(tmp_path / "nope" / "t.properties", b"new\n")
    elif setup == "symlink":
        target.unlink()
        (tmp_path / "real").write_bytes(b"original\n")
        target.symlink_to(tmp_path / "real")
        plan = change(target, b"new\n", before=FileState(True, b"original\n"))
    elif setup == "directory":
        target.unlink()
        target.mkdir()
        plan = change(target, b"new\n", before=FileState(False))
    results = write_files(run, [plan, change(later, b"x\n")])
    assert [r.status for r in results] == ["failed", "not-attempted"], results
    assert reason in results[0].message
    assert not later.exists() and leftovers(tmp_path) == []
    if setup == "none":
        assert target.read_bytes() == b"original\n" and results[0].sha_after == hashlib.sha256(
            b"original\n").hexdigest()


def test_permission_denied_as_an_unprivileged_user(open_dir: Path) -> None:
    target = open_dir / "root-owned.properties"
    target.write_bytes(b"a=1\n")
    (result,) = write_files(LocalRunner(as_nobody=True), [change(target, b"a=2\n", mode=0o644)])
    assert result.status == "failed" and "Permission denied" in result.message
    assert target.read_bytes() == b"a=1\n" and leftovers(open_dir) == []


def test_a_killed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    """SIGTERM to the script's process group while chown hangs: the trap removes the temp file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "chown-started"
    (bin_dir / "chown").write_text(f"#!/bin/sh\ntouch '{marker}'\nexec sleep 30\n")
    (bin_dir / "chown").chmod(0o755)
    target = tmp_path / "data" / "t.properties"
    target.parent.mkdir()
    target.write_bytes(b"original\n")
    rec = Recorder()
    with pytest.raises(ApplyError):
        write_files(rec, [change(target, b"new\n")])
    proc = subprocess.Popen(["sh", "-s"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True,
                            env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(rec.scripts[0].encode())
    proc.stdin.close()
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists() and leftovers(target.parent)  # the temp file exists while chown hangs
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)
    proc.stdout.close()
    assert proc.returncode != 0
    assert leftovers(target.parent) == [] and target.read_bytes() == b"original\n"


@pytest.mark.parametrize("cut", ["inside the heredoc", "before the last line"])
def test_a_script_cut_off_in_transit_runs_nothing(tmp_path: Path, cut: str) -> None:
    target = tmp_path / "t.properties"
    target.write_bytes(b"original\n")
    rec = Recorder()
    with pytest.raises(ApplyError):
        write_files(rec, [change(target, b"new content " * 100), change(tmp_path / "u", None)])
    script = rec.scripts[0]
    at = script.index("base64 -d") + 100 if cut == "inside the heredoc" else script.rindex("fixer_main </dev/null")
    proc = subprocess.run(["sh", "-s"], input=script[:at].encode(), capture_output=True, check=False)
    assert b"BEGIN log." not in proc.stdout
    assert target.read_bytes() == b"original\n" and leftovers(tmp_path) == []


def test_a_script_that_died_mid_file_reports_unknown_then_not_attempted() -> None:
    """Output that ends inside file 1's log: file 0 done, file 1 unknown, file 2 never begun (files go in order)."""
    class Died(Recorder):
        def run_script(self, script: str, become: bool | None = None) -> CommandResult:
            b = script.split("B=", 1)[1].split("\n", 1)[0]
            out = (f"{b} START\n\n{b} BEGIN log.0\n\n{b} END 0\n\n{b} BEGIN res.0\nwritten\n{'ab' * 32}\nreplaced"
                   f"\n{b} END 0\n\n{b} BEGIN log.1\n")
            return CommandResult(out.encode(), b"", 143)

    results = write_files(Died(), [change(Path(f"/nonexistent/{n}"), b"x\n") for n in ("a", "b", "c")])
    assert [(r.status, r.sha_after) for r in results] == [("written", "ab" * 32), ("failed", None),
                                                           ("not-attempted", None)]
    assert "state unknown" in results[1].message


def test_one_exec_for_many_files(tmp_path: Path, run: LocalRunner) -> None:
    changes = [change(tmp_path / f"f{i}", f"{i}\n".encode()) for i in range(30)]
    assert all(r.status == "written" for r in write_files(run, changes))
    assert len(run.scripts) == 1


# -- lock --------------------------------------------------------------------------------------------


def test_lock_contention_reentry_and_release(tmp_path: Path, run: LocalRunner) -> None:
    lock = str(tmp_path / "var run" / "fixer.lock")
    (tmp_path / "var run").mkdir()
    acquire_lock(run, "run-A", lock)
    acquire_lock(run, "run-A", lock)  # re-entrant for the same run (a reconnect)
    info = (Path(lock) / "info").read_text()
    assert "run_id=run-A\n" in info and f"pid={os.getpid()}\n" in info
    with pytest.raises(LockedError, match=r"locked by run run-A .*for \d+s") as caught:
        acquire_lock(run, "run-B", lock)
    assert caught.value.category == "locked"
    assert release_lock(run, "run-B", lock) is False and Path(lock).is_dir()
    assert release_lock(run, "run-A", lock) is True and not Path(lock).exists()
    assert release_lock(run, "run-A", lock) is False
    acquire_lock(run, "run-B", lock)
    assert release_lock(run, "run-B", lock) is True


def test_lock_without_its_parent_directory_is_an_error(tmp_path: Path, run: LocalRunner) -> None:
    with pytest.raises(ApplyError, match=r"cannot take the lock.*No such file"):
        acquire_lock(run, "run-A", str(tmp_path / "missing" / "fixer.lock"))


# -- services (a fake apigee-service and a local readiness endpoint) ---------------------------------

FAKE_SERVICE = """#!/bin/sh
K={knobs}
echo "$1 $2" >> "$K/calls"
case "$2" in
  restart|start) [ -e "$K/fail-restart" ] && {{ echo "ERROR: $1 failed to start" >&2; exit 1; }}
                 [ -e "$K/hang" ] && exec sleep 60; echo "Restarting $1 ... done";;
  wait_for_ready) [ -e "$K/never-ready" ] && {{ sleep 1; echo "Timed out waiting for $1"; exit 1; }}
                  echo "$1 is up";;
  stop) echo "Stopping $1 ... done";;
esac
"""


class _Up(http.server.BaseHTTPRequestHandler):
    answer = b"true"

    def do_GET(self) -> None:
        body = self.answer if self.path == "/v1/servers/self/up" else b"not found"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[tuple[int, type[_Up]]]:
    handler = type("Up", (_Up,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def service(tmp_path: Path) -> tuple[str, Path]:
    knobs = tmp_path / "knobs"
    knobs.mkdir()
    command = tmp_path / "apigee service"
    command.write_text(FAKE_SERVICE.format(knobs=knobs))
    command.chmod(0o755)
    return str(command), knobs


def _restart(command: str, port: int | None, wait: bool = True, timeout_s: float = 5) -> ServiceAction:
    return ServiceAction("edge-message-processor", "restart", command, Readiness(port, wait, timeout_s))


def _tools_without(tmp_path: Path, *missing: str) -> str:
    """A PATH with the tools the readiness script needs, minus `missing` (to test its fallbacks)."""
    bin_dir = tmp_path / ("bin-" + "-".join(missing))
    bin_dir.mkdir()
    for tool in ("date", "sleep", "tr", "timeout", "curl", "wget", "python3", "sh"):
        found = shutil.which(tool)
        if tool not in missing and found:
            (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_restart_and_readiness_ok(service: tuple[str, Path], endpoint: tuple[int, type[_Up]],
                                  run: LocalRunner) -> None:
    command, knobs = service
    result = run_service(run, _restart(command, endpoint[0]))
    assert (result.outcome, result.rc) == ("ok", 0), result
    assert "Restarting edge-message-processor" in result.output and "is up" in result.output
    assert (knobs / "calls").read_text() == "edge-message-processor restart\nedge-message-processor wait_for_ready\n"


@pytest.mark.parametrize("missing", [(), ("curl",), ("curl", "wget")])
def test_readiness_http_clients(service: tuple[str, Path], endpoint: tuple[int, type[_Up]], tmp_path: Path,
                                missing: tuple[str, ...]) -> None:
    runner = LocalRunner(path=_tools_without(tmp_path, *missing))
    result = run_service(runner, _restart(service[0], endpoint[0], wait=False))
    assert result.outcome == "ok", result
    endpoint[1].answer = b"false"
    result = run_service(runner, _restart(service[0], endpoint[0], wait=False, timeout_s=1))
    assert result.outcome == "readiness-timeout" and ": false" in result.message, result


def test_no_http_client_fails_clearly(service: tuple[str, Path], tmp_path: Path) -> None:
    runner = LocalRunner(path=_tools_without(tmp_path, "curl", "wget", "python3"))
    result = run_service(runner, _restart(service[0], 1, wait=False))
    assert result.outcome == "failed" and "no curl, wget or python3" in result.message


def test_restart_failure_is_an_outcome(service: tuple[str, Path], run: LocalRunner) -> None:
    command, knobs = service
    (knobs / "fail-restart").touch()
    result = run_service(run, _restart(command, None))
    assert (result.outcome, result.rc) == ("failed", 1)
    assert "exit status 1" in result.message and "failed to start" in result.output
    assert (knobs / "calls").read_text() == "edge-message-processor restart\n"  # no readiness after a failure


def test_never_ready_is_a_readiness_timeout(service: tuple[str, Path], run: LocalRunner) -> None:
    command, knobs = service
    (knobs / "never-ready").touch()
    result = run_service(run, _restart(command, None, timeout_s=5))
    assert result.outcome == "readiness-timeout" and "wait_for_ready" in result.message
    assert "Timed out" in result.message


def test_gate_bounded_by_the_readiness_timeout(service: tuple[str, Path], run: LocalRunner) -> None:
    started = time.monotonic()
    result = run_service(run, _restart(service[0], 1, wait=False, timeout_s=2))  # nothing listens on port 1
    assert result.outcome == "readiness-timeout" and "no answer" in result.message
    assert 2 <= time.monotonic() - started < 8


def test_hung_action_is_failed_not_raised(service: tuple[str, Path], run: LocalRunner) -> None:
    command, knobs = service
    (knobs / "hang").touch()
    result = run_service(run, _restart(command, None), action_timeout_s=1)
    assert result.outcome == "failed" and "timed out after 1s" in result.message


def test_exec_timeout_of_the_gate_is_an_outcome(run: LocalRunner) -> None:
    class Slow(LocalRunner):
        def run_script(self, script: str, become: bool | None = None) -> CommandResult:
            if "wait_for_ready" in script:
                raise CommandTimeoutError("remote command timed out")
            return super().run_script(script, become)

    result = run_service(Slow(), _restart("true", 8082))
    assert result.outcome == "readiness-timeout"


def test_stop_has_no_readiness_gate(service: tuple[str, Path], run: LocalRunner) -> None:
    command, knobs = service
    result = run_service(run, ServiceAction("edge-router", "stop", command, Readiness(8081, True, 5)))
    assert result.outcome == "ok" and (knobs / "calls").read_text() == "edge-router stop\n"


def test_session_timeout_is_restored(service: tuple[str, Path], run: LocalRunner) -> None:
    run_service(run, _restart(service[0], None))
    assert run.options.command_timeout == 20.0


# -- verifies ----------------------------------------------------------------------------------------


def test_verifies(tmp_path: Path) -> None:
    props = tmp_path / "system properties"
    props.write_text("# generated\njsse.enableSNIExtension=false\nhttps.protocols=TLSv1.2\n"
                     "jsse.enableSNIExtension = true\n")
    conf = tmp_path / "0-default.conf"
    conf.write_text("server {\n    ssl_protocols TLSv1.2 TLSv1.3;\n}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nginx").write_text('#!/bin/sh\necho "nginx: args $*"\n[ "$3" = /good.conf ]\n')
    (bin_dir / "nginx").chmod(0o755)
    runner = LocalRunner(path=f"{bin_dir}:/usr/bin:/bin")
    results = run_verifies(runner, [
        Verify("properties", "sni", str(props), "jsse.enableSNIExtension", "true"),
        Verify("properties", "protocols", str(props), "https.protocols", "TLSv1.3"),
        Verify("properties", "absent key", str(props), "no.such.key", None),
        Verify("properties", "missing file", str(tmp_path / "missing"), "k", "v"),
        Verify("file_contains", "ssl", str(conf), pattern=r"ssl_protocols\s+TLSv1\.2 TLSv1\.3;"),
        Verify("file_contains", "no sslv3", str(conf), pattern=r"SSLv3"),
        Verify("nginx_test", "nginx ok", "/good.conf"),
        Verify("nginx_test", "nginx bad", "/bad.conf"),
        Verify("bogus", "unknown"),
    ])
    assert len(runner.scripts) == 1
    verdicts = {r.name: r for r in results}
    assert verdicts["sni"].ok and verdicts["sni"].actual == "true"  # the last value wins
    assert not verdicts["protocols"].ok and "want TLSv1.3" in verdicts["protocols"].message
    assert verdicts["absent key"].ok
    assert not verdicts["missing file"].ok and "does not exist" in verdicts["missing file"].message
    assert verdicts["ssl"].ok and verdicts["ssl"].actual == "ssl_protocols TLSv1.2 TLSv1.3;"
    assert not verdicts["no sslv3"].ok
    assert verdicts["nginx ok"].ok and "-t -c /good.conf" in verdicts["nginx ok"].message
    assert not verdicts["nginx bad"].ok and not verdicts["unknown"].ok
