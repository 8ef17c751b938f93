"""Cipher suite enumeration (`fixer probe --ciphers`) without any socket.

The elimination loop runs against fake offer functions; the real handshakes (Python's ssl for TLS <= 1.2,
pyOpenSSL for TLS 1.3) run against a pyOpenSSL server held in memory behind a `Stream` (`MemoryServer`),
so the whole path, `probe(..., ciphers=True)` included, is exercised with no network at all.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

from fixer.probe.engine import probe
from fixer.probe.handshake import Stream
from fixer.probe.model import Failure, ProbeResult, ProbeTarget, SuiteScan
from fixer.probe.render import render_json, render_text
from fixer.probe.suites import (
    TLS13_LIMIT_NOTE,
    TLS13_NEGOTIATED_ONLY_NOTE,
    Pick,
    ProtocolScan,
    _pyopenssl_failure,
    candidates,
    combine,
    eliminate,
    handshake13,
    is_refusal,
    scan_protocol,
    scan_suites,
    tls13_candidates,
    tls13_restrictable,
    to_iana,
    unavailable,
)

suites_module = importlib.import_module("fixer.probe.suites")
cli_probe = importlib.import_module("fixer.cli.probe")  # `fixer.cli.probe` the attribute is the click command
HANDSHAKE_FAILURE = Failure("alert", alert="handshake_failure", message="sslv3 alert handshake failure")

# --- the elimination loop, driven by fakes ----------------------------------------------------------------


class FakeServer:
    """Accepts `suites`; with `server_order` it picks by its own list, else the client's first acceptable one."""

    def __init__(self, suites: Sequence[str], server_order: bool, fail_after: int | None = None,
                 failure: Failure = HANDSHAKE_FAILURE) -> None:
        self.suites, self.server_order = list(suites), server_order
        self.fail_after, self.failure = fail_after, failure
        self.offers: list[tuple[str, ...]] = []

    def __call__(self, offered: tuple[str, ...]) -> Pick:
        self.offers.append(offered)
        if self.fail_after is not None and len(self.offers) > self.fail_after:
            return Pick(None, self.failure)
        order = self.suites if self.server_order else list(offered)
        chosen = next((s for s in order if s in offered and s in self.suites), None)
        return Pick(chosen) if chosen else Pick(None, HANDSHAKE_FAILURE)


OFFER = ("A", "B", "C", "D", "E")


def test_server_order_is_learnt_in_n_plus_two_handshakes() -> None:
    server = FakeServer(["D", "B", "E"], server_order=True)
    scan = eliminate("TLSv1.2", OFFER, server)
    assert scan.accepted == ("D", "B", "E") and scan.server_order is True and scan.stopped is None
    assert scan.handshakes == 3 + 1 + 1 == len(server.offers)  # N picks, the refusal, the reversed offer
    assert server.offers[:4] == [OFFER, ("A", "B", "C", "E"), ("A", "C", "E"), ("A", "C")]
    assert server.offers[-1] == ("E", "B", "D")


def test_client_order_server() -> None:
    scan = eliminate("TLSv1.2", OFFER, FakeServer(["D", "B", "E"], server_order=False))
    assert scan.accepted == ("B", "D", "E") and scan.server_order is False


def test_one_suite_has_no_order_and_needs_two_handshakes() -> None:
    server = FakeServer(["C"], server_order=True)
    scan = eliminate("TLSv1.2", OFFER, server)
    assert scan.accepted == ("C",) and scan.server_order is None and scan.handshakes == 2


def test_nothing_accepted_is_one_handshake() -> None:
    scan = eliminate("TLSv1", OFFER, FakeServer([], server_order=True))
    assert scan == ProtocolScan("TLSv1", (), None, None, 1)


def test_a_server_accepting_everything_needs_no_refusal() -> None:
    server = FakeServer(OFFER, server_order=False)
    scan = eliminate("TLSv1.2", OFFER, server)
    assert scan.accepted == OFFER and scan.handshakes == len(OFFER) + 1  # no failing one, plus the reversed offer
    assert scan.server_order is False


def test_a_timeout_mid_scan_is_kept_and_stops_the_scan() -> None:
    timeout = Failure("timeout", message="timed out")
    scan = eliminate("TLSv1.2", OFFER, FakeServer(["D", "B", "E"], server_order=True, fail_after=1, failure=timeout))
    assert scan.accepted == ("D",) and scan.stopped == timeout and scan.server_order is None
    assert scan.handshakes == 2  # no reversed offer after an incomplete scan


def test_a_suite_that_was_not_offered_stops_the_scan() -> None:
    scan = eliminate("TLSv1.2", ("A", "B"), lambda offered: Pick("Z"))
    assert scan.accepted == () and scan.stopped is not None and "Z" in scan.stopped.message


def test_mixed_order_is_undecided() -> None:
    answers = iter([Pick("A"), Pick("B"), Pick("C"), Pick(None, HANDSHAKE_FAILURE), Pick("B")])
    scan = eliminate("TLSv1.2", ("A", "B", "C"), lambda offered: next(answers))
    assert scan.accepted == ("A", "B", "C") and scan.server_order is None


def test_duplicates_are_offered_once() -> None:
    server = FakeServer(["A"], server_order=True)
    eliminate("TLSv1.2", ("A", "B", "A"), server)
    assert server.offers[0] == ("A", "B")


@pytest.mark.parametrize(("failure", "refusal"), [
    (HANDSHAKE_FAILURE, True),
    (Failure("alert", alert="protocol_version"), True),
    (Failure("closed", message="EOF"), True),
    (Failure("error", message="[SSL: NO_CIPHERS_AVAILABLE] no ciphers available (_ssl.c:1006)"), True),
    (Failure("timeout", message="timed out"), False),
    (Failure("reset", message="reset"), False),
    (Failure("refused", message="refused"), False),
    (Failure("error", message="something else"), False),
    (None, False),
])
def test_is_refusal(failure: Failure | None, refusal: bool) -> None:
    assert is_refusal(failure) is refusal


# --- what can be offered, names ---------------------------------------------------------------------------


def test_candidates_per_protocol() -> None:
    tls10, tls12 = set(candidates("TLSv1")), set(candidates("TLSv1.2"))
    assert "ECDHE-RSA-AES128-GCM-SHA256" in tls12 and "ECDHE-RSA-AES128-GCM-SHA256" not in tls10  # TLS 1.2 only
    assert "ECDHE-RSA-AES128-SHA" in tls10 and tls10 < tls12
    assert "NULL-SHA256" in tls12 and "AECDH-AES256-SHA" in tls12  # everything, NULL and anonymous included
    assert not any("PSK" in c or "SRP" in c for c in tls12)  # need credentials: never in a ClientHello
    assert not any(c.startswith("TLS_") for c in tls12)  # TLS 1.3 suites are not set by cipher strings


@pytest.mark.skipif(shutil.which("openssl") is None, reason="names are mapped with the local openssl binary")
def test_to_iana() -> None:
    assert to_iana(["ECDHE-RSA-AES128-GCM-SHA256", "AES128-SHA", "UNKNOWN-SUITE"]) == (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA", "UNKNOWN-SUITE")


def test_tls13_candidates() -> None:
    if not tls13_restrictable():
        assert tls13_candidates() == ()
        return
    assert {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"} <= set(
        tls13_candidates())


@pytest.mark.parametrize(("reason", "expected"), [
    ("sslv3 alert handshake failure", Failure("alert", alert="handshake_failure",
                                              message="sslv3 alert handshake failure")),
    ("tls alert handshake failure", Failure("alert", alert="handshake_failure", message="tls alert handshake failure")),
    ("tlsv1 unrecognized name", Failure("alert", alert="unrecognized_name", message="tlsv1 unrecognized name")),
    ("wrong version number", Failure("error", message="wrong version number")),
])
def test_pyopenssl_failures(reason: str, expected: Failure) -> None:
    assert _pyopenssl_failure(SSL.Error([("SSL routines", "", reason)])) == expected


def test_pyopenssl_eof_is_closed() -> None:
    assert _pyopenssl_failure(SSL.SysCallError(-1, "Unexpected EOF")).kind == "closed"


def test_combine_maps_names_and_orders_protocols() -> None:
    scans = [
        ProtocolScan("TLSv1.3", ("TLS_AES_256_GCM_SHA384",), None, None, 2, TLS13_LIMIT_NOTE),
        ProtocolScan("TLSv1", (), None, Failure("timeout", message="t"), 1),
        ProtocolScan("TLSv1.2", ("ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256"), False, None, 4),
    ]
    s = combine(scans)
    assert list(s.accepted) == ["TLSv1.2", "TLSv1.3"] and s.handshakes == 7
    if shutil.which("openssl"):
        assert s.accepted["TLSv1.2"] == ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                                         "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    assert s.server_order == {"TLSv1.2": False, "TLSv1.3": None}
    assert s.stopped == {"TLSv1": Failure("timeout", message="t")} and s.notes == (TLS13_LIMIT_NOTE,)


# --- real handshakes against a server in memory -----------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_identity() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "backend.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("backend.test")]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


class MemoryServer:
    """A pyOpenSSL server handshake behind the `Stream` interface: bytes in, bytes out, no socket."""

    def __init__(self, ctx: SSL.Context) -> None:
        self.conn = SSL.Connection(ctx, None)
        self.conn.set_accept_state()
        self.pending = bytearray()
        self.finished = False  # handshake done or failed: nothing more will come

    def send(self, data: bytes) -> None:
        self.conn.bio_write(data)
        try:
            self.conn.do_handshake()
            self.finished = True
        except SSL.WantReadError:
            pass
        except SSL.Error:
            self.finished = True  # its alert is in the BIO
        while True:
            try:
                chunk = self.conn.bio_read(65536)
            except SSL.WantReadError:
                break
            if not chunk:
                break
            self.pending += chunk

    def recv(self, n: int) -> bytes:
        if self.pending:
            data = bytes(self.pending[:n])
            del self.pending[:n]
            return data
        if self.finished:
            return b""
        raise TimeoutError("the client waits for bytes the server never sends")

    def close(self) -> None:
        pass

    def settimeout(self, timeout: float | None) -> None:
        pass


ServerFactory = Callable[[], SSL.Context]


def server_context(identity: tuple[x509.Certificate, rsa.RSAPrivateKey], *, tls12: str, tls13: str,
                   max_version: int = SSL.TLS1_3_VERSION, server_order: bool = False) -> ServerFactory:
    cert, key = identity

    def make() -> SSL.Context:
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.use_certificate(cert)
        ctx.use_privatekey(key)
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
        ctx.set_max_proto_version(max_version)
        ctx.set_cipher_list(tls12.encode())
        if tls13_restrictable():
            ctx.set_tls13_ciphersuites(tls13.encode())
        if server_order:
            ctx.set_options(SSL.OP_CIPHER_SERVER_PREFERENCE)
        return ctx

    return make


class Connector:
    def __init__(self, factory: ServerFactory) -> None:
        self.factory = factory
        self.connections = 0

    def __call__(self, host: str, port: int, timeout: float) -> Stream:
        self.connections += 1
        return MemoryServer(self.factory())


TARGET = ProbeTarget("backend.test", 443)
TLS12_SUITES = "ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA:ECDHE-RSA-CHACHA20-POLY1305"
TLS13_SERVER = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"


@pytest.mark.parametrize("server_order", [True, False])
def test_tls12_scan_against_a_real_handshake(rsa_identity: tuple[x509.Certificate, rsa.RSAPrivateKey],
                                            server_order: bool) -> None:
    connect = Connector(server_context(rsa_identity, tls12=TLS12_SUITES, tls13=TLS13_SERVER,
                                       server_order=server_order))
    scan = scan_protocol(TARGET, "TLSv1.2", "backend.test", 5.0, connect)
    assert scan.stopped is None and connect.connections == scan.handshakes == 5
    assert scan.server_order is server_order
    if server_order:  # the server's list, as configured
        assert scan.accepted == ("ECDHE-RSA-AES128-GCM-SHA256", "AES256-SHA", "ECDHE-RSA-CHACHA20-POLY1305")
    else:  # the client's (OpenSSL's) order
        offered = candidates("TLSv1.2")
        assert scan.accepted == tuple(c for c in offered if c in TLS12_SUITES.split(":"))


@pytest.mark.skipif(not tls13_restrictable(), reason="needs pyOpenSSL >= 25.2 (set_tls13_ciphersuites)")
@pytest.mark.parametrize("server_order", [True, False])
def test_tls13_scan_against_a_real_handshake(rsa_identity: tuple[x509.Certificate, rsa.RSAPrivateKey],
                                            server_order: bool) -> None:
    connect = Connector(server_context(rsa_identity, tls12=TLS12_SUITES, tls13=TLS13_SERVER,
                                       server_order=server_order))
    scan = scan_protocol(TARGET, "TLSv1.3", "backend.test", 5.0, connect)
    assert scan.stopped is None and scan.handshakes == connect.connections == 4
    assert scan.note == TLS13_LIMIT_NOTE and scan.server_order is server_order
    if server_order:
        assert scan.accepted == ("TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256")
    else:
        assert scan.accepted == ("TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256")  # our order


def test_tls13_without_set_tls13_ciphersuites_reports_the_negotiated_suite(
        rsa_identity: tuple[x509.Certificate, rsa.RSAPrivateKey], monkeypatch: pytest.MonkeyPatch) -> None:
    factory = server_context(rsa_identity, tls12=TLS12_SUITES, tls13=TLS13_SERVER)
    connect = Connector(factory)
    monkeypatch.setattr(suites_module, "_tls13_module", lambda: None)  # as with pyOpenSSL < 25.2
    scan = scan_protocol(TARGET, "TLSv1.3", "backend.test", 5.0, connect)
    assert scan.note == TLS13_NEGOTIATED_ONLY_NOTE and scan.handshakes == connect.connections == 1
    assert len(scan.accepted) == 1 and scan.accepted[0].startswith("TLS_")
    assert scan.stopped is not None and "negotiated" in scan.stopped.message  # marked incomplete
    combined = combine([scan])
    assert combined.notes == (TLS13_NEGOTIATED_ONLY_NOTE,) and "TLSv1.3" in combined.stopped


def test_tls13_handshake_to_a_silent_peer_times_out() -> None:
    class Silent(MemoryServer):
        def __init__(self) -> None:
            self.pending, self.finished = bytearray(), False

        def send(self, data: bytes) -> None:
            pass

    pick = handshake13(Silent(), "backend.test", ("TLS_AES_128_GCM_SHA256",), 0.2)
    assert pick.suite is None and pick.failure is not None
    assert pick.failure.kind == ("timeout" if tls13_restrictable() else "error")


def test_probe_with_ciphers_end_to_end(rsa_identity: tuple[x509.Certificate, rsa.RSAPrivateKey]) -> None:
    connect = Connector(server_context(rsa_identity, tls12=TLS12_SUITES, tls13=TLS13_SERVER, server_order=True))
    r = probe(TARGET, timeout=5.0, connect=connect, ciphers=True)
    assert r.protocols == {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True}
    s = r.suites
    assert s is not None and s.available and not s.stopped
    if shutil.which("openssl"):
        assert s.accepted["TLSv1.2"] == ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_CBC_SHA",
                                         "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256")
    assert set(s.accepted) == {"TLSv1.2", "TLSv1.3"} and s.server_order["TLSv1.2"] is True
    if tls13_restrictable():
        assert s.accepted["TLSv1.3"] == ("TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256")
    else:
        assert len(s.accepted["TLSv1.3"]) == 1 and "TLSv1.3" in s.stopped
    assert r.negotiated is not None and r.negotiated.cipher in s.accepted["TLSv1.3"]
    # phase 1 (4 protocols + no SNI) plus the scans, every one through `connect`
    assert connect.connections == 5 + s.handshakes
    assert probe(TARGET, timeout=5.0, connect=connect).suites is None  # opt-in


def test_scan_suites_only_for_the_protocols_asked(rsa_identity: tuple[x509.Certificate, rsa.RSAPrivateKey]) -> None:
    connect = Connector(server_context(rsa_identity, tls12="AES256-SHA", tls13=TLS13_SERVER,
                                       max_version=SSL.TLS1_2_VERSION))
    s = scan_suites(TARGET, 5.0, connect, protocols=["TLSv1.2"], servername="backend.test")
    assert list(s.accepted) == ["TLSv1.2"] and len(s.accepted["TLSv1.2"]) == 1 and s.handshakes == 2
    assert s.notes == ()  # no TLS 1.3 scan, no TLS 1.3 note


def test_unreachable_target_stops_every_protocol() -> None:
    def refused(host: str, port: int, timeout: float) -> Stream:
        raise ConnectionRefusedError(111, "Connection refused")

    r = probe(TARGET, timeout=1.0, connect=refused, ciphers=True)
    assert r.suites is not None and r.suites.accepted == {}
    assert {f.kind for f in r.suites.stopped.values()} == {"refused"} and len(r.suites.stopped) == 4


# --- rendering and the CLI ----------------------------------------------------------------------------------


def _result(suites: SuiteScan | None) -> ProbeResult:
    return ProbeResult(ProbeTarget("api.example.com"), {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True,
                                                         "TLSv1.3": True}, None, None, (), (), None, (), suites=suites)


SCAN = SuiteScan(
    accepted={"TLSv1.2": ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
              "TLSv1.3": ("TLS_AES_256_GCM_SHA384",)},
    server_order={"TLSv1.2": True, "TLSv1.3": None},
    stopped={"TLSv1.1": Failure("timeout", message="timed out")},
    notes=(TLS13_LIMIT_NOTE,), handshakes=9)


def test_render_text_suites() -> None:
    text = render_text([_result(SCAN)])
    assert "  cipher suites accepted (9 handshakes):\n" in text
    assert "    TLSv1.2 (in the server's preference order):\n      TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n" in text
    assert "    TLSv1.3:\n      TLS_AES_256_GCM_SHA384\n" in text
    assert "    TLSv1.1:\n      (incomplete: timeout: timed out)\n" in text
    assert f"    note: {TLS13_LIMIT_NOTE}\n" in text
    follows = SuiteScan(accepted={"TLSv1.2": ("A", "B")}, server_order={"TLSv1.2": False})
    assert "the server follows the client's order" in render_text([_result(follows)])
    assert "cipher suites" not in render_text([_result(None)])
    assert "  cipher suites: not available via node openssl\n" in render_text(
        [_result(unavailable("not available via node openssl"))])


def test_render_json_suites() -> None:
    doc = json.loads(render_json([_result(SCAN), _result(None)]))
    first, second = doc["results"]
    assert first["suites"]["accepted"]["TLSv1.2"] == list(SCAN.accepted["TLSv1.2"])
    assert first["suites"]["server_order"] == {"TLSv1.2": True, "TLSv1.3": None}
    assert first["suites"]["stopped"]["TLSv1.1"]["kind"] == "timeout"
    assert first["suites"]["available"] is True and first["suites"]["handshakes"] == 9
    assert second["suites"] is None


def test_cli_passes_ciphers(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []

    def fake_probe(target: ProbeTarget, timeout: float = 5.0, ciphers: bool = False) -> ProbeResult:
        seen.append(ciphers)
        return _result(SCAN if ciphers else None)

    monkeypatch.setattr(cli_probe, "run_probe", fake_probe)
    out = CliRunner().invoke(cli_probe.probe, ["api.example.com", "--ciphers"])
    assert "cipher suites accepted" in out.output and seen == [True]
    CliRunner().invoke(cli_probe.probe, ["api.example.com"])
    assert seen == [True, False]


def test_node_openssl_fallback_says_not_available() -> None:
    fallback = _result(None)
    r = cli_probe._with_suites(replace(fallback, via="node-openssl", vantage="mp-noforward"), 1.0,
                               connector=None)  # the connector is not used on this path
    assert r.suites is not None and not r.suites.available
    assert r.suites.notes == (cli_probe.NODE_OPENSSL_SUITES,)
