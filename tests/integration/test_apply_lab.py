"""check → apply --check → apply → apply again → rollback → rollback again, on a lab of its own."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab import Lab

pytestmark = pytest.mark.lab

REPO = Path(__file__).parents[2]
MPS = ("mp-sni-off", "mp-sni-false", "mp-healthy", "mp-plus-form")
BROKEN = ("mp-sni-off", "mp-sni-false")
CUSTOMER = "/opt/apigee/customer/application/message-processor.properties"
GENERATED = "/opt/apigee/edge-message-processor/conf/system.properties"
LOG = "/opt/apigee/var/log/apigee-service.log"


@pytest.fixture(scope="module")
def apply_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A lab of its own: these tests change nodes, the check tests expect the seeded state."""
    lab = Lab.up(tmp_path_factory.mktemp("apply-lab"))
    try:
        yield lab
    finally:
        lab.down()


def fixer(lab: Lab, journal: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = ["python3", "-m", "fixer.cli", *args]
    if args[0] in ("check", "apply", "rollback"):
        argv += ["-i", str(lab.inventory), "--known-hosts", str(lab.known_hosts), "--ssh-config", "/dev/null"]
    if args[0] in ("apply", "rollback"):
        argv += ["--journal", str(journal)]
    return lab.run(argv, capture_output=True, text=True, timeout=600, check=False,
                   env={**os.environ}, cwd=str(REPO))


def node_state(lab: Lab, name: str, path: str) -> tuple[str, str, bytes]:
    stat = lab.node_exec(name, ["stat", "-c", "%U:%G %a", path], check=True).stdout.strip()
    owner, mode = stat.split()
    return owner, mode, lab.node_path(name, path).read_bytes()


def restarts(lab: Lab, name: str) -> int:
    log = lab.node_path(name, LOG)
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text().splitlines() if " restart " in f" {line} " and "ok" in line)


def lab_digest(lab: Lab) -> str:
    h = hashlib.sha256()
    for name in MPS:
        root = lab.node_path(name, "/opt/apigee")
        for path in sorted(root.rglob("*")):
            if path.is_file() and "/var/" not in str(path):
                st = path.stat()
                h.update(f"{path}:{st.st_uid}:{st.st_gid}:{st.st_mode}".encode())
                h.update(path.read_bytes())
    return h.hexdigest()


def test_fix_then_roll_back_exactly(apply_lab: Lab, tmp_path: Path) -> None:
    lab = apply_lab
    journal = tmp_path / "journal.sqlite3"
    limit = ",".join(MPS)
    playbook = str(REPO / "playbooks" / "enable-sni.yml")
    original = {name: node_state(lab, name, CUSTOMER) for name in MPS}
    before_restarts = {name: restarts(lab, name) for name in MPS}

    # 1. check names the problem
    check = fixer(lab, journal, "check", "-l", limit, "--format", "json")
    assert check.returncode == 1, check.stderr
    broken = {h["name"] for h in json.loads(check.stdout)["hosts"] if h["findings"]}
    assert broken == set(BROKEN)

    # 2. a dry run shows the diffs and changes nothing anywhere, not even the journal
    digest = lab_digest(lab)
    dry = fixer(lab, journal, "apply", playbook, "-l", limit, "--check")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "+conf_system_jsse.enableSNIExtension=true" in dry.stdout
    assert lab_digest(lab) == digest
    assert not journal.exists()

    # 3. the real apply fixes every broken MP with one restart each, readiness passed
    run = fixer(lab, journal, "apply", playbook, "-l", limit, "--format", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    doc = json.loads(run.stdout)
    run_id = doc["run_id"]
    assert run_id
    for name in BROKEN:
        owner, _mode, content = node_state(lab, name, CUSTOMER)
        assert owner == "apigee:apigee"
        assert b"conf_system_jsse.enableSNIExtension=true" in content
        generated = lab.node_path(name, GENERATED).read_text()
        assert "jsse.enableSNIExtension=true" in generated
        assert restarts(lab, name) == before_restarts[name] + 1, name
    for name in ("mp-healthy", "mp-plus-form"):
        assert node_state(lab, name, CUSTOMER) == original[name]
        assert restarts(lab, name) == before_restarts[name]
    after_check = fixer(lab, journal, "check", "-l", limit)
    assert after_check.returncode == 0, after_check.stdout

    # 4. idempotent: a second identical apply changes and restarts nothing
    again = fixer(lab, journal, "apply", playbook, "-l", limit, "--format", "json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert {h["status"] for p in json.loads(again.stdout)["plays"] for h in p["hosts"]} == {"unchanged"}
    assert all(restarts(lab, n) == before_restarts[n] + (1 if n in BROKEN else 0) for n in MPS)

    # 5. the journal tells the story
    shown = fixer(lab, journal, "runs", "--journal", str(journal))
    assert run_id in shown.stdout

    # 6. rollback: every byte, owner and mode back, services restarted
    back = fixer(lab, journal, "rollback", run_id)
    assert back.returncode == 0, back.stdout + back.stderr
    for name in MPS:
        assert node_state(lab, name, CUSTOMER) == original[name], name
    for name in BROKEN:
        assert restarts(lab, name) == before_restarts[name] + 2
    assert fixer(lab, journal, "check", "-l", limit).returncode == 1

    # 7. re-running a finished rollback changes nothing
    twice = fixer(lab, journal, "rollback", run_id, "--format", "json")
    assert twice.returncode == 0, twice.stdout + twice.stderr
    for name in BROKEN:
        assert restarts(lab, name) == before_restarts[name] + 2


def test_jce_unlimited_uses_the_nodes_facts(apply_lab: Lab, tmp_path: Path) -> None:
    """The playbook learns each MP's java.security from the node; pre-8u151 Java gets a note, no change."""
    lab = apply_lab
    journal = tmp_path / "journal.sqlite3"
    security = "/opt/java/jdk8u161/jre/lib/security/java.security"
    original = node_state(lab, "mp-jce-limited", security)
    old_java = lab_digest_of(lab, "mp-jce-old")
    run = fixer(lab, journal, "apply", "jce-unlimited", "-l", "mp-jce-limited,mp-jce-old", "--format", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    hosts = {h["name"]: h for p in json.loads(run.stdout)["plays"] for h in p["hosts"]}
    assert hosts["mp-jce-limited"]["status"] == "ok"
    assert hosts["mp-jce-old"]["status"] == "unchanged"
    assert any("JCE" in note for note in hosts["mp-jce-old"]["notes"])
    assert b"crypto.policy=unlimited" in lab.node_path("mp-jce-limited", security).read_bytes()
    assert lab_digest_of(lab, "mp-jce-old") == old_java
    check = fixer(lab, journal, "check", "-l", "mp-jce-limited,mp-jce-old", "--format", "json")
    found = {h["name"]: [f["id"] for f in h["findings"]] for h in json.loads(check.stdout)["hosts"]}
    assert found == {"mp-jce-limited": [], "mp-jce-old": ["jce-limited"]}
    back = fixer(lab, journal, "rollback", json.loads(run.stdout)["run_id"])
    assert back.returncode == 0, back.stdout + back.stderr
    assert node_state(lab, "mp-jce-limited", security) == original


def lab_digest_of(lab: Lab, name: str) -> str:
    h = hashlib.sha256()
    for path in sorted(lab.node_path(name, "/opt/java").rglob("*")):
        if path.is_file():
            h.update(str(path).encode() + path.read_bytes())
    return h.hexdigest()


def test_router_tls_fixes_protocols_and_drift_then_rolls_back(apply_lab: Lab, tmp_path: Path) -> None:
    lab = apply_lab
    journal = tmp_path / "journal.sqlite3"
    routers = "rt-weak-protocol,rt-drift,rt-healthy"
    conf = "/opt/nginx/conf.d/0-default.conf"
    customer = "/opt/apigee/customer/application/router.properties"
    original = {n: (node_state(lab, n, customer), lab.node_path(n, conf).read_bytes()) for n in routers.split(",")}
    run = fixer(lab, journal, "apply", "router-tls", "-l", routers, "--format", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    status = {h["name"]: h["status"] for p in json.loads(run.stdout)["plays"] for h in p["hosts"]}
    assert status == {"rt-weak-protocol": "ok", "rt-drift": "ok", "rt-healthy": "unchanged"}
    for name in ("rt-weak-protocol", "rt-drift"):
        assert "ssl_protocols TLSv1.2 TLSv1.3;" in lab.node_path(name, conf).read_text(), name
    check = fixer(lab, journal, "check", "-l", routers, "--format", "json")
    assert check.returncode == 0, check.stdout  # no weak protocol, no drift left
    # the routers really serve TLS 1.3 again: nginx reloaded the regenerated conf
    probe = lab.run(["openssl", "s_client", "-connect", f"{lab.nodes['rt-weak-protocol']}:443", "-tls1_3"],
                    input="", capture_output=True, text=True, timeout=30)
    assert "TLSv1.3" in probe.stdout, probe.stdout + probe.stderr
    back = fixer(lab, journal, "rollback", json.loads(run.stdout)["run_id"])
    assert back.returncode == 0, back.stdout + back.stderr
    for name, (props, _generated) in original.items():
        assert node_state(lab, name, customer) == props, name


def test_rollback_refuses_drift_unless_forced_and_can_itself_be_rolled_back(apply_lab: Lab, tmp_path: Path) -> None:
    lab = apply_lab
    journal = tmp_path / "journal.sqlite3"
    name = "mp-sni-off"
    original = node_state(lab, name, CUSTOMER)
    run = fixer(lab, journal, "apply", "enable-sni", "-l", name, "--format", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    run_id = json.loads(run.stdout)["run_id"]
    fixed = node_state(lab, name, CUSTOMER)

    # someone edits the file after the run: the rollback refuses that host and shows the three versions
    path = lab.node_path(name, CUSTOMER)
    path.write_bytes(path.read_bytes() + b"# edited by hand after the run\n")
    edited = node_state(lab, name, CUSTOMER)
    refused = fixer(lab, journal, "rollback", run_id)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "drifted" in refused.stdout and "--force" in refused.stdout
    assert f"(what run {run_id} wrote)" in refused.stdout and "(now)" in refused.stdout
    assert "+# edited by hand after the run" in refused.stdout
    assert node_state(lab, name, CUSTOMER) == edited  # untouched

    # --check shows the same refusal and changes nothing; --force restores the original anyway
    assert fixer(lab, journal, "rollback", run_id, "--check").returncode == 1
    forced = fixer(lab, journal, "rollback", run_id, "--force", "--format", "json")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert node_state(lab, name, CUSTOMER) == original
    rollback_id = json.loads(forced.stdout)["run_id"]

    # a rollback is a run: rolling it back puts back what it replaced (the hand-edited file)
    undo = fixer(lab, journal, "rollback", rollback_id)
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert node_state(lab, name, CUSTOMER) == edited
    assert fixed != edited
