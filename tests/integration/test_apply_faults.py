"""Faults and bad input of `fixer apply` on a lab of its own (issue 3, item 6), through the real CLI.

Every fault is checked against one contract: no half-written file (no `.fixer.*` temp file left in the
target's directory), no lost original (bytes, owner and mode on disk, or restored), a journal that tells
the truth (`fixer runs show RUN_ID --format json` matches what is on the nodes: files, hosts, services),
a clear message naming host and cause, and a non-zero exit code.

The CLI runs in the lab's bridge netns (lab.run); the one Python API test (a file edited between plan and
apply) runs `apply_playbook` in a worker thread that joined that netns, like tests/integration/test_remote_lab.py.
The lab is module-scoped and of its own (these tests change nodes); `put_back` restores every node a test
touched (customer file, knobs, locks, a stopped MP), so the tests do not depend on each other.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixer.apply.command import RunReport, RunSettings, apply_playbook
from fixer.facts.properties import parse_properties
from fixer.inventory.loader import load_inventory
from fixer.journal import Journal
from fixer.playbook import load_playbook
from fixer.transport.hostkeys import load_known_hosts
from fixer.transport.ssh import ConnectOptions
from tests.lab import Lab
from tests.lab.netns import enter_netns

pytestmark = pytest.mark.lab

REPO = Path(__file__).parents[2]
DATA = Path(__file__).parent / "data"
SET = DATA / "fault-set.yml"  # sets KEY to -e value, restarts the MP (readiness -e ready_timeout)
BUDGET = DATA / "fault-budget.yml"  # the same, serial 1 and max_fail_percentage 50
KEY = "conf_message-processor_fixer.fault.test"
CUSTOMER_DIR = "/opt/apigee/customer/application"
CUSTOMER = f"{CUSTOMER_DIR}/message-processor.properties"
VAR = "/opt/apigee/var"
KNOBS = ("fail-restart", "never-ready", "ready-timeout")
LOCK = f"{VAR}/run/fixer.lock"
TEST_LOCK = "/tmp/fixer-test.lock"  # node-private /tmp: a lock dir a login user without become can create
SERVICE = "/opt/apigee/apigee-service/bin/apigee-service"
MP = "edge-message-processor"
SERVICE_LOG = f"{VAR}/log/apigee-service.log"
PID_FILE = f"{VAR}/run/{MP}.pid"
MPS = ("mp-healthy", "mp-sni-off", "mp-sni-false", "mp-restart-pending", "mp-plus-form", "mp-jce-limited",
       "mp-jce-old", "mp-jce-ok")
UNREACHABLE = "mp-down"  # no node behind it: contacting it would be exit 3, so exit 2 proves no contact


# -- the lab and putting nodes back -----------------------------------------------------------------------


@dataclass(frozen=True)
class Snap:
    content: bytes
    uid: int
    gid: int
    mode: int


def snap(lab: Lab, name: str) -> Snap:
    path = lab.node_path(name, CUSTOMER)
    st = path.stat()
    return Snap(path.read_bytes(), st.st_uid, st.st_gid, st.st_mode & 0o7777)


@pytest.fixture(scope="module")
def fault_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A lab of its own: these tests break and change nodes."""
    lab = Lab.up(tmp_path_factory.mktemp("fault-lab"))
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="module")
def originals(fault_lab: Lab) -> dict[str, Snap]:
    return {name: snap(fault_lab, name) for name in MPS}


@pytest.fixture(autouse=True)
def put_back(fault_lab: Lab, originals: dict[str, Snap]) -> Iterator[None]:
    """After each test: knobs and locks gone, customer files as seeded, every MP running."""
    yield
    lab = fault_lab
    for name in MPS:
        want = originals[name]
        restore = snap(lab, name) != want
        if restore:
            path = lab.node_path(name, CUSTOMER)
            path.write_bytes(want.content)
            os.chown(path, want.uid, want.gid)
            path.chmod(want.mode)
        # one cheap shell per node: knobs and locks gone; restart when the file was put back or the MP is down
        sh(lab, name, f"rm -f {' '.join(f'{VAR}/{k}' for k in KNOBS)}; rm -rf {LOCK} {TEST_LOCK}\n"
                      f'if [ -n "$1" ] || ! {{ p=$(cat {PID_FILE} 2>/dev/null) && kill -0 "$p" 2>/dev/null; }}; then '
                      f"{SERVICE} {MP} restart; fi", "restore" if restore else "")


# -- helpers ---------------------------------------------------------------------------------------------


def sh(lab: Lab, node: str, script: str, *args: str) -> str:
    """A root shell inside the node (its mounts); fails the test on a non-zero exit."""
    proc = lab.node_exec(node, ["sh", "-c", script, "sh", *args], capture_output=True, text=True)
    assert proc.returncode == 0, (node, script, proc.stdout, proc.stderr)
    return str(proc.stdout)


def cli_argv(lab: Lab, journal: Path, args: Sequence[str], inventory: Path | None = None) -> list[str]:
    argv = ["python3", "-m", "fixer.cli", *args]
    if args[0] in ("apply", "rollback"):
        argv += ["-i", str(inventory or lab.inventory), "--known-hosts", str(lab.known_hosts),
                 "--ssh-config", "/dev/null", "--journal", str(journal)]
    return argv


def fixer(lab: Lab, journal: Path, *args: str, inventory: Path | None = None,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return lab.run(cli_argv(lab, journal, args, inventory), capture_output=True, text=True, timeout=300,
                   check=False, env={**os.environ, **(env or {})}, cwd=str(REPO))


def apply(lab: Lab, journal: Path, playbook: Path, limit: str, *extra: str, inventory: Path | None = None,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return fixer(lab, journal, "apply", str(playbook), "-l", limit, *extra, inventory=inventory, env=env)


def background(lab: Lab, journal: Path, *args: str) -> subprocess.Popen[str]:
    """The CLI in the bridge netns, not waited for: kill and wait it in a finally."""
    argv = ["ip", "netns", "exec", lab.bridge_netns, *cli_argv(lab, journal, args)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(REPO))


def stop(proc: subprocess.Popen[str]) -> None:
    """Kill (if still running) and reap a background run; its pipes are closed afterwards."""
    if proc.poll() is None:
        proc.kill()
    if proc.stdout is not None and not proc.stdout.closed:
        proc.communicate(timeout=30)


def run_id_of(proc: subprocess.CompletedProcess[str]) -> str:
    found = re.search(r"^fixer: run id (\S+)$", proc.stderr, re.MULTILINE)
    assert found, proc.stdout + proc.stderr
    return found[1]


def host_line(report: str, host: str) -> str:
    """The line of the text report about `host`."""
    lines = [line for line in report.splitlines() if line.startswith(f"  {host} ")]
    assert len(lines) == 1, report
    return lines[0]


def show(lab: Lab, journal: Path, run_id: str) -> dict[str, Any]:
    proc = fixer(lab, journal, "runs", "--journal", str(journal), "--format", "json", "show", run_id)
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def run_ids(lab: Lab, journal: Path) -> list[str]:
    proc = fixer(lab, journal, "runs", "--journal", str(journal), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return [run["id"] for run in json.loads(proc.stdout)]


def hosts_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {h["host"]: h for h in doc["hosts"]}


def files_of(doc: dict[str, Any], host: str) -> list[dict[str, Any]]:
    return [f for f in doc["files"] if f["host"] == host]


def services_of(doc: dict[str, Any], host: str) -> list[str | None]:
    return [s["outcome"] for s in doc["services"] if s["host"] == host]


FileView = tuple[str | None, str | None, str | None, int | None]  # sha256 (None: absent), owner, group, mode


def on_node(lab: Lab, host: str, path: str) -> FileView:
    """The file as the node sees it (inside its mounts)."""
    out = sh(lab, host, 'if [ -e "$1" ]; then stat -c "%U %G %a" -- "$1"; sha256sum < "$1"; fi', path).split()
    if not out:
        return (None, None, None, None)
    owner, group, mode, sha = out[0], out[1], out[2], out[3]
    return (sha, owner, group, int(mode, 8))


def before_view(record: dict[str, Any]) -> FileView:
    if not record["before_exists"]:
        return (None, None, None, None)
    return (record["before_sha"], record["before_owner"], record["before_group"], int(record["before_mode"], 8))


def after_view(record: dict[str, Any]) -> FileView:
    if not record["after_exists"]:
        return (None, None, None, None)
    return (record["after_sha"], record["after_owner"], record["after_group"], int(record["after_mode"], 8))


def assert_journal_truthful(lab: Lab, doc: dict[str, Any]) -> None:
    """What the journal says of each file and service holds on the nodes now.

    restored → the original is on disk; the last record of a path says what the file holds: written →
    what was written; write-failed → the original (a failed write leaves it); backed-up → one of the two
    (the write is uncertain); restore-failed → what was written. A finished service record says ok only
    if the MP answers ready now, failed only if it is not running (after the last action).
    """
    by_path: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in doc["files"]:
        by_path.setdefault((record["host"], record["path"]), []).append(record)
    for (host, path), records in by_path.items():
        now = on_node(lab, host, path)
        last = records[-1]
        for record in records:
            if record["state"] == "restored":
                assert now == before_view(record), (host, path, record)
        expected = {
            "written": [after_view(last)], "restored": [before_view(last)], "write-failed": [before_view(last)],
            "backed-up": [before_view(last), after_view(last)], "restore-failed": [after_view(last)],
        }[last["state"]]
        assert now in expected, (host, path, last["state"], now, expected)
        assert not temp_files(lab, host, path.rsplit("/", 1)[0]), (host, path)
    for host in {s["host"] for s in doc["services"]}:
        services = [s for s in doc["services"] if s["host"] == host]
        assert all(s["outcome"] is not None for s in services), (host, services)  # nothing left "unfinished"
        last = services[-1]
        if last["outcome"] == "ok":
            assert mp_ready(lab, host), host
        elif "failed to start" in (last["message"] or ""):
            assert not mp_running(lab, host), host


def temp_files(lab: Lab, host: str, directory: str = CUSTOMER_DIR) -> list[str]:
    return [n for n in sh(lab, host, 'ls -A -- "$1"', directory).split() if n.startswith(".fixer.")]


def mp_running(lab: Lab, host: str) -> bool:
    return lab.node_exec(host, [SERVICE, MP, "status"], capture_output=True).returncode == 0


def mp_ready(lab: Lab, host: str) -> bool:
    url = "http://127.0.0.1:8082/v1/servers/self/up"
    got = lab.node_exec(host, ["curl", "-s", "-m", "2", url], capture_output=True, text=True)
    return str(got.stdout).strip() == "true"


def restarts(lab: Lab, host: str) -> list[str]:
    """Results (ok | failed) of every `restart` the node's apigee-service has logged."""
    log = lab.node_path(host, SERVICE_LOG)
    lines = log.read_text().splitlines() if log.exists() else []
    return [line.split()[-1] for line in lines if line.split()[1:3] == [MP, "restart"]]


def value_on_node(lab: Lab, host: str) -> str | None:
    entries = parse_properties(lab.node_path(host, CUSTOMER).read_text())
    found = [e.value for e in entries if e.key == KEY]
    return found[-1] if found else None


def knob(lab: Lab, host: str, name: str, content: str = "") -> None:
    sh(lab, host, 'printf "%s" "$2" > "$1"', f"{VAR}/{name}", content)


def wait_for(what: str, check: Callable[[], bool], proc: subprocess.Popen[str] | None = None,
             timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended (exit {proc.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def journal_has_service(journal: Path, host: str, outcome: str) -> bool:
    """Read-only look into the journal of a running CLI (another process)."""
    try:
        with closing(sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=1.0)) as db:
            row = db.execute("SELECT 1 FROM services WHERE host = ? AND outcome = ?", (host, outcome)).fetchone()
    except sqlite3.Error:
        return False
    return row is not None


# -- 1. restart fails --------------------------------------------------------------------------------------


def test_restart_fails_restores_the_batch_and_stops(fault_lab: Lab, originals: dict[str, Snap],
                                                    tmp_path: Path) -> None:
    lab, journal = fault_lab, tmp_path / "journal.sqlite3"
    hosts = ("mp-healthy", "mp-sni-off", "mp-sni-false", "mp-restart-pending")  # batches: 2 + 2
    before = {h: restarts(lab, h) for h in hosts}
    knob(lab, "mp-sni-off", "fail-restart")
    run = apply(lab, journal, SET, ",".join(hosts), "--serial", "2", "-e", "value=restart-fails")
    assert run.returncode == 1, run.stdout + run.stderr
    line = host_line(run.stdout, "mp-sni-off")
    assert "failed (apply)" in line and "failed to start" in line and "fail-restart" in line, line
    assert "files restored, but RESTART AFTER RESTORE FAILED" in line, line
    assert "restored because another host of its batch failed" in host_line(run.stdout, "mp-healthy")
    assert "not attempted: mp-sni-false, mp-restart-pending" in run.stdout
    for host in hosts:  # every byte, owner and mode as before; no temp file
        assert snap(lab, host) == originals[host], host
        assert not temp_files(lab, host)

    doc = show(lab, journal, run_id_of(run))
    assert doc["run"]["status"] == "failed"
    status = {h: (r["status"], r["category"]) for h, r in hosts_of(doc).items()}
    assert status == {"mp-healthy": ("rolled-back", None), "mp-sni-off": ("failed", "apply"),
                      "mp-sni-false": ("skipped", None), "mp-restart-pending": ("skipped", None)}
    assert [f["state"] for f in files_of(doc, "mp-sni-off")] == ["restored", "written"]  # write, then its undo
    assert [f["state"] for f in files_of(doc, "mp-healthy")] == ["restored", "written"]
    assert services_of(doc, "mp-sni-off") == ["failed", "failed"]  # restarted again after the restore: still fails
    assert services_of(doc, "mp-healthy") == ["ok", "ok"]
    assert not files_of(doc, "mp-sni-false") and not services_of(doc, "mp-restart-pending")
    assert restarts(lab, "mp-healthy") == [*before["mp-healthy"], "ok", "ok"]
    assert restarts(lab, "mp-sni-off") == [*before["mp-sni-off"], "failed", "failed"]
    assert restarts(lab, "mp-sni-false") == before["mp-sni-false"]  # later batches never touched
    assert restarts(lab, "mp-restart-pending") == before["mp-restart-pending"]
    assert_journal_truthful(lab, doc)


def test_failure_budget_lets_the_run_go_on(fault_lab: Lab, originals: dict[str, Snap], tmp_path: Path) -> None:
    lab, journal = fault_lab, tmp_path / "journal.sqlite3"
    hosts = ("mp-plus-form", "mp-jce-limited", "mp-jce-old")  # serial 1: the canary fails, 1 of 3 <= 50%
    knob(lab, "mp-plus-form", "fail-restart")
    run = apply(lab, journal, BUDGET, ",".join(hosts), "-e", "value=budget")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "STOPPED" not in run.stdout
    assert "failed to start" in host_line(run.stdout, "mp-plus-form")
    run_id = run_id_of(run)
    doc = show(lab, journal, run_id)
    assert doc["run"]["status"] == "partial"
    assert {h: r["status"] for h, r in hosts_of(doc).items()} == {
        "mp-plus-form": "failed", "mp-jce-limited": "ok", "mp-jce-old": "ok"}
    assert [r["batch"] for r in doc["hosts"]] == [1, 2, 3]
    assert snap(lab, "mp-plus-form") == originals["mp-plus-form"]
    assert value_on_node(lab, "mp-jce-limited") == "budget" and value_on_node(lab, "mp-jce-old") == "budget"
    assert_journal_truthful(lab, doc)

    back = fixer(lab, journal, "rollback", run_id)  # the hosts that went on are put back exactly
    assert back.returncode == 0, back.stdout + back.stderr
    for host in hosts:
        assert snap(lab, host) == originals[host], host


# -- 2. readiness never comes ---------------------------------------------------------------------------


def test_readiness_never_comes(fault_lab: Lab, originals: dict[str, Snap], tmp_path: Path) -> None:
    lab, journal = fault_lab, tmp_path / "journal.sqlite3"
    hosts = ("mp-sni-false", "mp-restart-pending")  # one batch
    knob(lab, "mp-sni-false", "never-ready")
    proc = background(lab, journal, "apply", str(SET), "-l", ",".join(hosts), "-e", "value=never-ready",
                      "-e", "ready_timeout=3")
    try:
        # the node heals once the gate gave up: the restore of the batch then restarts it and it gets ready
        wait_for("the readiness timeout", lambda: journal_has_service(journal, "mp-sni-false", "readiness-timeout"),
                 proc)
        sh(lab, "mp-sni-false", f"rm -f {VAR}/never-ready")
        out, err = proc.communicate(timeout=120)
    finally:
        stop(proc)
    assert proc.returncode == 1, out + err
    line = host_line(out, "mp-sni-false")
    assert "failed (apply), restored" in line and "readiness-timeout" in line and "not ready within 3s" in line, line
    for host in hosts:
        assert snap(lab, host) == originals[host], host
    found = re.search(r"^fixer: run id (\S+)$", err, re.MULTILINE)
    assert found, err
    doc = show(lab, journal, found[1])
    assert {h: (r["status"], r["category"]) for h, r in hosts_of(doc).items()} == {
        "mp-sni-false": ("rolled-back", "apply"), "mp-restart-pending": ("rolled-back", None)}
    assert services_of(doc, "mp-sni-false") == ["readiness-timeout", "ok"]
    assert services_of(doc, "mp-restart-pending") == ["ok", "ok"]
    for host in hosts:
        assert [f["state"] for f in files_of(doc, host)] == ["restored", "written"]
        assert mp_ready(lab, host)
    assert_journal_truthful(lab, doc)


# -- 3. the SSH connection drops --------------------------------------------------------------------------


def test_connection_drops_between_backup_and_write(fault_lab: Lab, originals: dict[str, Snap],
                                                   tmp_path: Path) -> None:
    lab, journal = fault_lab, tmp_path / "journal.sqlite3"
    hosts, lost = ("mp-healthy", "mp-plus-form"), "mp-plus-form"
    before = restarts(lab, lost)
    run = apply(lab, journal, SET, ",".join(hosts), "-e", "value=drop-after-backup",
                env={"FIXER_FAULT": f"drop-after-backup@{lost}"})
    assert run.returncode == 1, run.stdout + run.stderr
    line = host_line(run.stdout, lost)
    assert "failed (unreachable)" in line and "SSH session not active" in line, line
    assert "whether the write happened is unknown" in line, line
    for host in hosts:
        assert snap(lab, host) == originals[host], host  # the write never ran; the neighbour was restored
    assert not lab.node_path(lost, LOCK).exists()  # released over a new connection
    assert restarts(lab, lost) == before
    run_id = run_id_of(run)
    doc = show(lab, journal, run_id)
    assert {h: (r["status"], r["category"]) for h, r in hosts_of(doc).items()} == {
        "mp-healthy": ("rolled-back", None), lost: ("rolled-back", "unreachable")}
    # whether the write happened was unknown: the batch restore made sure the original is there (its undo
    # found the original already in place and wrote nothing)
    assert [f["state"] for f in files_of(doc, lost)] == ["restored", "written"]
    assert services_of(doc, lost) == []
    assert_journal_truthful(lab, doc)

    back = fixer(lab, journal, "rollback", run_id)
    assert back.returncode == 0, back.stdout + back.stderr
    for host in hosts:
        assert snap(lab, host) == originals[host], host
    assert restarts(lab, lost) == before


def test_connection_drops_between_write_and_restart(fault_lab: Lab, originals: dict[str, Snap],
                                                    tmp_path: Path) -> None:
    lab, journal = fault_lab, tmp_path / "journal.sqlite3"
    hosts, lost = ("mp-sni-false", "mp-restart-pending"), "mp-sni-false"
    before = restarts(lab, lost)
    run = apply(lab, journal, SET, ",".join(hosts), "-e", "value=drop-after-write",
                env={"FIXER_FAULT": f"drop-after-write@{lost}"})
    assert run.returncode == 1, run.stdout + run.stderr
    line = host_line(run.stdout, lost)
    assert "failed (unreachable), restored" in line and f"{MP} restart" in line and "not active" in line, line
    for host in hosts:
        assert snap(lab, host) == originals[host], host
        assert mp_ready(lab, host), host
    assert restarts(lab, lost) == [*before, "ok"]  # the restart of the restore (the first never ran)
    run_id = run_id_of(run)
    doc = show(lab, journal, run_id)
    assert {h: (r["status"], r["category"]) for h, r in hosts_of(doc).items()} == {
        lost: ("rolled-back", "unreachable"), "mp-restart-pending": ("rolled-back", None)}
    written, undo = files_of(doc, lost)
    assert (written["state"], undo["state"]) == ("restored", "written")
    assert written["written_at"] and written["restored_at"]
    assert undo["before_sha"] == written["after_sha"] and undo["after_sha"] == written["before_sha"]
    services = [s for s in doc["services"] if s["host"] == lost]
    assert [s["outcome"] for s in services] == ["failed", "ok"]
    assert "no result" in services[0]["message"] and "not active" in services[0]["message"]
    assert_journal_truthful(lab, doc)

    back = fixer(lab, journal, "rollback", run_id)
    assert back.returncode == 0, back.stdout + back.stderr
    for host in hosts:
        assert snap(lab, host) == originals[host], host
    assert restarts(lab, lost) == [*before, "ok"]  # nothing left to undo


# -- 4. permission denied ---------------------------------------------------------------------------------


def inventory_without_become(lab: Lab, directory: Path, host: str, **host_vars: Any) -> Path:
    """A copy of the lab inventory (and its group_vars) where `host` has no become."""
    copy = directory / "inventory"
    copy.mkdir(parents=True)
    shutil.copytree(lab.inventory.parent / "group_vars", copy / "group_vars")
    doc = yaml.safe_load(lab.inventory.read_text())
    doc["all"]["children"]["message_processors"]["hosts"][host].update({"ansible_become": False, **host_vars})
    path = copy / "inventory.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_permission_denied_without_become(fault_lab: Lab, originals: dict[str, Snap], tmp_path: Path) -> None:
    lab, journal, host = fault_lab, tmp_path / "journal.sqlite3", "mp-jce-ok"
    sh(lab, host, 'chown root:root -- "$1" && chmod 0644 -- "$1"', CUSTOMER)  # root-owned, readable by all
    root_owned = snap(lab, host)
    assert root_owned.content == originals[host].content and root_owned.uid == 0
    before = restarts(lab, host)

    # the lock where the login user may create it: the write itself is what is refused
    inventory = inventory_without_become(lab, tmp_path, host, fixer_lock_dir=TEST_LOCK)
    run = apply(lab, journal, SET, host, "-e", "value=denied", inventory=inventory)
    assert run.returncode == 1, run.stdout + run.stderr
    line = host_line(run.stdout, host)
    assert "failed (apply)" in line and "write failed" in line and "Permission denied" in line, line
    assert snap(lab, host) == root_owned and not temp_files(lab, host)
    assert restarts(lab, host) == before
    assert lab.node_exec(host, ["test", "-e", TEST_LOCK]).returncode == 1  # released
    doc = show(lab, journal, run_id_of(run))
    assert hosts_of(doc)[host]["status"] == "failed"
    (record,) = files_of(doc, host)
    assert record["state"] == "write-failed" and "Permission denied" in record["message"]
    assert services_of(doc, host) == []
    assert_journal_truthful(lab, doc)

    # with the default lock directory (apigee's var/run) the lock is refused first: nothing journaled but why
    plain = inventory_without_become(lab, tmp_path / "plain", host)
    run = apply(lab, journal, SET, host, "-e", "value=denied", inventory=plain)
    assert run.returncode == 1, run.stdout + run.stderr
    line = host_line(run.stdout, host)
    assert f"cannot take the lock {LOCK}" in line and "Permission denied" in line and "fixer_lock_dir" in line, line
    assert snap(lab, host) == root_owned
    doc = show(lab, journal, run_id_of(run))
    assert hosts_of(doc)[host]["status"] == "failed" and not doc["files"] and not doc["services"]


# -- 5. disk full -----------------------------------------------------------------------------------------


def test_disk_full_keeps_the_original(fault_lab: Lab, originals: dict[str, Snap], tmp_path: Path) -> None:
    lab, journal, host = fault_lab, tmp_path / "journal.sqlite3", "mp-jce-limited"
    save = "/root/fixer-disk-full.save"
    before = restarts(lab, host)
    sh(lab, host, 'cp -p -- "$1/message-processor.properties" "$2" && mount -t tmpfs -o size=64k fixer-full "$1" '
                  '&& chown apigee:apigee "$1" && chmod 0755 "$1" && cp -p -- "$2" "$1/message-processor.properties"',
       CUSTOMER_DIR, save)
    try:
        original = on_node(lab, host, CUSTOMER)
        assert original[0] == hashlib.sha256(originals[host].content).hexdigest()
        run = apply(lab, journal, SET, host, "-e", "value=" + "x" * 70_000)  # the new file does not fit in 64k
        assert run.returncode == 1, run.stdout + run.stderr
        line = host_line(run.stdout, host)
        assert "failed (apply)" in line and "No space left on device" in line, line
        assert on_node(lab, host, CUSTOMER) == original
        assert sh(lab, host, 'ls -A -- "$1"', CUSTOMER_DIR).split() == ["message-processor.properties"]
        doc = show(lab, journal, run_id_of(run))
        assert hosts_of(doc)[host]["status"] == "failed"
        (record,) = files_of(doc, host)
        assert record["state"] == "write-failed" and "No space left on device" in record["message"]
        assert services_of(doc, host) == []
        assert_journal_truthful(lab, doc)
    finally:
        sh(lab, host, 'umount -- "$1"; rm -f -- "$2"', CUSTOMER_DIR, save)
    assert restarts(lab, host) == before
    assert snap(lab, host) == originals[host]


# -- 6. the file edited between plan and apply (Python API) -----------------------------------------------


def test_file_edited_between_plan_and_apply(fault_lab: Lab, originals: dict[str, Snap], tmp_path: Path) -> None:
    lab, host = fault_lab, "mp-sni-off"
    edit = b"# edited by hand between plan and apply\n"
    before = restarts(lab, host)

    def notify(who: str, message: str) -> None:  # the batch notice comes after the plan, before any write
        if who == "*" and message.startswith("batch 1"):
            sh(lab, host, 'printf "%s" "$2" >> "$1"', CUSTOMER, edit.decode())

    options = ConnectOptions(known_hosts=lab.known_hosts, host_keys=load_known_hosts(lab.known_hosts, "strict"),
                             connect_timeout=10.0, command_timeout=60.0)
    settings = RunSettings(options, forks=4, extra_vars={"value": "edited"}, notify=notify)
    book, inventory = load_playbook(SET), load_inventory(lab.inventory)
    with Journal(tmp_path / "journal.sqlite3") as journal, ThreadPoolExecutor(
            max_workers=1, initializer=enter_netns, initargs=(lab.bridge_netns,)) as pool:
        report: RunReport = pool.submit(apply_playbook, book, inventory, host, settings, journal,
                                        ["test"]).result(timeout=120)
        assert report.run_id is not None
        hosts = {h.host: h for h in journal.hosts(report.run_id)}
        files, services = journal.files(report.run_id), journal.services(report.run_id)
    assert report.exit_code == 1
    outcome = report.plays[0].outcomes[host]
    assert outcome.category == "changed-since-plan" and not outcome.written
    assert outcome.message is not None and "changed since the plan was made" in outcome.message
    assert CUSTOMER in outcome.message and "nothing written" in outcome.message
    assert lab.node_path(host, CUSTOMER).read_bytes() == originals[host].content + edit  # the edit survives
    assert not temp_files(lab, host) and restarts(lab, host) == before
    assert (hosts[host].status, hosts[host].category) == ("failed", "changed-since-plan")
    assert files == [] and services == []  # nothing was backed up, written or restarted


# -- 7. two runs at once -----------------------------------------------------------------------------------


def test_two_runs_at_once(fault_lab: Lab, originals: dict[str, Snap], tmp_path: Path) -> None:
    lab, journal, host = fault_lab, tmp_path / "journal.sqlite3", "mp-jce-old"
    knob(lab, host, "never-ready")
    knob(lab, host, "ready-timeout", "60")  # the first run's restart waits until the knob goes
    first = background(lab, journal, "apply", str(SET), "-l", host, "-e", "value=first", "-e", "ready_timeout=60")
    try:
        info = lab.node_path(host, f"{LOCK}/info")
        wait_for("the first run to hold the lock and write", lambda: info.exists()
                 and value_on_node(lab, host) == "first", first)
        holder = dict(line.split("=", 1) for line in info.read_text().splitlines())["run_id"]
        started = time.monotonic()
        second = apply(lab, journal, SET, host, "-e", "value=second")
        took = time.monotonic() - started
        assert second.returncode == 1, second.stdout + second.stderr
        line = host_line(second.stdout, host)
        assert f"failed (locked): {host} is locked by run {holder}" in line, line
        assert took < 15, took  # fast: no waiting for the lock
        assert first.poll() is None  # the first run is still waiting for readiness
        sh(lab, host, f"rm -f {VAR}/never-ready")
        out, err = first.communicate(timeout=120)
    finally:
        stop(first)
    assert first.returncode == 0, out + err
    assert value_on_node(lab, host) == "first" and mp_ready(lab, host)
    assert not lab.node_path(host, LOCK).exists()
    second_doc = show(lab, journal, run_id_of(second))
    assert (hosts_of(second_doc)[host]["status"], hosts_of(second_doc)[host]["category"]) == (
        "failed", "locked")
    assert not second_doc["files"] and not second_doc["services"]
    first_doc = show(lab, journal, holder)
    assert hosts_of(first_doc)[host]["status"] == "ok" and services_of(first_doc, host) == ["ok"]
    assert_journal_truthful(lab, first_doc)
    back = fixer(lab, journal, "rollback", holder)
    assert back.returncode == 0, back.stdout + back.stderr
    assert snap(lab, host) == originals[host]


# -- 8. a bad playbook -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("playbook", "line", "says"), [
    ("unknown-module.yml", 7, "unknown task key or module 'lineinfile'"),
    ("unknown-argument.yml", 11, "unknown argument 'backup' for properties"),
])
def test_bad_playbook_contacts_nothing(fault_lab: Lab, tmp_path: Path, playbook: str, line: int, says: str) -> None:
    journal = tmp_path / "journal.sqlite3"
    # mp-down has no node: contacting it would fail as unreachable (exit 3), not as bad input
    run = apply(fault_lab, journal, DATA / playbook, f"mp-healthy,{UNREACHABLE}")
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"{DATA / playbook}:{line}: " in run.stderr and says in run.stderr, run.stderr
    assert run.stdout == ""
    assert not journal.exists()  # not even opened: no run journaled


# -- 9. hostile property values -------------------------------------------------------------------------


HOSTILE = ("$(touch /tmp/pwned) `touch /tmp/pwned` ; touch /tmp/pwned | cat & > /tmp/pwned < /etc/passwd "
           "'single' \"double\" \\back\\slash ${HOME} $HOME * ? ~ # ! = : %s %n \\u0041 EOF FIXER_EOF_x trailing ")


def test_hostile_values_are_data(fault_lab: Lab, originals: dict[str, Snap], tmp_path: Path) -> None:
    lab, journal, host = fault_lab, tmp_path / "journal.sqlite3", "mp-healthy"
    control_had_pwned = Path("/tmp/pwned").exists()
    run = apply(lab, journal, SET, host, "-e", f"value={HOSTILE}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert value_on_node(lab, host) == HOSTILE  # written byte-exact as data, read back by the parser
    content = lab.node_path(host, CUSTOMER).read_bytes()
    assert content.startswith(originals[host].content)  # every other line kept
    assert lab.node_exec(host, ["test", "-e", "/tmp/pwned"]).returncode == 1  # nothing executed on the node
    assert Path("/tmp/pwned").exists() == control_had_pwned  # nor on the control machine
    run_id = run_id_of(run)
    assert_journal_truthful(lab, show(lab, journal, run_id))
    back = fixer(lab, journal, "rollback", run_id)
    assert back.returncode == 0, back.stdout + back.stderr
    assert snap(lab, host) == originals[host]


def test_newline_in_a_value_is_refused_before_any_contact(fault_lab: Lab, tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    for value in ("a\nb", "true\nconf_system_jsse.enableSNIExtension=false"):
        run = apply(fault_lab, journal, SET, f"mp-healthy,{UNREACHABLE}", "-e", f"value={value}")
        assert run.returncode == 2, run.stdout + run.stderr  # exit 3 would mean mp-down was contacted
        assert f"{SET}:7" in run.stderr and "newline" in run.stderr and "refused" in run.stderr, run.stderr
        assert "mp-healthy" in run.stderr or UNREACHABLE in run.stderr
    assert not journal.exists() or run_ids(fault_lab, journal) == []  # no run journaled
