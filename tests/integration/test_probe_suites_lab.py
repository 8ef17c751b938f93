"""`fixer probe --ciphers` against the lab's real nginx routers, checked against `openssl s_client` per suite.

The truth: for every suite the scan could offer, one `openssl s_client -tlsX -cipher SUITE` (TLS 1.3:
`-ciphersuites SUITE`) in the lab's bridge netns; the suites whose handshake completes are the accepted ones.
The scan itself runs in-process from a worker thread that joined the bridge netns (threads it starts inherit
the namespace), and through the CLI with `--from` (tunnelled; the node-openssl fallback says "not available").
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fixer.probe.engine import probe
from fixer.probe.model import ProbeResult, ProbeTarget
from fixer.probe.suites import TLS13_SUITES, candidates, tls13_restrictable, to_iana
from tests.lab import Lab
from tests.lab.netns import enter_netns

pytestmark = pytest.mark.lab

REPO = Path(__file__).parents[2]
FLAGS = {"TLSv1": "-tls1", "TLSv1.1": "-tls1_1", "TLSv1.2": "-tls1_2", "TLSv1.3": "-tls1_3"}
RFC8446_SUITES = TLS13_SUITES[:5]  # the ones the lab's OpenSSL 3.0 (nginx and s_client) implements


@pytest.fixture(scope="module")
def netns_pool(lab: Lab) -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=1, initializer=enter_netns, initargs=(lab.bridge_netns,))
    try:
        yield pool
    finally:
        pool.shutdown()


def scan(lab: Lab, pool: ThreadPoolExecutor, router: str) -> ProbeResult:
    target = ProbeTarget(lab.nodes[router], 443, router)
    return pool.submit(probe, target, 5.0, ciphers=True).result(timeout=120)


def truth(lab: Lab, router: str, protocol: str) -> list[str]:
    """The suites `openssl s_client` completes a handshake with, one run per suite, in the scan's offer order."""
    if protocol == "TLSv1.3":
        suites, option = list(RFC8446_SUITES), "-ciphersuites"
    else:
        suites, option = list(candidates(protocol)), "-cipher"
    ip = lab.nodes[router]
    script = "\n".join(
        f'if timeout 10 openssl s_client -connect {ip}:443 -servername {shlex.quote(router)} {FLAGS[protocol]} '
        f'{option} {shlex.quote(s + ("" if protocol == "TLSv1.3" else ":@SECLEVEL=0"))} </dev/null 2>/dev/null '
        f'| grep -q {shlex.quote("Cipher is " + s + "$")}; then echo {shlex.quote(s)}; fi'
        for s in suites)
    proc = lab.run(["sh", "-c", script], capture_output=True, text=True, timeout=300, check=False)
    return [str(name) for name in proc.stdout.split()]


def expected(lab: Lab, router: str, protocol: str) -> tuple[str, ...]:
    names = truth(lab, router, protocol)
    return tuple(names) if protocol == "TLSv1.3" else to_iana(names)


# nginx without `ssl_prefer_server_ciphers on` follows the client's order: the scan lists the suites in the order
# it offers them, which is the order of the truth lists, and says so (server_order False)
ROUTERS = {
    "rt-healthy": ("TLSv1.2", "TLSv1.3"),
    "rt-cipher-mismatch": ("TLSv1.2",),
    "rt-weak-cipher": ("TLSv1.2",),  # HIGH:aNULL:NULL-SHA256: anonymous and NULL suites too
    "rt-weak-protocol": ("TLSv1", "TLSv1.1", "TLSv1.2"),  # TLSv1/1.1 enabled, but only TLS 1.2-only suites
}


@pytest.mark.parametrize("router", sorted(ROUTERS))
def test_scan_matches_s_client_per_suite(lab: Lab, netns_pool: ThreadPoolExecutor, router: str) -> None:
    r = scan(lab, netns_pool, router)
    s = r.suites
    assert s is not None and s.available and s.stopped == {}, s
    with ThreadPoolExecutor(max_workers=2) as pool:
        truths = dict(zip(ROUTERS[router], pool.map(lambda p: expected(lab, router, p), ROUTERS[router]),
                          strict=True))
    for protocol, want in truths.items():
        if protocol == "TLSv1.3" and not tls13_restrictable():
            assert s.accepted[protocol][0] in want
            continue
        assert s.accepted.get(protocol, ()) == want, (protocol, s.accepted.get(protocol), want)
        if len(want) >= 2:
            assert s.server_order[protocol] is False
    assert set(s.accepted) == {p for p, ok in r.protocols.items() if ok}
    assert r.negotiated is not None and r.negotiated.cipher is not None


def test_expected_lab_answers(lab: Lab, netns_pool: ThreadPoolExecutor) -> None:
    """What the lab's routers are configured with, as the scan reports it (IANA names)."""
    healthy = scan(lab, netns_pool, "rt-healthy").suites
    assert healthy is not None
    assert set(healthy.accepted["TLSv1.2"]) == {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                                 "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}
    if tls13_restrictable():  # nginx leaves OpenSSL's default TLS 1.3 suites
        assert set(healthy.accepted["TLSv1.3"]) == {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
                                                     "TLS_AES_128_GCM_SHA256"}
    mismatch = scan(lab, netns_pool, "rt-cipher-mismatch").suites
    assert mismatch is not None and mismatch.accepted == {"TLSv1.2": ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",)}
    weak = scan(lab, netns_pool, "rt-weak-cipher").suites
    assert weak is not None
    assert {"TLS_RSA_WITH_NULL_SHA256", "TLS_ECDH_anon_WITH_AES_256_CBC_SHA"} <= set(weak.accepted["TLSv1.2"])


# --- the CLI, through a node's tunnel and with the node-openssl fallback ----------------------------------


def fixer(lab: Lab, *args: str) -> dict[str, object]:
    argv = ["python3", "-m", "fixer.cli", "probe", *args, "--ciphers", "--format", "json", "-i", str(lab.inventory),
            "--known-hosts", str(lab.known_hosts), "--ssh-config", "/dev/null"]
    proc = lab.run(argv, capture_output=True, text=True, timeout=120, check=False, env={**os.environ},
                   cwd=str(REPO))
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)["results"][0]
    return result


def test_cli_ciphers_through_a_tunnel(lab: Lab, netns_pool: ThreadPoolExecutor) -> None:
    tunnelled = fixer(lab, "rt-healthy", "--from", "mp-healthy")
    assert tunnelled["via"] == "tunnel"
    suites = tunnelled["suites"]
    assert isinstance(suites, dict) and suites["available"] is True and suites["stopped"] == {}
    local = scan(lab, netns_pool, "rt-healthy").suites
    assert local is not None
    assert suites["accepted"] == {p: list(names) for p, names in local.accepted.items()}


def test_cli_ciphers_with_the_node_openssl_fallback(lab: Lab) -> None:
    fallback = fixer(lab, "rt-healthy", "--from", "mp-noforward")
    assert fallback["via"] == "node-openssl"
    suites = fallback["suites"]
    assert isinstance(suites, dict) and suites["available"] is False
    assert "not available via node openssl" in str(suites["notes"])
