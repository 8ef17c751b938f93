"""`fixer check` of the routers' northbound certificates against the lab's real nginx routers.

rt-healthy serves the lab CA's leaf named after it (inventory: `fixer_router_cafile` = the lab root CA);
rt-cert-bad had its `server.crt` overwritten after nginx started, without a reload, by an expired self-signed
certificate for another key and another name (tests/lab/router_certs.py): nginx still serves the old one.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fixer.report.json_report import load_schema
from tests.lab import Lab
from tests.lab.router_certs import WRONG_NAME

pytestmark = pytest.mark.lab

REPO = Path(__file__).parents[2]
CONF = "/opt/nginx/conf.d/0-default.conf"
CERT = "/opt/nginx/ssl/server.crt"
KEY = "/opt/nginx/ssl/server.key"
BAD = {"router-cert-expired", "router-cert-key-mismatch", "router-cert-name-mismatch", "router-served-cert-differs"}


def fixer(lab: Lab, *args: str, inventory: Path | None = None) -> subprocess.CompletedProcess[str]:
    argv = ["python3", "-m", "fixer.cli", "check", "-i", str(inventory or lab.inventory), "--known-hosts",
            str(lab.known_hosts), "--ssh-config", "/dev/null", "-T", "5", *args]
    return lab.run(argv, capture_output=True, text=True, timeout=300, check=False, env=dict(os.environ),
                   cwd=str(REPO))


@pytest.fixture(scope="module")
def report(lab: Lab) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = fixer(lab, "-l", "rt-healthy,rt-cert-bad", "--format", "json")
    assert proc.stdout, proc.stderr
    return proc, json.loads(proc.stdout)


def _hosts(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {h["name"]: h for h in doc["hosts"]}


def _findings(host: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in host["findings"]}


def test_bad_certificate_findings_and_none_on_the_healthy_router(
        report: tuple[subprocess.CompletedProcess[str], dict[str, Any]]) -> None:
    proc, doc = report
    hosts = _hosts(doc)
    healthy, bad = hosts["rt-healthy"], hosts["rt-cert-bad"]
    assert healthy["error"] is None and bad["error"] is None, (healthy["error"], bad["error"])
    assert healthy["status"] == "ok" and healthy["findings"] == []
    assert set(_findings(bad)) == BAD
    assert proc.returncode == 1  # error findings (expired, key mismatch)
    jsonschema.validate(doc, load_schema())


def test_evidence_names_the_directive_and_the_certificates(
        report: tuple[subprocess.CompletedProcess[str], dict[str, Any]]) -> None:
    found = _findings(_hosts(report[1])["rt-cert-bad"])
    expired = found["router-cert-expired"]
    assert (expired["severity"], expired["cause"]) == ("error", "certificate")
    (ev,) = expired["evidence"]
    assert (ev["file"], ev["line"]) == (CONF, 5)  # `    ssl_certificate /opt/nginx/ssl/server.crt;`
    assert ev["values"]["ssl_certificate"] == CERT
    assert ev["values"]["subject"] == f"CN={WRONG_NAME},O=fixer lab"
    assert ev["values"]["notAfter"].endswith("Z")
    names = found["router-cert-name-mismatch"]
    assert names["severity"] == "warning"
    assert names["evidence"][0]["values"]["not_covered"] == "rt-cert-bad"
    assert f"DNS:{WRONG_NAME}" in names["evidence"][1]["values"]["names"]
    served = found["router-served-cert-differs"]["evidence"][1]["values"]
    assert served["served_subject"] == "CN=rt-cert-bad,O=fixer lab"  # the old leaf nginx still serves
    assert served["accepted_protocols"] == "TLSv1.2 TLSv1.3"


def test_key_check_uses_a_digest_and_the_key_never_leaves_the_node(
        lab: Lab, report: tuple[subprocess.CompletedProcess[str], dict[str, Any]]) -> None:
    proc, doc = report
    key_pem = lab.node_path("rt-cert-bad", KEY).read_bytes()
    key = serialization.load_pem_private_key(key_pem, None)
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    mismatch = _findings(_hosts(doc)["rt-cert-bad"])["router-cert-key-mismatch"]
    assert mismatch["severity"] == "error"
    assert mismatch["evidence"][1]["values"]["key_public_key_sha256"] == hashlib.sha256(spki).hexdigest()
    body = b"".join(key_pem.strip().splitlines()[1:-1]).decode()  # the base64 of the key
    for text in (proc.stdout, proc.stderr):
        assert "PRIVATE KEY" not in text
        assert body[:40] not in text and body[-40:] not in text


def test_facts_carry_the_certificate_and_the_listener_probe(
        lab: Lab, report: tuple[subprocess.CompletedProcess[str], dict[str, Any]]) -> None:
    facts = _hosts(report[1])["rt-healthy"]["facts"]
    (cert,) = facts["certificates"]
    assert cert["path"] == CERT and cert["error"] is None
    assert cert["pem"] == lab.node_path("rt-healthy", CERT).read_text()
    (key,) = facts["keys"]
    assert key["path"] == KEY and len(key["public_key_sha256"]) == 64
    (listener,) = facts["listeners"]
    assert listener["address"] == lab.nodes["rt-healthy"] and listener["port"] == 443
    assert listener["servername"] == "rt-healthy" and listener["status"] == "ok"
    assert listener["protocols"] == ["TLSv1.2", "TLSv1.3"]
    leaf = x509.load_pem_x509_certificate(cert["pem"].encode())
    assert listener["served_sha256"] == hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()


def _inventory_with(lab: Lab, tmp_path: Path, host: str, **host_vars: object) -> Path:
    doc = yaml.safe_load(lab.inventory.read_text())
    doc["all"]["children"]["routers"]["hosts"][host].update(host_vars)
    inv = tmp_path / "inventory.yml"
    inv.write_text(yaml.safe_dump(doc))
    (tmp_path / "group_vars").symlink_to(lab.inventory.parent / "group_vars")
    return inv


def test_probes_can_be_turned_off(lab: Lab, tmp_path: Path) -> None:
    inv = _inventory_with(lab, tmp_path, "rt-cert-bad", fixer_probe_listeners=False)
    proc = fixer(lab, "-l", "rt-cert-bad", "--format", "json", inventory=inv)
    (host,) = json.loads(proc.stdout)["hosts"]
    assert set(_findings(host)) == BAD - {"router-served-cert-differs"}
    assert host["facts"]["listeners"] == [] and host["facts"]["listeners_probed"] is False


def test_a_listener_that_does_not_answer(lab: Lab, tmp_path: Path) -> None:
    """A conf dir (in the node's private /tmp) whose TLS server listens on a port nothing serves."""
    conf = ("server {\n    listen 4433 ssl;\n    server_name rt-healthy;\n"
            f"    ssl_certificate {CERT};\n    ssl_certificate_key {KEY};\n}}\n")
    made = lab.node_exec("rt-healthy", ["sh", "-c", 'mkdir -p /tmp/fx-rtc && cat > /tmp/fx-rtc/x.conf'], input=conf)
    assert made.returncode == 0, made.stderr
    try:
        inv = _inventory_with(lab, tmp_path, "rt-healthy", nginx_conf_dir="/tmp/fx-rtc")
        proc = fixer(lab, "-l", "rt-healthy", "--format", "json", inventory=inv)
        (host,) = json.loads(proc.stdout)["hosts"]
        # (nginx's default ssl_protocols there also differ from router.properties: drift, weak protocols)
        finding = _findings(host)["router-listener-unreachable"]
        assert finding["severity"] == "warning" and finding["cause"] == "config"
        assert not {f for f in _findings(host) if f.startswith("router-cert")}
        values = finding["evidence"][0]["values"]
        assert values["probed"] == f"{lab.nodes['rt-healthy']}:4433" and "refused" in values["result"]
    finally:
        lab.node_exec("rt-healthy", ["rm", "-rf", "/tmp/fx-rtc"])
