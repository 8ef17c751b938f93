"""`fixer probe --from HOST` against the lab's nginx routers: tunnelled through the node's SSH connection,
and the `openssl s_client` fallback on mp-noforward (its sshd has AllowTcpForwarding no).

As in test_remote_lab.py only `Session.connect` runs in a worker thread that joined the bridge netns; the
channels ride on that connection, so the handshakes themselves run in the pytest process's own thread.
Targets are given by node NAME: they are resolved by the node (its /etc/hosts), not by this machine.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fixer.errors import ForwardingRefusedError
from fixer.inventory.loader import load_inventory
from fixer.probe.model import ProbeResult, ProbeTarget
from fixer.probe.tunnel import connect_via, probe_from
from fixer.transport.hostkeys import load_known_hosts
from fixer.transport.ssh import ConnectOptions, Session
from tests.lab import Lab
from tests.lab.netns import enter_netns

pytestmark = pytest.mark.lab

REPO = Path(__file__).parents[2]
TIMEOUT = 5.0


class Vantage:
    def __init__(self, lab: Lab) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, initializer=enter_netns, initargs=(lab.bridge_netns,))
        self.hosts = load_inventory(lab.inventory).hosts
        self.options = ConnectOptions(known_hosts=lab.known_hosts, host_keys=load_known_hosts(lab.known_hosts,
                                      "strict"), connect_timeout=10.0, command_timeout=60.0)
        self.sessions: dict[str, Session] = {}

    def session(self, name: str) -> Session:
        if name not in self.sessions:
            session = Session(self.hosts[name], self.options)
            self.pool.submit(session.connect).result(timeout=60)
            self.sessions[name] = session
        return self.sessions[name]

    def probe(self, node: str, host: str, port: int = 443) -> ProbeResult:
        return probe_from(self.session(node), ProbeTarget(host, port), TIMEOUT)

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()
        self.pool.shutdown()


@pytest.fixture(scope="module")
def vantage(lab: Lab) -> Iterator[Vantage]:
    v = Vantage(lab)
    try:
        yield v
    finally:
        v.close()


def accepted(r: ProbeResult) -> set[str]:
    return {p for p, ok in r.protocols.items() if ok}


def test_tunnel_to_healthy_router(vantage: Vantage) -> None:
    r = vantage.probe("mp-healthy", "rt-healthy")
    assert (r.via, r.vantage) == ("tunnel", "mp-healthy")
    assert accepted(r) == {"TLSv1.2", "TLSv1.3"}, r.handshakes
    assert r.negotiated is not None and r.negotiated.negotiated_protocol == "TLSv1.3"
    assert r.chain_with_sni and r.chain_with_sni[0].sans and "DNS:rt-healthy" in r.chain_with_sni[0].sans
    refused = {h.protocol_offered: h.failure for h in r.handshakes if not h.ok}
    assert refused["TLSv1"] is not None and refused["TLSv1"].kind == "alert"


def test_tunnel_to_weak_protocol_router(lab: Lab, vantage: Vantage) -> None:
    """rt-weak-protocol enables TLSv1/1.1 in ssl_protocols, but its ssl_ciphers are TLS 1.2-only GCM suites:
    no TLSv1/1.1 handshake can complete, whatever the client offers (the engine offers DEFAULT:@SECLEVEL=0).
    The probe reports the server's alert, as `openssl s_client -tls1` does."""
    r = vantage.probe("mp-healthy", "rt-weak-protocol")
    assert r.via == "tunnel"
    assert accepted(r) == {"TLSv1.2"}, r.handshakes
    alerts = {h.protocol_offered: h.failure.alert for h in r.handshakes if h.failure}
    assert alerts["TLSv1"] == alerts["TLSv1.1"] == "handshake_failure", alerts
    ip = lab.nodes["rt-weak-protocol"]
    s_client = lab.run(["openssl", "s_client", "-connect", f"{ip}:443", "-servername", "rt-weak-protocol", "-tls1",
                        "-cipher", "DEFAULT:@SECLEVEL=0"], input="", capture_output=True, text=True, timeout=30,
                       check=False)
    assert "alert handshake failure" in s_client.stdout + s_client.stderr


def test_tunnel_to_a_closed_port_is_refused(vantage: Vantage) -> None:
    r = vantage.probe("mp-healthy", "rt-healthy", 4433)
    assert r.via == "tunnel" and not r.reachable
    assert {h.failure.kind for h in r.handshakes if h.failure} == {"refused"}, [h.failure for h in r.handshakes]


def test_noforward_node_refuses_the_channel(vantage: Vantage) -> None:
    with pytest.raises(ForwardingRefusedError) as info:
        connect_via(vantage.session("mp-noforward"))("rt-healthy", 443, TIMEOUT)
    assert info.value.category == "forwarding"


def test_fallback_agrees_with_the_tunnel(vantage: Vantage) -> None:
    tunnel = vantage.probe("mp-healthy", "rt-healthy")
    fallback = vantage.probe("mp-noforward", "rt-healthy")
    assert (fallback.via, fallback.vantage) == ("node-openssl", "mp-noforward")
    assert fallback.protocols == tunnel.protocols
    assert fallback.sni_required == tunnel.sni_required
    assert fallback.negotiated is not None and tunnel.negotiated is not None
    assert fallback.negotiated.negotiated_protocol == tunnel.negotiated.negotiated_protocol
    assert fallback.negotiated.cipher == tunnel.negotiated.cipher
    assert [c.sha256 for c in fallback.chain_with_sni] == [c.sha256 for c in tunnel.chain_with_sni]
    weak = vantage.probe("mp-noforward", "rt-weak-protocol")
    assert accepted(weak) == accepted(vantage.probe("mp-healthy", "rt-weak-protocol"))
    closed = vantage.probe("mp-noforward", "rt-healthy", 4433)
    assert {h.failure.kind for h in closed.handshakes if h.failure} == {"refused"}, closed.handshakes


# --- the CLI -----------------------------------------------------------------------------------------------


def fixer(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    argv = ["python3", "-m", "fixer.cli", "probe", *args, "-i", str(lab.inventory), "--known-hosts",
            str(lab.known_hosts), "--ssh-config", "/dev/null"]
    return lab.run(argv, capture_output=True, text=True, timeout=120, check=False, env={**os.environ},
                   cwd=str(REPO))


def test_cli_from_tunnel_and_fallback(lab: Lab) -> None:
    proc = fixer(lab, "rt-healthy", "rt-weak-protocol:443", "--from", "mp-healthy", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)["results"]
    assert [r["via"] for r in results] == ["tunnel", "tunnel"]
    assert results[0]["protocols"] == {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True}
    assert results[1]["protocols"] == {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": False}
    text = fixer(lab, "rt-healthy", "--from", "mp-noforward")
    assert text.returncode == 0, text.stderr
    assert "via: node-openssl (openssl s_client run on mp-noforward" in text.stdout
    assert "protocols accepted: TLSv1.2, TLSv1.3" in text.stdout


def test_cli_from_unknown_host_is_usage(lab: Lab) -> None:
    proc = fixer(lab, "rt-healthy", "--from", "no-such-node")
    assert proc.returncode == 2 and "no-such-node" in proc.stderr and not proc.stdout
