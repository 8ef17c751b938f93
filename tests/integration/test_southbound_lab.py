"""Southbound: the lab's TLS backends (tests/lab/backends.py) seen from a message processor.

1. `fixer probe --from mp-healthy` agrees with `openssl s_client` run inside mp-healthy (its netns and /etc/hosts)
   on the protocols, on SNI being required, on the chain presented and on the verify result;
2. `fixer cert verify` agrees with `openssl verify` on every backend's certificate file;
3. `fixer check` with host var `fixer_targets` names each backend's problem, per MP (SNI on / off).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from fixer.certs.verify import verify_chain
from fixer.probe.handshake import PROBE_CIPHERS
from tests.lab import Lab

pytestmark = pytest.mark.lab

REPO = Path(__file__).parents[2]
VANTAGE = "mp-healthy"
MODERN = frozenset({"TLSv1.2", "TLSv1.3"})
HOSTNAME_MISMATCH = 62  # X509_V_ERR_HOSTNAME_MISMATCH
S_CLIENT_PROTOCOLS = {"TLSv1": "-tls1", "TLSv1.1": "-tls1_1", "TLSv1.2": "-tls1_2", "TLSv1.3": "-tls1_3"}
LEGACY_CIPHERS = ("-cipher", PROBE_CIPHERS)  # what fixer's probe offers for TLS <= 1.2


@dataclass(frozen=True)
class Expect:
    protocols: frozenset[str]
    sni_required: bool | None
    verify: int | None  # s_client's verify code with the lab CA and the hostname checked; None: no handshake
    findings: frozenset[str]  # target-* finding ids for this backend, on every MP


EXPECTED: dict[str, Expect] = {
    "be-good": Expect(MODERN, False, 0, frozenset()),
    "be-tls10": Expect(frozenset({"TLSv1"}), False, 0, frozenset({"target-protocol-mismatch"})),
    "be-sni": Expect(MODERN, True, 0, frozenset({"target-sni-required"})),
    "be-expired": Expect(MODERN, False, 10, frozenset({"target-cert-expired"})),
    "be-incomplete": Expect(MODERN, False, 20, frozenset({"target-cert-chain-incomplete"})),
    "be-selfsigned": Expect(MODERN, False, 18, frozenset({"target-cert-untrusted"})),
    "be-hostname": Expect(MODERN, False, HOSTNAME_MISMATCH, frozenset({"target-cert-hostname-mismatch"})),
    # only ARIA/CAMELLIA suites: the probe's wide offer gets TLS 1.2, Java 17's suites do not
    "be-cipher": Expect(frozenset({"TLSv1.2"}), False, 0, frozenset({"target-cipher-mismatch"})),
    "be-unreachable": Expect(frozenset(), None, None, frozenset({"target-unreachable"})),
}


def fixer(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI, in the bridge netns like every lab client (the MPs are reached over SSH)."""
    return lab.run(["python3", "-m", "fixer.cli", *args], capture_output=True, text=True, timeout=300, check=False,
                   env={**os.environ}, cwd=str(REPO))


def ssh_args(inventory: Path | str, lab: Lab) -> list[str]:
    return ["-i", str(inventory), "--known-hosts", str(lab.known_hosts), "--ssh-config", "/dev/null"]


def test_every_backend_is_in_the_lab(lab: Lab) -> None:
    assert set(lab.backends) == set(EXPECTED)
    for name, backend in lab.backends.items():
        assert backend.ip.startswith(f"127.77.{lab.state.octet}.")
        assert backend.url == f"https://{backend.dns}:443/" == lab.backend_url(name)
        assert (backend.cert is None) == (name == "be-unreachable")
    assert lab.backend_ca.read_bytes() == lab.ca_file.read_bytes()  # one lab root for routers and backends
    # MPs resolve the backends by name (their /etc/hosts copies) and hold the CA files
    hosts = lab.node_exec(VANTAGE, ["getent", "hosts", lab.backends["be-good"].dns], check=True).stdout
    assert hosts.split()[0] == lab.backends["be-good"].ip
    node_ca = lab.node_exec(VANTAGE, ["cat", lab.node_backend_ca], check=True).stdout
    assert node_ca == lab.backend_ca.read_text()


# --- 1. fixer probe --from MP == openssl s_client on the MP ---------------------------------------------------


@pytest.fixture(scope="module")
def probes(lab: Lab) -> dict[str, dict[str, Any]]:
    """One `fixer probe --from mp-healthy` run over every backend."""
    targets = [b.target for b in lab.backends.values()]
    proc = fixer(lab, "probe", *targets, "--from", VANTAGE, "--format", "json", *ssh_args(lab.inventory, lab))
    assert proc.returncode == 1, proc.stderr  # some targets complete no handshake at all
    results = json.loads(proc.stdout)["results"]
    by_host = {r["target"]["host"]: r for r in results}
    return {name: by_host[b.dns] for name, b in lab.backends.items()}


@dataclass(frozen=True)
class SClient:
    ok: bool
    output: str

    @property
    def verify_code(self) -> int:
        """The first verify error s_client reports (it stops there with -verify_return_error), else 0."""
        match = re.search(r"verify error:num=(\d+)", self.output)
        return int(match.group(1)) if match else 0

    def chain_sha256(self) -> list[str]:
        blocks = re.findall(r"-----BEGIN CERTIFICATE-----\n(.*?)-----END CERTIFICATE-----", self.output, re.S)
        return [hashlib.sha256(base64.b64decode("".join(b.split()))).hexdigest() for b in blocks]


def s_client(lab: Lab, target: str, *options: str) -> SClient:
    argv = ["openssl", "s_client", "-connect", target, *options]
    proc = lab.node_exec(VANTAGE, argv, input="", timeout=30)
    out = proc.stdout + proc.stderr
    return SClient(proc.returncode == 0 and "Cipher is (NONE)" not in out and "Protocol" in out, out)


def protocol_options(protocol: str) -> tuple[str, ...]:
    flag = S_CLIENT_PROTOCOLS[protocol]
    return (flag,) if protocol == "TLSv1.3" else (flag, *LEGACY_CIPHERS)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_probe_agrees_with_s_client_on_the_mp(lab: Lab, probes: dict[str, dict[str, Any]], name: str) -> None:
    backend, result, expect = lab.backends[name], probes[name], EXPECTED[name]
    assert result["via"] == "tunnel" and result["vantage"] == VANTAGE

    # protocols, one s_client per version (with SNI, TLS <= 1.2 with the probe's cipher string)
    seen = {p: s_client(lab, backend.target, "-servername", backend.dns, "-brief", *protocol_options(p))
            for p in S_CLIENT_PROTOCOLS}
    assert result["protocols"] == {p: s.ok for p, s in seen.items()}, {p: s.output[-300:] for p, s in seen.items()}
    assert {p for p, ok in result["protocols"].items() if ok} == expect.protocols

    # SNI, at the highest protocol the backend speaks
    if not expect.protocols:
        assert result["sni_required"] is None
        kinds = {h["failure"]["kind"] for h in result["handshakes"] if h["failure"]}
        assert name == "be-unreachable"
        assert kinds == {"refused"} and "Connection refused" in seen["TLSv1.2"].output
        return
    best = max(expect.protocols, key=list(S_CLIENT_PROTOCOLS).index)
    with_sni = s_client(lab, backend.target, "-servername", backend.dns, "-brief", *protocol_options(best))
    without = s_client(lab, backend.target, "-noservername", "-brief", *protocol_options(best))
    assert with_sni.ok
    assert result["sni_required"] is (not without.ok) is expect.sni_required, without.output[-300:]
    if expect.sni_required:
        assert "unrecognized name" in without.output
        no_sni = [h for h in result["handshakes"] if not h["sni"]]
        assert no_sni and all(h["failure"]["alert"] == "unrecognized_name" for h in no_sni)

    # the chain presented (with SNI): same certificates, in order, as s_client shows
    shown = s_client(lab, backend.target, "-servername", backend.dns, "-showcerts", *protocol_options(best))
    presented = [c["sha256"] for c in result["chain_with_sni"]]
    assert presented == shown.chain_sha256()
    assert backend.cert is not None
    leaf = x509.load_pem_x509_certificate(backend.cert.read_bytes())
    assert presented[0] == leaf.fingerprint(hashes.SHA256()).hex()  # the lab's file for this backend

    # verify: s_client with the lab CA (inside the MP) and the hostname vs fixer's verifier on that chain
    verified = s_client(lab, backend.target, "-servername", backend.dns, "-brief", *protocol_options(best),
                        "-CAfile", lab.node_backend_ca, "-verify_return_error", "-verify_hostname", backend.dns)
    assert verified.ok == (verified.verify_code == 0), verified.output[-400:]
    roots = [x509.load_pem_x509_certificate(lab.backend_ca.read_bytes())]
    mine = verify_chain(leaf, [], roots, None, backend.dns)
    fixer_code = mine.code if not mine.ok else (HOSTNAME_MISMATCH if mine.hostname_ok is False else 0)
    assert fixer_code == verified.verify_code == expect.verify, (mine, verified.output[-400:])


# --- 2. fixer cert verify == openssl verify on the files -----------------------------------------------------


# `openssl verify -CAfile ca.pem LEAF` on each backend's file (no hostname, no -untrusted): 0 unless listed
FILE_VERIFY = {"be-expired": 10, "be-incomplete": 20, "be-selfsigned": 18}


def _verify_cases() -> list[tuple[str, bool, bool]]:
    """(backend, with the intermediate as -untrusted, with the backend's name as hostname)."""
    names = [n for n in EXPECTED if n != "be-unreachable"]
    return [(n, False, False) for n in names] + [("be-incomplete", True, False), ("be-hostname", False, True),
                                                 ("be-good", False, True), ("be-incomplete", True, True)]


@pytest.mark.parametrize(("name", "untrusted", "hostname"), _verify_cases())
def test_cert_verify_agrees_with_openssl_verify(lab: Lab, name: str, untrusted: bool, hostname: bool) -> None:
    backend = lab.backends[name]
    assert backend.cert is not None
    extra_openssl: list[str] = ["-untrusted", str(lab.backend_intermediate)] if untrusted else []
    extra_fixer: list[str] = ["--untrusted", str(lab.backend_intermediate)] if untrusted else []
    if hostname:
        extra_openssl += ["-verify_hostname", backend.dns]
        extra_fixer += ["--hostname", backend.dns]
    ossl = subprocess.run(["openssl", "verify", "-CAfile", str(lab.backend_ca), *extra_openssl, str(backend.cert)],
                          capture_output=True, text=True, timeout=30, check=False)
    mine = subprocess.run(["python3", "-m", "fixer.cli", "cert", "verify", str(backend.cert), "--cafile",
                           str(lab.backend_ca), *extra_fixer, "--format", "json"],
                          capture_output=True, text=True, timeout=60, check=False, cwd=str(REPO))
    assert mine.returncode in (0, 1), mine.stderr
    doc = json.loads(mine.stdout)
    assert (mine.returncode == 0) == (ossl.returncode == 0) == doc["valid"], (ossl.stdout, ossl.stderr, doc)
    match = re.search(r"error (\d+) at (\d+) depth", ossl.stdout + ossl.stderr)
    ossl_code = int(match.group(1)) if match else 0
    fixer_code = doc["code"] if not doc["ok"] else (HOSTNAME_MISMATCH if doc["hostname_ok"] is False else 0)
    assert fixer_code == ossl_code, (ossl.stdout + ossl.stderr, doc)
    if match and not doc["ok"]:
        assert doc["depth"] == int(match.group(2))
    expected = FILE_VERIFY.get(name, 0)
    if untrusted and name == "be-incomplete":
        expected = 0  # the intermediate given, the chain is complete
    if hostname and name == "be-hostname":
        expected = HOSTNAME_MISMATCH
    assert fixer_code == expected


# --- 3. fixer check: southbound findings from fixer_targets ----------------------------------------------------

CHECK_MPS = {"mp-healthy": True, "mp-sni-off": False}  # name -> SNI enabled on the MP


@pytest.fixture(scope="module")
def southbound_report(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any]]:
    doc = yaml.safe_load(lab.inventory.read_text())
    mps = doc["all"]["children"]["message_processors"]["hosts"]
    targets = [{"url": b.url, "truststore": str(lab.backend_ca)} for b in lab.backends.values()]
    for name in CHECK_MPS:
        mps[name]["fixer_targets"] = targets
    top = tmp_path_factory.mktemp("southbound")
    inventory = top / "inventory.yml"
    inventory.write_text(yaml.safe_dump(doc, sort_keys=False))
    (top / "group_vars").symlink_to(lab.inventory.parent / "group_vars")
    proc = fixer(lab, "check", *ssh_args(inventory, lab), "-l", ",".join(CHECK_MPS), "-T", "10", "--format", "json")
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _target_findings(host: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [f for f in host["findings"] if f["id"].startswith("target-")
            and any(ev.get("values", {}).get("target") == url for ev in f["evidence"])]


def test_check_runs_on_both_mps(southbound_report: tuple[int, dict[str, Any]]) -> None:
    code, doc = southbound_report
    hosts = {h["name"]: h for h in doc["hosts"]}
    assert set(hosts) == set(CHECK_MPS)
    for name, host in hosts.items():
        assert host["error"] is None, (name, host["error"])
        assert host["facts"]["sni_enabled"] is CHECK_MPS[name]
    assert code == 1  # findings


@pytest.mark.parametrize("mp", list(CHECK_MPS))
@pytest.mark.parametrize("name", list(EXPECTED))
def test_check_names_each_backends_problem(lab: Lab, southbound_report: tuple[int, dict[str, Any]], mp: str,
                                           name: str) -> None:
    hosts = {h["name"]: h for h in southbound_report[1]["hosts"]}
    url = lab.backend_url(name)
    found = _target_findings(hosts[mp], url)
    assert {f["id"] for f in found} == set(EXPECTED[name].findings), [(f["id"], f["message"]) for f in found]
    for f in found:
        assert f["message"].startswith(url), f["message"]
        assert all(ev["values"]["target"] == url for ev in f["evidence"] if ev.get("values")), f["evidence"]
    if name == "be-sni":
        (sni,) = found
        assert sni["severity"] == ("info" if CHECK_MPS[mp] else "error")


def test_check_has_no_stray_target_findings(lab: Lab, southbound_report: tuple[int, dict[str, Any]]) -> None:
    """Every target-* finding belongs to one of the configured targets (by its evidence's "target")."""
    urls = {b.url for b in lab.backends.values()}
    for host in southbound_report[1]["hosts"]:
        for f in host["findings"]:
            if f["id"].startswith("target-"):
                targets = {ev.get("values", {}).get("target") for ev in f["evidence"]}
                assert targets & urls, (host["name"], f)


def test_expired_backend_really_is_expired(lab: Lab) -> None:
    """The lab's be-expired leaf expired in the past (two days ago), the others are valid for weeks."""
    now = dt.datetime.now(dt.UTC)
    for name, backend in lab.backends.items():
        if backend.cert is None:
            continue
        cert = x509.load_pem_x509_certificate(backend.cert.read_bytes())
        if name == "be-expired":
            assert cert.not_valid_after_utc < now
        else:
            assert cert.not_valid_after_utc > now + dt.timedelta(days=60)
