"""`fixer pcap` on captures the lab makes at test time from real handshakes (tests/lab/captures.py).

Each case of ``CASES`` is one capture of one TLS connection: openssl s_client, Python ssl and the Java 17
client (tests/lab/SniClient.java, run inside an MP) against the lab's backends, routers and tiny Python TCP
servers; tcpdump in the bridge namespace on br0 (Ethernet) or inside a node on `any` (Linux cooked v2, and v1
with `-y LINUX_SLL`) or on its eth0 (Ethernet). Two tests per case: what the capture is (client output and
file link type, independent of fixer; then the handshake fields fixer reads from it), and the verdict
`fixer pcap FILE --format json` gives, with its exit status.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.lab import Lab
from tests.lab.captures import CASES, Made, capture_all

pytestmark = pytest.mark.lab

REPO = Path(__file__).parents[2]
LINK_TYPES = {1: "EN10MB", 113: "LINUX_SLL", 276: "LINUX_SLL2"}
# What the client itself printed: proof that the scenario happened, whatever fixer reads from the capture.
CLIENT_SAYS = {
    "ok-tls13-openssl": "Verify return code: 0 (ok)",
    "ok-tls12-openssl-any": "Protocol  : TLSv1.2",
    "ok-tls13-python": "OK TLSv1.3",
    "ok-java": "OK HTTP 200",
    "protocol-tls12-vs-tls10": "unsupported protocol",
    "protocol-tls10-vs-modern": "FAILED",
    "cipher-openssl-router": "SSL alert number 40",
    "cipher-java-be-cipher": "Received fatal alert: handshake_failure",
    "sni-missing-openssl": "SSL alert number 112",
    "sni-missing-java": "Received fatal alert: unrecognized_name",
    "sni-unrecognized-python": "TLSV1_UNRECOGNIZED_NAME",
    "cert-selfsigned-tls12": "certificate verify failed",
    "cert-expired-tls12": "certificate verify failed",
    "cert-incomplete-tls13": "certificate verify failed",
    "cert-java-tls13": "PKIX path building failed",
    "server-closed-fin": "unexpected eof",
    "server-closed-fin-python": "EOF occurred in violation of protocol",
    "server-closed-rst": "errno=104",
    "incomplete-mid-handshake": "client stopped mid-handshake",
}
# Captures `fixer pcap` names wrongly (the parser and verdicts are another module's): case -> what the wire shows
# and what fixer says. Marked xfail, not strict: a fix makes them pass. Empty: every case is named right.
KNOWN_WRONG: dict[str, str] = {}


def verdict_param(name: str) -> Any:
    if name in KNOWN_WRONG:
        return pytest.param(name, marks=pytest.mark.xfail(reason=KNOWN_WRONG[name], strict=False))
    return name


@pytest.fixture(scope="module")
def made(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Made]:
    started = time.monotonic()
    result = capture_all(lab, tmp_path_factory.mktemp("pcap-lab"))
    print(f"\n{len(result)} captures in {time.monotonic() - started:.2f}s: "
          + ", ".join(f"{m.case.name} {m.seconds:.2f}s" for m in result.values()))
    return result


def fixer_pcap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fixer.cli", "pcap", *args], capture_output=True, text=True,
                          timeout=60, check=False, cwd=str(REPO), env={**os.environ})


def pcap_json(path: Path) -> tuple[int, dict[str, Any]]:
    proc = fixer_pcap(str(path), "--format", "json")
    assert proc.stdout.startswith("{"), f"rc {proc.returncode}: {proc.stderr}"
    doc: dict[str, Any] = json.loads(proc.stdout)
    return proc.returncode, doc


def link_type(path: Path) -> str:
    head = path.read_bytes()[:24]
    order = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    (link,) = struct.unpack(order + "I", head[20:24])
    return LINK_TYPES.get(link & 0x0FFFFFFF, str(link))


def only_connection(doc: dict[str, Any], name: str) -> dict[str, Any]:
    conns = doc["connections"]
    assert len(conns) == 1, f"{name}: {len(conns)} connections: {[c['verdict'] for c in conns]} {doc['notes']}"
    conn: dict[str, Any] = conns[0]
    return conn


def test_every_verdict_has_a_case() -> None:
    wanted = {"ok", "protocol-mismatch", "cipher-mismatch", "sni-missing", "sni-unrecognized",
              "certificate-rejected", "server-closed", "incomplete"}
    assert {c.verdict for c in CASES.values()} == wanted
    assert {c.link for c in CASES.values()} == set(LINK_TYPES.values())
    assert {c.server_version for c in CASES.values() if c.verdict == "ok"} == {"TLSv1.2", "TLSv1.3"}


@pytest.mark.parametrize("name", list(CASES))
def test_the_capture_shows_the_case(made: dict[str, Made], name: str) -> None:
    """Ground truth first (the client's own words, the file's link type), then the handshake fields."""
    case, m = CASES[name], made[name]
    assert CLIENT_SAYS[name] in m.client_output, f"{name}: the client said: {m.client_output[-800:]}"
    assert link_type(m.path) == case.link
    _, doc = pcap_json(m.path)
    conn = only_connection(doc, name)
    hello = conn["client_hello"]
    assert hello is not None, conn
    assert hello["max_version"] == case.client_max, hello
    assert hello["sni_present"] is case.sni, hello
    server_hello = conn["server_hello"]
    assert (server_hello["version"] if server_hello else None) == case.server_version, server_hello
    if case.alert is not None:
        plain = [(a["sender"], a["description"]) for a in conn["alerts"] if not a["encrypted"]]
        assert case.alert in plain, conn["alerts"]


@pytest.mark.parametrize("name", [verdict_param(n) for n in CASES])
def test_fixer_pcap_names_the_verdict(made: dict[str, Made], name: str) -> None:
    case, m = CASES[name], made[name]
    rc, doc = pcap_json(m.path)
    verdict = only_connection(doc, name)["verdict"]
    assert verdict["kind"] == case.verdict, f"{name} ({case.what}): fixer said {verdict}"
    assert verdict["inferred"] is case.inferred, verdict
    assert verdict["reason"] and (verdict["remediation"] or case.verdict in ("ok", "incomplete")), verdict
    assert rc == {"ok": 0, "incomplete": 4}.get(case.verdict, 1), (rc, verdict)


def test_all_captures_in_one_run(made: dict[str, Made]) -> None:
    """One `fixer pcap` over every file: the summary counts each verdict; the text report names them."""
    paths = [str(m.path) for m in made.values()]
    proc = fixer_pcap(*paths, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert len(doc["connections"]) == len(CASES)
    by_verdict = doc["summary"]["by_verdict"]
    correct = [c for n, c in CASES.items() if n not in KNOWN_WRONG]
    for verdict in {c.verdict for c in correct}:
        assert by_verdict.get(verdict, 0) >= sum(1 for c in correct if c.verdict == verdict), (verdict, by_verdict)
    text = fixer_pcap(*paths)
    assert text.returncode == 1, text.stderr
    for verdict in {c.verdict for c in correct}:
        assert verdict.upper() in text.stdout, verdict


def test_a_refused_connection_is_named(lab: Lab, tmp_path: Path) -> None:
    """be-unreachable answers the SYN with a RST: no TLS starts, and `fixer pcap` says why (not "no TLS")."""
    from tests.lab.captures import openssl, tcpdump

    backend = lab.backends["be-unreachable"]
    out = tmp_path / "refused.pcap"
    with tcpdump(lab, "bridge", "br0", out, f"host {backend.ip} and tcp port 443"):
        openssl(lab, "bridge", f"{backend.ip}:443", "-servername", backend.dns)
    rc, doc = pcap_json(out)
    (conn,) = doc["connections"]
    assert conn["client_hello"] is None and conn["verdict"]["kind"] == "connection-refused", conn
    assert "RST" in conn["verdict"]["reason"] and conn["verdict"]["finding"] == "target-unreachable"
    assert rc == 1
