"""End to end proof that SNI on the MP matters to a real Java 17 client (tests/lab/SniClient.java).

The client runs inside an MP node with the MP's effective system properties (its generated system.properties)
and calls the SNI-only backend be-sni. On mp-sni-e2e (SNI off, a node only this module changes): it fails with
"unrecognized_name"; `fixer apply enable-sni.yml` makes it succeed; `fixer rollback` makes it fail again.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.lab import Lab

pytestmark = pytest.mark.lab

REPO = Path(__file__).parents[2]
CLIENT = REPO / "tests" / "lab" / "SniClient.java"
NODE = "mp-sni-e2e"
GENERATED = "/opt/apigee/edge-message-processor/conf/system.properties"
# A quick, small JVM: C1 only, serial GC, no hsperfdata file
JAVA = ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:-UsePerfData", "-Xshare:auto"]


def java_client(lab: Lab, node: str, backend: str) -> subprocess.CompletedProcess[str]:
    # the node has its own /tmp (and the checkout may live there): run a copy from the node's /opt
    inner = "/opt/lab-tests/SniClient.java"
    copy = lab.node_path(node, inner)
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(CLIENT.read_bytes())
    argv = [*JAVA, inner, GENERATED, lab.node_backend_ca, lab.backend_url(backend)]
    return lab.node_exec(node, argv, timeout=60)


def fixer(lab: Lab, journal: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = ["python3", "-m", "fixer.cli", *args, "-i", str(lab.inventory), "--known-hosts", str(lab.known_hosts),
            "--ssh-config", "/dev/null", "--journal", str(journal)]
    return lab.run(argv, capture_output=True, text=True, timeout=300, check=False, env={**os.environ},
                   cwd=str(REPO))


def test_enable_sni_fixes_a_real_java_client_and_rollback_breaks_it_again(lab: Lab, tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    before = java_client(lab, NODE, "be-sni")
    assert before.returncode == 1, before.stdout + before.stderr
    assert "jsse.enableSNIExtension=false (MP default)" in before.stdout
    assert "Received fatal alert: unrecognized_name" in before.stdout

    run = fixer(lab, journal, "apply", str(REPO / "playbooks" / "enable-sni.yml"), "-l", NODE, "--format", "json")
    run_id = None
    try:
        assert run.returncode == 0, run.stdout + run.stderr
        run_id = json.loads(run.stdout)["run_id"]
        fixed = java_client(lab, NODE, "be-sni")
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        assert f"jsse.enableSNIExtension=true (from {GENERATED})" in fixed.stdout
        assert "OK HTTP 200" in fixed.stdout
    finally:
        # Put the shared node back even when an assertion above failed.
        if run_id is None and run.stdout.strip().startswith("{"):
            run_id = json.loads(run.stdout).get("run_id")
        back = fixer(lab, journal, "rollback", run_id) if run_id else None
    assert back is not None and back.returncode == 0, back and back.stdout + back.stderr

    after = java_client(lab, NODE, "be-sni")
    assert after.returncode == 1, after.stdout + after.stderr
    assert "Received fatal alert: unrecognized_name" in after.stdout


def test_java_17_shares_no_suite_with_be_cipher(lab: Lab) -> None:
    """be-cipher (TLS 1.2, ARIA/CAMELLIA only) really is out of reach for the MP's Java, SNI on or not."""
    proc = java_client(lab, "mp-healthy", "be-cipher")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Received fatal alert: handshake_failure" in proc.stdout, proc.stdout
