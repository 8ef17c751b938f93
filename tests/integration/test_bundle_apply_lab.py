"""target-protocols.yml on a bundle host of the lab: dry-run diff, apply, journal and exact rollback of a
TargetEndpoint file, and a hostile (DOCTYPE) bundle file refused — bundle files handled like node files.

The bundle lives under /opt/bundles on the lab's bastion (a plain SSH node that only these tests touch),
grouped as `bundle_hosts` in an inventory copy.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.lab import Lab

pytestmark = pytest.mark.lab

REPO = Path(__file__).parents[2]
HOST = "bastion"
BUNDLE = "/opt/bundles/orders"
TARGET = f"{BUNDLE}/apiproxy/targets/default.xml"
ORIGINAL = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!-- orders proxy: the backend moved to TLS 1.2+ -->
<TargetEndpoint name="default">
    <Description>orders backend</Description>
    <HTTPTargetConnection>
        <SSLInfo>
            <Enabled>true</Enabled>
            <TrustStore>ref://orders-ts</TrustStore>
            <Protocols>
                <Protocol>TLSv1.1</Protocol>
            </Protocols>
        </SSLInfo>
        <URL>https://orders.backend.lab/v1</URL>
    </HTTPTargetConnection>
</TargetEndpoint>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE TargetEndpoint [<!ENTITY leak SYSTEM "file:///etc/shadow">]>
<TargetEndpoint name="default"><HTTPTargetConnection><URL>&leak;</URL></HTTPTargetConnection></TargetEndpoint>
"""


def _inventory(lab: Lab, tmp: Path) -> Path:
    doc = yaml.safe_load(lab.inventory.read_text())
    # not an Apigee node: no /opt/apigee/var/run for the run lock
    doc["all"]["children"]["bundle_hosts"] = {"hosts": {HOST: None}, "vars": {"fixer_lock_dir": "/var/tmp/fixer.lock"}}
    path = tmp / "inventory.yml"
    path.write_text(yaml.safe_dump(doc))
    for sub in ("group_vars", "host_vars"):  # the lab's variable directories sit beside its inventory
        if (lab.inventory.parent / sub).is_dir():
            (tmp / sub).symlink_to(lab.inventory.parent / sub)
    return path


def _fixer(lab: Lab, inventory: Path, journal: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = ["python3", "-m", "fixer.cli", *args, "-i", str(inventory), "--known-hosts", str(lab.known_hosts),
            "--ssh-config", "/dev/null", "--journal", str(journal)]
    return lab.run(argv, capture_output=True, text=True, timeout=300, check=False, env={**os.environ},
                   cwd=str(REPO))


def _put(lab: Lab, path: str, content: bytes) -> None:
    host_path = lab.node_path(HOST, path)
    host_path.parent.mkdir(parents=True, exist_ok=True)
    host_path.write_bytes(content)
    lab.node_exec(HOST, ["sh", "-c", f"chown -R fixer:fixer {BUNDLE} && chmod 0640 {path}"], check=True)


def _state(lab: Lab, path: str) -> tuple[str, bytes]:
    stat = lab.node_exec(HOST, ["stat", "-c", "%U:%G %a", path], check=True).stdout.strip()
    return stat, lab.node_path(HOST, path).read_bytes()


def test_target_protocols_dry_run_apply_and_rollback(lab: Lab, tmp_path: Path) -> None:
    _put(lab, TARGET, ORIGINAL)
    inventory, journal = _inventory(lab, tmp_path), tmp_path / "journal.sqlite3"
    original = _state(lab, TARGET)
    extra = ["-e", f"bundle_dir={BUNDLE}", "-e", "target_protocols=TLSv1.2,TLSv1.3"]

    dry = _fixer(lab, inventory, journal, "apply", "target-protocols.yml", "--check", *extra)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "-                <Protocol>TLSv1.1</Protocol>" in dry.stdout
    assert "+                <Protocol>TLSv1.2</Protocol>" in dry.stdout
    assert _state(lab, TARGET) == original and not journal.exists()

    run = _fixer(lab, inventory, journal, "apply", "target-protocols.yml", "--format", "json", *extra)
    assert run.returncode == 0, run.stdout + run.stderr
    run_id = json.loads(run.stdout)["run_id"]
    stat, content = _state(lab, TARGET)
    assert stat == original[0]  # owner and mode kept
    assert content == ORIGINAL.replace(
        b"<Protocol>TLSv1.1</Protocol>",
        b"<Protocol>TLSv1.2</Protocol>\n                <Protocol>TLSv1.3</Protocol>")

    again = _fixer(lab, inventory, journal, "apply", "target-protocols.yml", "--format", "json", *extra)
    assert again.returncode == 0, again.stdout + again.stderr
    assert {h["status"] for p in json.loads(again.stdout)["plays"] for h in p["hosts"]} == {"unchanged"}

    back = _fixer(lab, inventory, journal, "rollback", run_id)
    assert back.returncode == 0, back.stdout + back.stderr
    assert _state(lab, TARGET) == original


def test_hostile_bundle_file_is_refused_and_left_alone(lab: Lab, tmp_path: Path) -> None:
    path = f"{BUNDLE}/apiproxy/targets/evil.xml"
    _put(lab, path, XXE)
    inventory, journal = _inventory(lab, tmp_path), tmp_path / "journal.sqlite3"
    before = _state(lab, path)
    run = _fixer(lab, inventory, journal, "apply", "target-protocols.yml", "-e", f"bundle_dir={BUNDLE}",
                 "-e", "target_file=evil.xml", "-e", "target_protocols=TLSv1.2")
    assert run.returncode != 0
    assert "DOCTYPE" in run.stdout + run.stderr
    assert "/etc/shadow" not in run.stdout.replace("file:///etc/shadow", "")  # never expanded into output
    assert _state(lab, path) == before
