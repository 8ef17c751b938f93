"""The probe engine against REAL TLS servers on 127.0.0.1 (openssl s_server, nginx), compared to s_client.

Servers run as subprocesses on free ports; each is killed by PID in a finally block. Certificates are made
with `cryptography` at test time.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from fixer.probe.engine import attempt, probe
from fixer.probe.handshake import make_context
from fixer.probe.model import ProbeTarget

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl binary")


def _cert(tmp: Path, cn: str) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .sign(key, hashes.SHA256()))
    c, k = tmp / f"{cn}.crt", tmp / f"{cn}.key"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return c, k


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    tmp = tmp_path_factory.mktemp("probe-certs")
    return {cn: _cert(tmp, cn) for cn in ("backend.test", "default.invalid")}


@pytest.fixture()
def s_server(certs: dict[str, tuple[Path, Path]]) -> Iterator[object]:
    """Start `openssl s_server ARGS...` on a free port; yields a starter, kills every server by PID."""
    procs: list[subprocess.Popen[bytes]] = []
    crt, key = certs["backend.test"]

    def start(*args: str) -> int:
        port = _free_port()
        proc = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(crt),
                                 "-key", str(key), "-quiet", *args],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        _wait_listening(port, proc)
        return port

    try:
        yield start
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=5)
            if proc.stdin is not None:
                proc.stdin.close()


def _s_client_ok(port: int, *args: str) -> bool:
    run = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args], input=b"",
                         capture_output=True, timeout=20)
    return run.returncode == 0 and b"Cipher is (NONE)" not in run.stdout


S_CLIENT_FLAGS = {"TLSv1": ["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"],
                  "TLSv1.1": ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
                  "TLSv1.2": ["-tls1_2", "-cipher", "DEFAULT:@SECLEVEL=0"], "TLSv1.3": ["-tls1_3"]}


def test_tls10_only_server(s_server: object) -> None:
    port = s_server("-tls1", "-cipher", "DEFAULT:@SECLEVEL=0")  # type: ignore[operator]
    r = probe(ProbeTarget("127.0.0.1", port, "backend.test"), timeout=5)
    assert r.protocols == {"TLSv1": True, "TLSv1.1": False, "TLSv1.2": False, "TLSv1.3": False}
    tls12 = next(h for h in r.handshakes if h.protocol_offered == "TLSv1.2")
    assert tls12.failure is not None and tls12.failure.kind == "alert"
    assert tls12.failure.alert in {"protocol_version", "internal_error"}
    assert r.negotiated is not None and r.negotiated.negotiated_protocol == "TLSv1"
    assert r.chain_with_sni[0].subject == "CN=backend.test"
    assert r.sni_required is False and r.sni_changes_certificate is False
    for proto, flags in S_CLIENT_FLAGS.items():  # same verdict as openssl s_client
        assert _s_client_ok(port, "-servername", "backend.test", *flags) == r.protocols[proto], proto


def test_modern_server(s_server: object) -> None:
    port = s_server("-no_tls1", "-no_tls1_1")  # type: ignore[operator]
    r = probe(ProbeTarget("127.0.0.1", port), timeout=5)  # an IP, no servername: no SNI at all
    assert r.protocols == {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True}
    old = next(h for h in r.handshakes if h.protocol_offered == "TLSv1")
    assert old.failure is not None and old.failure.alert in {"protocol_version", "internal_error"}
    assert r.negotiated is not None and r.negotiated.negotiated_protocol == "TLSv1.3"
    assert r.negotiated.cipher and r.negotiated.cipher.startswith("TLS_")
    assert not any(h.sni for h in r.handshakes)
    assert r.sni_required is None and r.chain_without_sni and not r.chain_with_sni
    for proto, flags in S_CLIENT_FLAGS.items():
        assert _s_client_ok(port, *flags) == r.protocols[proto], proto


def test_cipher_restricted_server(s_server: object) -> None:
    port = s_server("-cipher", "ECDHE-RSA-AES256-GCM-SHA384", "-no_tls1_3")  # type: ignore[operator]
    target = ProbeTarget("127.0.0.1", port, "backend.test")
    r = probe(target, timeout=5)
    assert r.protocols["TLSv1.2"] and not r.protocols["TLSv1.3"]
    assert r.negotiated is not None and r.negotiated.cipher == "ECDHE-RSA-AES256-GCM-SHA384"
    # a client offering only AES128-SHA: no common suite, the server says handshake_failure (40)
    h = attempt(target, "TLSv1.2", "backend.test", 5, context=make_context("TLSv1.2", "AES128-SHA"))
    assert h.failure is not None and (h.failure.kind, h.failure.alert) == ("alert", "handshake_failure")
    assert not _s_client_ok(port, "-tls1_2", "-cipher", "AES128-SHA")


def test_unreachable_and_timeout() -> None:
    port = _free_port()
    r = probe(ProbeTarget("127.0.0.1", port), timeout=2)
    assert not r.reachable and {h.failure.kind for h in r.handshakes if h.failure} == {"refused"}
    with socket.socket() as silent:  # accepts (backlog) but never answers: the timeout bounds the probe
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        start = time.monotonic()
        r = probe(ProbeTarget("127.0.0.1", silent.getsockname()[1], "x.test"), timeout=0.5)
        assert time.monotonic() - start < 3
    assert {h.failure.kind for h in r.handshakes if h.failure} == {"timeout"}


NGINX_CONF = """
daemon off; master_process off; worker_processes 1; pid {prefix}/nginx.pid; error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off; client_body_temp_path {prefix}/tmp; proxy_temp_path {prefix}/tmp;
  fastcgi_temp_path {prefix}/tmp; uwsgi_temp_path {prefix}/tmp; scgi_temp_path {prefix}/tmp;
  ssl_protocols TLSv1.2 TLSv1.3;  # older nginx defaults leave TLSv1.3 off
  server {{ listen 127.0.0.1:{port} ssl default_server; ssl_reject_handshake on; }}
  server {{ listen 127.0.0.1:{port} ssl; server_name backend.test;
           ssl_certificate {crt}; ssl_certificate_key {key}; return 200 "ok"; }}
}}
"""


@pytest.mark.skipif(shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"), reason="needs nginx")
def test_sni_required_nginx(tmp_path: Path, certs: dict[str, tuple[Path, Path]]) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = _free_port()
    (tmp_path / "tmp").mkdir()
    crt, key = certs["backend.test"]
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=tmp_path, port=port, crt=crt, key=key))
    proc = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, proc)
        r = probe(ProbeTarget("127.0.0.1", port, "backend.test"), timeout=5)
        assert r.protocols["TLSv1.2"] and r.protocols["TLSv1.3"]
        assert r.sni_required is True and r.sni_changes_certificate is None and not r.chain_without_sni
        nosni = [h for h in r.handshakes if not h.sni]
        assert nosni and all(h.failure is not None and h.failure.kind == "alert" for h in nosni)
        assert {h.failure.alert for h in nosni if h.failure} <= {"unrecognized_name", "handshake_failure"}
        assert not _s_client_ok(port, "-noservername")
        assert _s_client_ok(port, "-servername", "backend.test")
    finally:
        proc.kill()
        proc.wait(timeout=5)
