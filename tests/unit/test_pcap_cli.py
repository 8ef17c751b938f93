"""`fixer pcap` end to end through click's CliRunner, on small captures written here with dpkt.pcap.Writer.

The TLS bytes are real: Python's ssl runs both ends of each handshake in memory (MemoryBIO pairs, no socket, no
network), with certificates from tests/unit/pki.py; the bytes each side writes become TCP segments (SYN, data split
at an MSS, FIN/RST) of an Ethernet/IPv4 or IPv6 capture. So the reader, the verdicts and the CLI see what OpenSSL
really sends for each failure: alert protocol_version or internal_error, handshake_failure, unrecognized_name,
unknown_ca in plaintext (TLS 1.2) or encrypted (TLS 1.3).
"""

from __future__ import annotations

import json
import socket
import ssl
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dpkt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from fixer.cli import main
from fixer.pcap.render import validate
from tests.unit.pki import NOW, Pki, build_pki, pem

pytest.importorskip("fixer.pcap.reader", reason="the capture reader (fixer.pcap.reader) is not written yet")

T0 = NOW.timestamp()
MSS = 1200
CLIENT = ("10.1.0.5", 51514)
SERVER = ("10.2.0.9", 8443)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return build_pki(tmp_path_factory.mktemp("pki"))


# ---- real handshakes in memory -----------------------------------------------------------------------------

@dataclass
class Exchange:
    """What each side wrote, in order ("c" client, "s" server), and who gave up."""

    segments: list[tuple[str, bytes]] = field(default_factory=list)
    failed: str | None = None  # "c" | "s": the side whose handshake raised


def handshake(client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, sni: str | None,
              data: bool = True) -> Exchange:
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_side=False, server_hostname=sni)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    ex = Exchange()
    done = {"c": False, "s": False}

    def step(side: str, obj: ssl.SSLObject, out: ssl.MemoryBIO, peer_in: ssl.MemoryBIO) -> None:
        if not done[side] and ex.failed is None:
            try:
                obj.do_handshake()
                done[side] = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:
                ex.failed = side
        chunk = out.read()
        if chunk:
            ex.segments.append((side, chunk))
            peer_in.write(chunk)

    for _ in range(12):
        step("c", client, c_out, s_in)
        step("s", server, s_out, c_in)
        if ex.failed is not None or (done["c"] and done["s"] and not c_out.pending and not s_out.pending):
            break
    if data and ex.failed is None:
        client.write(b"GET / HTTP/1.1\r\nHost: leaf.example.com\r\n\r\n")
        ex.segments.append(("c", c_out.read()))
        s_in.write(ex.segments[-1][1])
        server.read(1024)
        server.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        ex.segments.append(("s", s_out.read()))
    return ex


def server_ctx(pki: Pki, tmp: Path, *, tls12_only: bool = False, ciphers: str | None = None,
               sni_names: tuple[str, ...] | None = None) -> ssl.SSLContext:
    leaf = pki.leaves["good"]
    cert, key = tmp / "srv.pem", tmp / "srv.key"
    cert.write_bytes(pem(leaf.cert, pki.inter.cert))
    key.write_bytes(leaf.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if tls12_only:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if ciphers:
        ctx.set_ciphers(ciphers)
    if sni_names is not None:
        def refuse_unknown(obj: ssl.SSLObject, name: str | None, c: ssl.SSLContext) -> int | None:
            return None if name in sni_names else ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME

        ctx.sni_callback = refuse_unknown
    return ctx


def client_ctx(pki: Pki, tmp: Path, *, trust: bool = True, version: ssl.TLSVersion | None = None,
               ciphers: str | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if trust:
        (tmp / "root.pem").write_bytes(pem(pki.root.cert))
        ctx.load_verify_locations(tmp / "root.pem")
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


# ---- the capture ---------------------------------------------------------------------------------------------

class CaptureWriter:
    """TCP connections as Ethernet (IPv4 or IPv6) frames in a classic pcap file."""

    def __init__(self, path: Path) -> None:
        self.fh = path.open("wb")
        self.writer = dpkt.pcap.Writer(self.fh, linktype=dpkt.pcap.DLT_EN10MB)
        self.t = T0

    def close(self) -> None:
        self.fh.close()

    def _frame(self, src: tuple[str, int], dst: tuple[str, int], seq: int, ack: int, flags: int,
               payload: bytes) -> bytes:
        tcp = dpkt.tcp.TCP(sport=src[1], dport=dst[1], seq=seq, ack=ack, flags=flags, win=65535, data=payload)
        ip: dpkt.Packet
        if ":" in src[0]:
            ip = dpkt.ip6.IP6(src=socket.inet_pton(socket.AF_INET6, src[0]),
                              dst=socket.inet_pton(socket.AF_INET6, dst[0]), nxt=dpkt.ip.IP_PROTO_TCP, hlim=64,
                              data=tcp)
            ip.plen = len(bytes(tcp))
            eth_type = dpkt.ethernet.ETH_TYPE_IP6
        else:
            ip = dpkt.ip.IP(src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]), p=dpkt.ip.IP_PROTO_TCP,
                            ttl=64, data=tcp)
            eth_type = dpkt.ethernet.ETH_TYPE_IP
        eth = dpkt.ethernet.Ethernet(src=b"\x02\x00\x00\x00\x00\x01", dst=b"\x02\x00\x00\x00\x00\x02",
                                     type=eth_type, data=ip)
        return bytes(eth)

    def connection(self, ex: Exchange, client: tuple[str, int] = CLIENT, server: tuple[str, int] = SERVER,
                   close: str | None = "auto", close_kind: str = "fin") -> None:
        ends = {"c": (client, server), "s": (server, client)}
        seq = {"c": 1000, "s": 900000}
        syn, ack_f, fin, rst, psh = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_FIN, dpkt.tcp.TH_RST, dpkt.tcp.TH_PUSH

        def send(side: str, flags: int, payload: bytes = b"") -> None:
            other = "s" if side == "c" else "c"
            src, dst = ends[side]
            self.t += 0.0005
            ack = seq[other] if flags != syn else 0
            self.writer.writepkt(self._frame(src, dst, seq[side], ack, flags, payload), ts=self.t)
            seq[side] += len(payload) + (1 if flags & (syn | fin) else 0)

        send("c", syn)
        send("s", syn | ack_f)
        send("c", ack_f)
        for side, chunk in ex.segments:
            for i in range(0, len(chunk), MSS):
                send(side, ack_f | psh, chunk[i:i + MSS])
        if close == "auto":
            close = ex.failed or "c"
        if close is not None:
            send(close, (rst if close_kind == "rst" else fin | ack_f))
        self.t += 0.01


def capture(path: Path, *exchanges: Exchange | tuple[Exchange, dict[str, object]]) -> Path:
    writer = CaptureWriter(path)
    for i, item in enumerate(exchanges):
        ex, kw = item if isinstance(item, tuple) else (item, {})
        kw.setdefault("client", (CLIENT[0], CLIENT[1] + i))
        writer.connection(ex, **kw)  # type: ignore[arg-type]
    writer.close()
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["pcap", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# ---- one real failure per verdict ----------------------------------------------------------------------------

def _no_sni_client(p: Pki, t: Path) -> ssl.SSLContext:
    ctx = client_ctx(p, t, trust=False)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


Scenario = Callable[[Pki, Path], Exchange]

LEAF = "leaf.example.com"
TLS1, TLS12 = ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_2


def ok_tls13(p: Pki, t: Path) -> Exchange:
    return handshake(client_ctx(p, t), server_ctx(p, t), LEAF)


def ok_tls12(p: Pki, t: Path) -> Exchange:
    return handshake(client_ctx(p, t), server_ctx(p, t, tls12_only=True), LEAF)


def protocol(p: Pki, t: Path) -> Exchange:  # a TLSv1.0-only client, a current server
    with warnings.catch_warnings():  # ssl.TLSVersion.TLSv1 is deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        client = client_ctx(p, t, version=TLS1, ciphers="DEFAULT:@SECLEVEL=0")
    return handshake(client, server_ctx(p, t), LEAF)


def cipher(p: Pki, t: Path) -> Exchange:  # the reference's realistic mismatch: AES128-SHA vs AES256-GCM only
    return handshake(client_ctx(p, t, version=TLS12, ciphers="AES128-SHA:@SECLEVEL=0"),
                     server_ctx(p, t, tls12_only=True, ciphers="ECDHE-ECDSA-AES256-GCM-SHA384"), LEAF)


def sni_missing(p: Pki, t: Path) -> Exchange:
    return handshake(_no_sni_client(p, t), server_ctx(p, t, sni_names=(LEAF,)), None)


def sni_unrecognized(p: Pki, t: Path) -> Exchange:
    return handshake(client_ctx(p, t), server_ctx(p, t, sni_names=(LEAF,)), "other.example.com")


def cert_tls12(p: Pki, t: Path) -> Exchange:
    return handshake(client_ctx(p, t, trust=False), server_ctx(p, t, tls12_only=True), LEAF)


def cert_tls13(p: Pki, t: Path) -> Exchange:
    return handshake(client_ctx(p, t, trust=False), server_ctx(p, t), LEAF)


SCENARIOS: dict[str, tuple[Scenario, str]] = {
    "ok-tls13": (ok_tls13, "ok"),
    "ok-tls12": (ok_tls12, "ok"),
    "protocol": (protocol, "protocol-mismatch"),
    "cipher": (cipher, "cipher-mismatch"),
    "sni-missing": (sni_missing, "sni-missing"),
    "sni-unrecognized": (sni_unrecognized, "sni-unrecognized"),
    "cert-tls12": (cert_tls12, "certificate-rejected"),
    "cert-tls13": (cert_tls13, "certificate-rejected"),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_real_failure_is_named(pki: Pki, tmp_path: Path, name: str) -> None:
    scenario, kind = SCENARIOS[name]
    path = capture(tmp_path / f"{name}.pcap", scenario(pki, tmp_path))
    code, out, err = run(str(path), "--format", "json")
    doc = json.loads(out)
    validate(doc)
    kinds = [c["verdict"]["kind"] for c in doc["connections"]]
    assert kinds == [kind], (err, [c["verdict"]["reason"] for c in doc["connections"]])
    assert code == (0 if kind == "ok" else 1)


def test_tls12_certificate_rejection_shows_the_alert_and_chain(pki: Pki, tmp_path: Path) -> None:
    path = capture(tmp_path / "c.pcap", SCENARIOS["cert-tls12"][0](pki, tmp_path))
    doc = json.loads(run(str(path), "--format", "json")[1])
    conn = doc["connections"][0]
    assert conn["alerts"][0]["sender"] == "client" and conn["alerts"][0]["description"] == "unknown_ca"
    assert conn["alerts"][0]["encrypted"] is False
    assert [c["subject"] for c in conn["certificates"]] == ["CN=leaf.example.com,O=fixer test",
                                                           "CN=Test Intermediate CA,O=fixer test"]
    assert "signatures verify" in conn["verdict"]["chain_check"]
    assert conn["verdict"]["inferred"] is False and conn["client_hello"]["server_name"] == "leaf.example.com"


def test_tls13_openssl_client_alerts_in_plaintext(pki: Pki, tmp_path: Path) -> None:
    # OpenSSL checks the certificate before it has keys to write with: its TLS 1.3 alert is plaintext
    path = capture(tmp_path / "c13.pcap", SCENARIOS["cert-tls13"][0](pki, tmp_path))
    conn = json.loads(run(str(path), "--format", "json")[1])["connections"][0]
    assert conn["server_hello"]["version"] == "TLSv1.3" and conn["certificates"] == []
    assert conn["alerts"][0]["description"] == "unknown_ca" and conn["verdict"]["inferred"] is False


def test_tls13_java_style_encrypted_alert_is_an_inference(pki: Pki, tmp_path: Path) -> None:
    ex = SCENARIOS["cert-tls13"][0](pki, tmp_path)
    assert ex.segments[-1][0] == "c" and ex.segments[-1][1][0] == 0x15
    # what Java 17 sends instead: ChangeCipherSpec, then the alert encrypted (and padded) in one 35-byte record, FIN
    ex.segments[-1] = ("c", bytes.fromhex("140303000101") + bytes.fromhex("1703030023") + bytes(range(35)))
    path = capture(tmp_path / "java13.pcap", ex)
    code, out, _ = run(str(path))
    assert code == 1
    assert "CERTIFICATE-REJECTED  (inferred)" in out and "encrypted (TLS 1.3)" in out
    assert "35-byte" in out


def test_one_capture_many_connections_text_html_and_summary(pki: Pki, tmp_path: Path) -> None:
    exchanges = [SCENARIOS[n][0](pki, tmp_path) for n in ("ok-tls13", "sni-missing", "cert-tls12", "cipher")]
    path = capture(tmp_path / "mix.pcap", *exchanges)
    code, out, _ = run(str(path))
    assert code == 1
    assert "4 connections: 3 failed" in out and "10.2.0.9:8443" in out and "SNI-MISSING" in out
    report = tmp_path / "out" / "mix.html"
    report.parent.mkdir()
    code, out, _ = run(str(path), "--format", "html", "-o", str(report))
    assert code == 1 and out == ""
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>") and "sni-missing" in page and "cipher-mismatch" in page


def test_ipv6_and_port_filter(pki: Pki, tmp_path: Path) -> None:
    ok = SCENARIOS["ok-tls13"][0](pki, tmp_path)
    bad = SCENARIOS["cipher"][0](pki, tmp_path)
    path = capture(tmp_path / "v6.pcap", (ok, {"client": ("fd00::5", 40000), "server": ("fd00::1", 443)}),
                   (bad, {"server": ("10.2.0.9", 9443)}))
    doc = json.loads(run(str(path), "--format", "json")[1])
    assert {c["server"]["port"] for c in doc["connections"]} == {443, 9443}
    code, out, _ = run(str(path), "--format", "json", "--port", "443")
    only = json.loads(out)
    assert code == 0 and [c["server"] for c in only["connections"]] == [{"ip": "fd00::1", "port": 443}]


def test_all_lists_non_tls_connections(pki: Pki, tmp_path: Path) -> None:
    http = Exchange(segments=[("c", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), ("s", b"HTTP/1.1 200 OK\r\n\r\n")])
    ok = SCENARIOS["ok-tls12"][0](pki, tmp_path)
    path = capture(tmp_path / "plain.pcap", (http, {"server": ("10.2.0.9", 80)}), ok)
    default = json.loads(run(str(path), "--format", "json")[1])
    assert [c["verdict"]["kind"] for c in default["connections"]] == ["ok"]
    code, out, _ = run(str(path), "--format", "json", "--all")
    assert code == 0 and sorted(c["verdict"]["kind"] for c in json.loads(out)["connections"]) == ["not-tls", "ok"]


def test_capture_that_ends_mid_handshake_is_incomplete(pki: Pki, tmp_path: Path) -> None:
    ex = SCENARIOS["ok-tls13"][0](pki, tmp_path)
    ex.segments = ex.segments[:1]  # only the ClientHello was captured
    path = capture(tmp_path / "cut.pcap", (ex, {"close": None}))
    code, out, _ = run(str(path), "--format", "json")
    assert [c["verdict"]["kind"] for c in json.loads(out)["connections"]] == ["incomplete"]
    assert code == 4


def test_truncated_file_is_a_partial_result(pki: Pki, tmp_path: Path) -> None:
    path = capture(tmp_path / "full.pcap", SCENARIOS["ok-tls12"][0](pki, tmp_path))
    data = path.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-25])  # the last packet (the FIN) loses its tail
    code, out, err = run(str(cut), "--format", "json")
    doc = json.loads(out)
    assert code == 4 and doc["partial"] is True and doc["notes"], err
    assert "Traceback" not in err


@pytest.mark.parametrize("content", [b"", b"this is not a capture at all, just text\n" * 3, b"\xd4\xc3\xb2"])
def test_not_a_capture_is_bad_input(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk.pcap"
    path.write_bytes(content)
    code, out, err = run(str(path))
    assert code == 2 and out == "" and err.startswith("fixer: error:") and str(path) in err
    assert "Traceback" not in err


def test_missing_file_is_bad_input(tmp_path: Path) -> None:
    code, _, err = run(str(tmp_path / "nope.pcap"))
    assert code == 2 and "nope.pcap" in err and "Traceback" not in err


def test_usage_errors(tmp_path: Path) -> None:
    assert run()[0] == 2
    assert run(str(tmp_path), "--port", "0")[0] == 2
    assert run(str(tmp_path / "x.pcap"), "--format", "xml")[0] == 2


def test_help_documents_exit_codes() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for line in ("0  every TLS connection", "1  some connection failed", "2  bad input", "4  partial result"):
        assert line in out
