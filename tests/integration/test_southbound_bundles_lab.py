"""`fixer check --bundles`: the lab's backends as API proxy TargetEndpoints (exploded bundles and a zip), probed
from two MPs, findings grouped per backend, and the exact TargetEndpoint patch for the protocol mismatch.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_southbound_lab import EXPECTED
from tests.lab import Lab

pytestmark = pytest.mark.lab

REPO = Path(__file__).parents[2]
MPS = ("mp-healthy", "mp-sni-off")
TARGET_XML = """<?xml version="1.0" encoding="UTF-8"?>
<TargetEndpoint name="default">
    <HTTPTargetConnection>
        <SSLInfo>
            <Enabled>true</Enabled>
        </SSLInfo>
        <URL>{url}v1</URL>
    </HTTPTargetConnection>
</TargetEndpoint>
"""
TARGET_SERVER_XML = """<TargetEndpoint name="lb">
    <HTTPTargetConnection><LoadBalancer><Server name="orders-ts"/></LoadBalancer></HTTPTargetConnection>
</TargetEndpoint>
"""


def _bundles(lab: Lab, top: Path) -> Path:
    root = top / "bundles"
    for name, backend in lab.backends.items():
        xml = TARGET_XML.format(url=backend.url)
        if name == "be-expired":  # one bundle as the zip the Management API exports
            with zipfile.ZipFile(root / f"{name}.zip", "w") as archive:
                archive.writestr("apiproxy/targets/default.xml", xml)
            continue
        targets = root / name / "apiproxy" / "targets"
        targets.mkdir(parents=True)
        (targets / "default.xml").write_text(xml)
    lb = root / "lb" / "apiproxy" / "targets"
    lb.mkdir(parents=True)
    (lb / "lb.xml").write_text(TARGET_SERVER_XML)
    return root


@pytest.fixture(scope="module")
def report(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    top = tmp_path_factory.mktemp("bundles")
    (top / "bundles").mkdir()
    bundles = _bundles(lab, top)
    argv = ["python3", "-m", "fixer.cli", "check", "-i", str(lab.inventory), "--known-hosts", str(lab.known_hosts),
            "--ssh-config", "/dev/null", "-l", ",".join(MPS), "--bundles", str(bundles),
            "--truststore", str(lab.backend_ca), "--format", "json"]
    proc = lab.run(argv, capture_output=True, text=True, timeout=300, check=False, env={**os.environ}, cwd=str(REPO))
    return proc, bundles


def _doc(report: tuple[subprocess.CompletedProcess[str], Path]) -> dict[str, Any]:
    proc = report[0]
    assert proc.returncode == 1, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def test_every_backend_case_is_named_from_every_mp(lab: Lab, report: tuple[subprocess.CompletedProcess[str], Path]
                                                  ) -> None:
    doc = _doc(report)
    for host in doc["hosts"]:
        by_target: dict[str, set[str]] = {}
        for f in host["findings"]:
            if f["target"] is not None:
                by_target.setdefault(f["target"], set()).add(f["id"])
        for name, expect in EXPECTED.items():
            url = lab.backend_url(name) + "v1"
            assert by_target.get(url, set()) == set(expect.findings), (host["name"], name, by_target.get(url))


def test_findings_are_grouped_per_backend(lab: Lab, report: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    groups = {g["url"]: g for g in _doc(report)["targets"]}
    unreachable = groups[lab.backend_url("be-unreachable") + "v1"]
    assert unreachable["hosts"] == list(MPS)
    assert [(i["id"], i["hosts"]) for i in unreachable["issues"]] == [("target-unreachable", list(MPS))]
    sni = groups[lab.backend_url("be-sni") + "v1"]  # error from the MP without SNI, info from the other
    assert {(i["id"], i["severity"], tuple(i["hosts"])) for i in sni["issues"]} == {
        ("target-sni-required", "error", ("mp-sni-off",)), ("target-sni-required", "info", ("mp-healthy",))}
    assert lab.backend_url("be-good") + "v1" not in groups


def test_protocol_mismatch_carries_the_target_endpoint_patch(
        lab: Lab, report: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    bundles = report[1]
    host = next(h for h in _doc(report)["hosts"] if h["name"] == "mp-healthy")
    (finding,) = [f for f in host["findings"] if f["id"] == "target-protocol-mismatch"]
    xml = bundles / "be-tls10" / "apiproxy" / "targets" / "default.xml"
    assert finding["evidence"][0]["file"] == str(xml)
    assert finding["playbook"] == "target-protocols.yml"
    assert finding["apply_args"] == ["-l", "bundle_hosts", "-e", f"bundle_dir={bundles / 'be-tls10'}",
                                     "-e", "target_file=default.xml", "-e", "target_name=default",
                                     "-e", "target_protocols=TLSv1"]
    assert "+            <Protocols>\n+                <Protocol>TLSv1</Protocol>\n+            </Protocols>\n" \
        in finding["diff"]
    # the lab MPs' Java disables TLSv1 itself: the patch alone is not enough, and the finding says so
    assert "mp-tls-protocols.yml" in finding["remediation"]
    assert xml.read_text() == TARGET_XML.format(url=lab.backends["be-tls10"].url)  # a dry run: file untouched


def test_target_servers_are_listed_not_probed(report: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    assert "TargetServer(s) orders-ts: not probed" in report[0].stderr
