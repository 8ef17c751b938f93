"""The `openssl s_client` fallback: output parser (fixtures captured from this machine's OpenSSL 3.0 against a
local `openssl s_server`), the batched script, and the direct-tcpip open-failure mapping. No network."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import paramiko
import pytest

from fixer.errors import HOST_ERROR_CATEGORIES, ForwardingRefusedError
from fixer.probe.handshake import failure_from_exception
from fixer.probe.model import ProbeTarget
from fixer.probe.nodessl import (
    build_script,
    failure_of,
    handshake_of,
    parse_s_client,
    probe_with_openssl,
    s_client_argv,
    split_output,
)
from fixer.probe.tunnel import ChannelStream, TunnelConnector
from fixer.transport.ssh import CommandResult, _channel_error

DATA = Path(__file__).parent / "data" / "s_client"


def fixture(name: str) -> str:
    return (DATA / f"{name}.txt").read_text()


def test_tls12_ok_with_chain_and_verify() -> None:
    out = parse_s_client(fixture("tls12_ok"), 0)
    assert (out.protocol, out.cipher) == ("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384")
    assert out.connected and len(out.chain) == 1
    assert (out.verify_code, out.verify_message) == (18, "self-signed certificate")
    h = handshake_of("TLSv1.2", "probe.test", out, 5.0, 0.05)
    assert h.ok and h.failure is None and h.negotiated_protocol == "TLSv1.2"
    assert h.leaf is not None and h.leaf.subject == "CN=probe.test" and h.leaf.sans == ("DNS:probe.test",)
    assert h.sni and h.servername == "probe.test" and h.elapsed == 0.05


def test_tls13_ok() -> None:
    h = handshake_of("TLSv1.3", "probe.test", parse_s_client(fixture("tls13_ok"), 0), 5.0)
    assert h.ok and h.negotiated_protocol == "TLSv1.3" and h.cipher == "TLS_AES_256_GCM_SHA384"
    assert len(h.peer_chain) == 1


def test_protocol_version_alert() -> None:
    out = parse_s_client(fixture("tls13_protocol_version"), 1)
    assert out.protocol is None and out.chain == () and out.verify_code is None  # "(NONE)" is no handshake
    f = failure_of(out, 5.0)
    assert f is not None and (f.kind, f.alert) == ("alert", "protocol_version")


@pytest.mark.parametrize(("name", "rc", "kind"), [("refused", 1, "refused"), ("dns", 1, "dns"),
                                                  ("timeout", 124, "timeout")])
def test_network_failures(name: str, rc: int, kind: str) -> None:
    h = handshake_of("TLSv1.2", None, parse_s_client(fixture(name), rc), 2.0)
    assert not h.ok and h.failure is not None and h.failure.kind == kind, h.failure


def test_connected_but_no_alert_is_closed() -> None:
    f = failure_of(parse_s_client("CONNECTED(00000003)\n---\nno peer certificate available\n"
                                  "New, (NONE), Cipher is (NONE)\n", 1), 5.0)
    assert f is not None and f.kind == "closed"


def test_argv_quotes_and_sni_flags() -> None:
    t = ProbeTarget("::1", 8443)
    argv = s_client_argv(t, ("TLSv1", "TLSv1.3"), None)
    assert argv[:4] == ["openssl", "s_client", "-connect", "[::1]:8443"] and "-noservername" in argv
    assert argv[argv.index("-min_protocol") + 1] == "TLSv1" and "-showcerts" in argv
    script = build_script(ProbeTarget("x;rm -rf /", 443), [("TLSv1.2", "a'b")], 3)
    assert "'x;rm -rf /:443'" in script and "-servername 'a'\"'\"'b'" in script
    assert "</dev/null" in script and "timeout -k 1 3 openssl" in script


def test_script_runs_and_splits_locally(tmp_path: Path) -> None:
    """The script itself, with a fake `openssl` and `timeout` on PATH: markers, exit codes, order."""
    fake = tmp_path / "openssl"
    fake.write_text(f'#!/bin/sh\ncase "$*" in *tls1_2*) cat {DATA / "tls12_ok.txt"};; '
                    f'*) cat {DATA / "refused.txt"}; exit 1;; esac\n')
    fake.chmod(0o755)
    attempts: list[tuple[str | tuple[str, str], str | None]] = [("TLSv1.2", "probe.test"), ("TLSv1.1", "probe.test")]
    script = build_script(ProbeTarget("probe.test"), attempts, 2)
    proc = subprocess.run(["sh", "-s"], input=script, capture_output=True, text=True, check=True,
                          env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    blocks = split_output(proc.stdout)
    assert sorted(blocks) == [0, 1] and blocks[0][1] == 0 and blocks[1][1] == 1
    assert parse_s_client(blocks[0][0]).protocol == "TLSv1.2"


class FakeSession:
    def __init__(self, stdout: str) -> None:
        self.host = SimpleNamespace(name="mp-x")
        self.stdout = stdout
        self.scripts: list[str] = []

    def run_script(self, script: str, become: bool | None = None) -> CommandResult:
        assert become is False
        self.scripts.append(script)
        return CommandResult(self.stdout.encode(), b"", 0)


def _block(i: int, body: str, rc: int) -> str:
    return f"@@fixer-s_client {i} begin\n{body}\n@@fixer-s_client {i} end {rc} 1000000000 1050000000\n"


def test_probe_with_openssl_builds_the_engine_result() -> None:
    ok, bad = fixture("tls12_ok"), fixture("tls13_protocol_version")
    stdout = "".join(_block(i, body, rc) for i, (body, rc) in enumerate([(bad, 1), (bad, 1), (ok, 0), (bad, 1),
                                                                         (ok, 0)]))
    session: Any = FakeSession(stdout)
    r = probe_with_openssl(session, ProbeTarget("probe.test"), 5.0)
    assert r.via == "node-openssl" and r.vantage == "mp-x"
    assert r.protocols == {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": False}
    assert r.sni_required is False and r.sni_changes_certificate is False
    assert r.negotiated is not None and r.negotiated.elapsed == 0.05 and len(session.scripts) == 1


def _chan_exc(code: int, text: str) -> paramiko.ChannelException:
    return paramiko.ChannelException(code, text)


def test_open_failure_mapping() -> None:
    refused = _channel_error(_chan_exc(1, "open failed"), "h", 443, "mp-x")
    assert isinstance(refused, ForwardingRefusedError) and refused.category == "forwarding"
    assert "forwarding" in HOST_ERROR_CATEGORIES
    assert failure_from_exception(_channel_error(_chan_exc(2, "Connection refused"), "h", 1, "n")).kind == "refused"
    assert failure_from_exception(_channel_error(_chan_exc(2, "Connect failed"), "h", 1, "n")).kind == "refused"
    dns = _channel_error(_chan_exc(2, "Name or service not known"), "h", 1, "n")
    assert isinstance(dns, socket.gaierror) and failure_from_exception(dns).kind == "dns"
    assert failure_from_exception(_channel_error(_chan_exc(2, "Connection timed out"), "h", 1, "n")).kind == "timeout"


def test_connector_learns_a_refusal_once() -> None:
    calls: list[str] = []

    class Refusing:
        def open_tunnel(self, host: str, port: int, timeout: float) -> Any:
            calls.append(host)
            raise ForwardingRefusedError("no forwarding")

    conn = TunnelConnector(Refusing())  # type: ignore[arg-type]
    for _ in range(2):
        with pytest.raises(ForwardingRefusedError):
            conn("h", 443, 1.0)
    assert calls == ["h"] and conn.refused is not None


def test_channel_stream_delegates() -> None:
    class Chan:
        def __init__(self) -> None:
            self.sent = b""
            self.timeout: float | None = None

        def sendall(self, data: bytes) -> None:
            self.sent += data

        def recv(self, n: int) -> bytes:
            return b"x" * min(n, 2)

        def settimeout(self, t: float | None) -> None:
            self.timeout = t

        def close(self) -> None:
            raise OSError("already closed")

    chan = Chan()
    s = ChannelStream(chan)  # type: ignore[arg-type]
    s.send(b"hi")
    s.settimeout(2.5)
    assert s.recv(10) == b"xx" and chan.sent == b"hi" and chan.timeout == 2.5
    s.close()  # never raises
