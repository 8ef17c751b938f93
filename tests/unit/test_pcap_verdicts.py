"""fixer.pcap.verdicts: one table of synthetic ConnectionObs per verdict (TLS 1.2 and 1.3, with and without SNI,
the inferred TLS 1.3 patterns) and the offline chain check on a tests/unit/pki.py chain. No capture files.

The builders here (`hello`, `server_hello`, `conn`, `alert`, ...) are shared with test_pcap_render and
test_pcap_cli.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fixer.pcap.model import (
    VERDICTS,
    Alert,
    ClientHello,
    CloseKind,
    ConnectionObs,
    Endpoint,
    ServerHello,
    Side,
    Verdict,
)
from fixer.pcap.verdicts import chain_check, is_modern_suite, judge, looks_jce_limited, version_not_offered
from fixer.probe.model import CertSummary
from tests.unit.pki import DAY, NOW, Pki, build_pki, issue

T0 = NOW.timestamp()  # captures "happen" now, so the test PKI's dates mean what they say
CLIENT = Endpoint("10.1.0.5", 51514)
SERVER = Endpoint("10.2.0.9", 8443)

MODERN_12 = ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
             "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_RSA_WITH_AES_256_CBC_SHA",
             "TLS_EMPTY_RENEGOTIATION_INFO_SCSV")
TLS13_SUITES = ("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256")
LEGACY_ONLY = ("TLS_RSA_WITH_AES_128_CBC_SHA",)
# what Java 8 offers with the limited JCE policy: every AES-256 suite is gone
JAVA8_LIMITED = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
)


def hello(version: str = "TLSv1.2", sni: str | None = "backend.example.com", suites: tuple[str, ...] = MODERN_12,
          supported: tuple[str, ...] = (), at: float = 0.001) -> ClientHello:
    exts = (("server_name",) if sni else ()) + ("supported_groups", "signature_algorithms") + (
        ("supported_versions",) if supported else ())
    return ClientHello(time=T0 + at, record_version="TLSv1" if version != "TLSv1.1" else "TLSv1.1",
                       legacy_version=version, supported_versions=supported, cipher_suites=suites,
                       server_name=sni, sni_present=sni is not None, extensions=exts)


def hello13(sni: str | None = "backend.example.com") -> ClientHello:
    return hello("TLSv1.2", sni, TLS13_SUITES + MODERN_12, supported=("TLSv1.3", "TLSv1.2"))


def server_hello(version: str = "TLSv1.2", suite: str = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                 at: float = 0.003, hrr: bool = False) -> ServerHello:
    return ServerHello(time=T0 + at, legacy_version="TLSv1.2" if version == "TLSv1.3" else version,
                       version=version, cipher_suite=suite, hello_retry_request=hrr)


def server_hello13() -> ServerHello:
    return server_hello("TLSv1.3", "TLS_AES_256_GCM_SHA384")


def alert(sender: Side, description: str | None, level: str | None = "fatal", at: float = 0.005,
          encrypted: bool = False) -> Alert:
    if encrypted:
        return Alert(time=T0 + at, sender=sender, encrypted=True)
    return Alert(time=T0 + at, sender=sender, encrypted=False, level=level, description=description)


def conn(ch: ClientHello | None = None, sh: ServerHello | None = None, *, alerts: tuple[Alert, ...] = (),
         closed_by: Side | None = None, close_kind: CloseKind = "fin", certificates: tuple[CertSummary, ...] = (),
         client_records: tuple[str, ...] = (), server_records: tuple[str, ...] = (), done: bool = False,
         client_lengths: tuple[int, ...] = (), server_lengths: tuple[int, ...] = (),
         server: Endpoint = SERVER, client: Endpoint = CLIENT, start: float = T0, notes: tuple[str, ...] = (),
         syn: bool = True) -> ConnectionObs:
    return ConnectionObs(
        client=client, server=server, start=start, end=start + 0.02, packets=12, bytes_client=517,
        bytes_server=1400, client_hello=ch, server_hello=sh, certificates=certificates, alerts=alerts,
        client_records_after_hello=client_records, server_records_after_hello=server_records,
        closed_by=closed_by, close_kind=(close_kind if closed_by else None),
        close_time=(start + 0.01 if closed_by else None), syn_seen=syn, handshake_done=done, notes=notes,
        client_record_lengths_after_hello=client_lengths, server_record_lengths_after_hello=server_lengths,
    )


def summaries(*certs: x509.Certificate) -> tuple[CertSummary, ...]:
    return tuple(CertSummary.from_der(c.public_bytes(serialization.Encoding.DER)) for c in certs)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return build_pki(tmp_path_factory.mktemp("pki"))


# ---- the table: (id, build(pki) -> ConnectionObs, kind, inferred, finding, playbook) --------------------

CCS, APP = "change_cipher_spec", "application_data"
SERVER_FLIGHT_13 = (CCS, APP, APP, APP, APP)

Case = tuple[str, Callable[[Pki], ConnectionObs], str, bool, str | None, str | None]

CASES: list[Case] = [
    ("ok-tls12", lambda p: conn(hello(), server_hello(), client_records=(CCS, "handshake", APP),
                                server_records=(CCS, "handshake", APP), done=True),
     "ok", False, None, None),
    ("ok-tls13-no-sni", lambda p: conn(hello13(None), server_hello13(), client_records=(CCS, APP, APP),
                                       server_records=(*SERVER_FLIGHT_13, APP), done=True),
     "ok", False, None, None),
    ("not-tls", lambda p: conn(), "not-tls", False, None, None),
    ("connection-refused", lambda p: replace(conn(closed_by="server", close_kind="rst"), bytes_client=0,
                                             bytes_server=0), "connection-refused", False, "target-unreachable", None),
    ("accepted, then reset before any data: not a refusal",
     lambda p: replace(conn(closed_by="server", close_kind="rst"), bytes_client=0, bytes_server=0, synack_seen=True),
     "not-tls", False, None, None),
    ("a reset without SYN is not a refusal", lambda p: replace(conn(closed_by="server", close_kind="rst", syn=False),
                                                              bytes_client=0, bytes_server=0),
     "not-tls", False, None, None),
    ("ok-mid-connection", lambda p: conn(client_records=(APP, APP), server_records=(APP,), done=True, syn=False),
     "ok", False, None, None),
    # protocol
    ("protocol-version-alert", lambda p: conn(hello(), alerts=(alert("server", "protocol_version"),),
                                              closed_by="server"),
     "protocol-mismatch", False, "target-protocol-mismatch", "target-protocols.yml"),
    ("protocol-version-alert-tls13-client", lambda p: conn(hello13(), alerts=(alert("server", "protocol_version"),)),
     "protocol-mismatch", False, "target-protocol-mismatch", "target-protocols.yml"),
    ("serverhello-version-not-offered", lambda p: conn(hello13(), server_hello("TLSv1", "TLS_RSA_WITH_AES_128_CBC_SHA"),
                                                       alerts=(alert("client", "protocol_version"),)),
     "protocol-mismatch", False, "target-protocol-mismatch", "target-protocols.yml"),
    ("client-refuses-lower-version", lambda p: conn(hello(), server_hello("TLSv1", "TLS_RSA_WITH_AES_128_CBC_SHA"),
                                                    alerts=(alert("client", "protocol_version"),)),
     "protocol-mismatch", False, "target-protocol-mismatch", "target-protocols.yml"),
    ("tls10-client-vs-openssl3-internal-error",
     lambda p: conn(hello("TLSv1", suites=LEGACY_ONLY), alerts=(alert("server", "internal_error"),),
                    closed_by="server"),
     "protocol-mismatch", True, "target-protocol-mismatch", "target-protocols.yml"),
    ("tls11-client-handshake-failure", lambda p: conn(hello("TLSv1.1"), alerts=(alert("server", "handshake_failure"),)),
     "protocol-mismatch", True, "target-protocol-mismatch", "target-protocols.yml"),
    # cipher
    ("cipher-legacy-suites-with-sni", lambda p: conn(hello(suites=LEGACY_ONLY),
                                                     alerts=(alert("server", "handshake_failure"),)),
     "cipher-mismatch", False, "target-cipher-mismatch", None),
    ("cipher-modern-suites-with-sni-tls13", lambda p: conn(hello13(), alerts=(alert("server", "handshake_failure"),)),
     "cipher-mismatch", False, "target-cipher-mismatch", None),
    ("cipher-insufficient-security", lambda p: conn(hello(), alerts=(alert("server", "insufficient_security"),)),
     "cipher-mismatch", False, "target-cipher-mismatch", None),
    ("cipher-java8-limited-jce", lambda p: conn(hello(suites=JAVA8_LIMITED),
                                                alerts=(alert("server", "handshake_failure"),)),
     "cipher-mismatch", False, "jce-limited", "jce-unlimited.yml"),
    ("cipher-no-sni-but-legacy-suites", lambda p: conn(hello(sni=None, suites=LEGACY_ONLY),
                                                       alerts=(alert("server", "handshake_failure"),)),
     "cipher-mismatch", False, "target-cipher-mismatch", None),
    ("cipher-client-refuses-server-choice", lambda p: conn(hello(), server_hello(),
                                                           alerts=(alert("client", "handshake_failure"),)),
     "cipher-mismatch", False, "target-cipher-mismatch", None),
    ("cipher-hrr-then-client-closes", lambda p: conn(hello13(), server_hello("TLSv1.3", hrr=True), closed_by="client"),
     "cipher-mismatch", True, "target-cipher-mismatch", None),
    # SNI
    ("sni-missing-handshake-failure-tls12", lambda p: conn(hello(sni=None),
                                                           alerts=(alert("server", "handshake_failure"),)),
     "sni-missing", False, "target-sni-required", "enable-sni.yml"),
    ("sni-missing-java8-limited", lambda p: conn(hello(sni=None, suites=JAVA8_LIMITED),
                                                 alerts=(alert("server", "handshake_failure"),)),
     "sni-missing", False, "target-sni-required", "enable-sni.yml"),
    ("sni-missing-unrecognized-name-tls13", lambda p: conn(hello13(None),
                                                           alerts=(alert("server", "unrecognized_name"),)),
     "sni-missing", False, "target-sni-required", "enable-sni.yml"),
    ("sni-missing-server-closes", lambda p: conn(hello13(None), closed_by="server", close_kind="rst"),
     "sni-missing", True, "target-sni-required", "enable-sni.yml"),
    ("sni-unrecognized-tls12", lambda p: conn(hello(sni="nope.example.com"),
                                              alerts=(alert("server", "unrecognized_name"),)),
     "sni-unrecognized", False, None, None),
    ("sni-unrecognized-tls13", lambda p: conn(hello13("nope.example.com"),
                                              alerts=(alert("server", "unrecognized_name"),)),
     "sni-unrecognized", False, None, None),
    ("sni-unrecognized-warning-then-abort", lambda p: conn(
        hello(sni="nope.example.com"), server_hello(),
        alerts=(alert("server", "unrecognized_name", level="warning"),), closed_by="client"),
     "sni-unrecognized", False, None, None),
    # certificates, TLS 1.2: plaintext client alerts and the chain check
    ("cert-unknown-ca-leaf-only", lambda p: conn(
        hello(sni="leaf.example.com"), server_hello(), certificates=summaries(p.leaves["good"].cert),
        alerts=(alert("client", "unknown_ca"),), closed_by="client"),
     "certificate-rejected", False, "target-cert-chain-incomplete", None),
    ("cert-expired", lambda p: conn(
        hello(sni="expired.example.com"), server_hello(),
        certificates=summaries(p.leaves["expired"].cert, p.inter.cert),
        alerts=(alert("client", "certificate_expired"),)),
     "certificate-rejected", False, "target-cert-expired", None),
    ("cert-java-certificate-unknown-expired", lambda p: conn(
        hello(sni="expired.example.com"), server_hello(),
        certificates=summaries(p.leaves["expired"].cert, p.inter.cert),
        alerts=(alert("client", "certificate_unknown"),)),
     "certificate-rejected", False, "target-cert-expired", None),
    ("cert-self-signed", lambda p: conn(
        hello(sni="self.example.com"), server_hello(), certificates=summaries(p.leaves["selfsigned"].cert),
        alerts=(alert("client", "certificate_unknown"),)),
     "certificate-rejected", False, "target-cert-untrusted", None),
    ("cert-hostname-mismatch", lambda p: conn(
        hello(sni="leaf.example.com"), server_hello(),
        certificates=summaries(p.leaves["wronghost"].cert, p.inter.cert),
        alerts=(alert("client", "certificate_unknown"),)),
     "certificate-rejected", False, "target-cert-hostname-mismatch", None),
    ("cert-untrusted-root-full-chain", lambda p: conn(
        hello(sni="leaf.example.com"), server_hello(), certificates=summaries(p.leaves["good"].cert, p.inter.cert),
        alerts=(alert("client", "unknown_ca"),)),
     "certificate-rejected", False, "target-cert-untrusted", None),
    ("cert-client-closes-silently-tls12", lambda p: conn(
        hello(sni="self.example.com"), server_hello(), certificates=summaries(p.leaves["selfsigned"].cert),
        closed_by="client", server_records=("handshake",)),
     "certificate-rejected", True, "target-cert-untrusted", None),
    # certificates, TLS 1.3: Java's encrypted alert, as a pattern and as an alert the reader flagged
    ("cert-tls13-java-pattern", lambda p: conn(
        hello13(), server_hello13(), client_records=(CCS, APP), server_records=SERVER_FLIGHT_13, closed_by="client"),
     "certificate-rejected", True, "target-cert-untrusted", None),
    ("cert-tls13-encrypted-client-alert", lambda p: conn(
        hello13(), server_hello13(), client_records=(CCS, APP), server_records=SERVER_FLIGHT_13,
        alerts=(alert("client", None, encrypted=True),), closed_by="client"),
     "certificate-rejected", True, "target-cert-untrusted", None),
    ("cert-tls13-19-byte-client-record", lambda p: conn(
        hello13(), server_hello13(), client_records=(CCS, APP), client_lengths=(1, 19),
        server_records=SERVER_FLIGHT_13, server_lengths=(1, 25, 900, 280, 69), closed_by="client"),
     "certificate-rejected", True, "target-cert-untrusted", None),
    ("cert-tls13-19-byte-record-capture-ends", lambda p: conn(
        hello13(), server_hello13(), client_records=(CCS, APP), client_lengths=(1, 19),
        server_records=SERVER_FLIGHT_13, server_lengths=(1, 25, 900, 280, 69)),
     "certificate-rejected", True, "target-cert-untrusted", None),
    ("cert-tls13-java17-35-byte-record", lambda p: conn(
        hello13(), server_hello13(), client_records=(CCS, APP), client_lengths=(1, 35),
        server_records=SERVER_FLIGHT_13, server_lengths=(1, 25, 900, 280, 69), closed_by="client"),
     "certificate-rejected", True, "target-cert-untrusted", None),
    ("tls13-empty-client-cert-then-finished-is-not-an-alert", lambda p: conn(
        hello13(), server_hello13(), client_records=(CCS, APP, APP), client_lengths=(1, 25, 69),
        server_records=SERVER_FLIGHT_13, server_lengths=(1, 25, 900, 280, 69)),
     "incomplete", False, None, None),
    # the server refuses the client's certificate (two-way TLS)
    ("client-cert-refused-tls12", lambda p: conn(
        hello(), server_hello(), alerts=(alert("server", "bad_certificate"),), closed_by="server"),
     "certificate-rejected", False, None, None),
    ("client-cert-refused-tls13-encrypted", lambda p: conn(
        hello13(), server_hello13(), client_records=(CCS, APP, APP, APP), server_records=(*SERVER_FLIGHT_13, APP),
        closed_by="server"),
     "certificate-rejected", True, None, None),
    ("server-handshake-failure-after-serverhello", lambda p: conn(
        hello(), server_hello(), alerts=(alert("server", "handshake_failure"),)),
     "certificate-rejected", True, None, None),
    ("client-cert-refused-tls13-sized", lambda p: conn(
        hello13(), server_hello13(), client_records=(CCS, APP, APP, APP), client_lengths=(1, 900, 100, 69),
        server_records=(*SERVER_FLIGHT_13, APP), server_lengths=(1, 25, 900, 280, 69, 19), closed_by="server"),
     "certificate-rejected", True, None, None),
    # server closed
    ("server-closes-after-long-records-tls13", lambda p: conn(
        hello13(), server_hello13(), client_records=(CCS, APP), client_lengths=(1, 69),
        server_records=SERVER_FLIGHT_13, server_lengths=(1, 25, 900, 280, 69), closed_by="server"),
     "server-closed", False, None, None),
    ("server-rst-after-hello-with-sni", lambda p: conn(hello(), closed_by="server", close_kind="rst"),
     "server-closed", False, None, None),
    ("server-fin-after-serverhello", lambda p: conn(hello13(), server_hello13(), closed_by="server"),
     "server-closed", False, None, None),
    ("server-unmapped-alert", lambda p: conn(hello(), alerts=(alert("server", "decode_error"),)),
     "server-closed", False, None, None),
    ("server-fin-then-openssl-decode-error", lambda p: conn(
        hello13(), closed_by="server", alerts=(alert("client", "decode_error", at=0.02),)),
     "server-closed", False, None, None),
    ("server-never-answers", lambda p: conn(hello(), closed_by="client"), "server-closed", True, None, None),
    # incomplete
    ("capture-ends-after-clienthello", lambda p: conn(hello()), "incomplete", False, None, None),
    ("capture-ends-after-serverhello", lambda p: conn(hello13(), server_hello13(), server_records=SERVER_FLIGHT_13),
     "incomplete", False, None, None),
    ("capture-starts-mid-connection", lambda p: conn(client_records=(APP, APP), server_records=(APP,), syn=False),
     "incomplete", False, None, None),
]


@pytest.mark.parametrize(("case_id", "build", "kind", "inferred", "finding", "playbook"), CASES,
                         ids=[c[0] for c in CASES])
def test_verdict_table(pki: Pki, case_id: str, build: Callable[[Pki], ConnectionObs], kind: str, inferred: bool,
                       finding: str | None, playbook: str | None) -> None:
    v = judge(build(pki))
    assert (v.kind, v.inferred, v.finding, v.playbook) == (kind, inferred, finding, playbook), v.reason
    assert v.reason
    if kind not in ("ok", "not-tls"):
        assert v.remediation, "every failure says what to do"
    if inferred:  # an inference says why it is one
        assert any(w in v.reason for w in ("most likely", "pattern", "often", "mostly", "rather than", "gave up",
                                           "if the server")), v.reason


def test_every_verdict_is_covered() -> None:
    assert {c[2] for c in CASES} == set(VERDICTS)


def test_tls12_and_tls13_with_and_without_sni_are_covered() -> None:
    ids = {c[0] for c in CASES}
    assert {"ok-tls12", "ok-tls13-no-sni", "sni-missing-handshake-failure-tls12", "sni-missing-unrecognized-name-tls13",
            "sni-unrecognized-tls12", "sni-unrecognized-tls13", "cert-tls13-java-pattern"} <= ids


# ---- remediation names the fixer check finding and playbook ----------------------------------------------

@pytest.mark.parametrize(("obs", "words"), [
    (conn(hello(sni=None), alerts=(alert("server", "handshake_failure"),)),
     ("enable-sni", "mp-sni-disabled", "target-sni-required", "jsse.enableSNIExtension")),
    (conn(hello(), alerts=(alert("server", "protocol_version"),)),
     ("target-protocol-mismatch", "target-protocols.yml", "mp-tls-protocols.yml", "router-tls.yml")),
    (conn(hello(suites=LEGACY_ONLY), alerts=(alert("server", "handshake_failure"),)),
     ("target-cipher-mismatch", "router-cipher-mismatch", "router-tls.yml")),
    (conn(hello(suites=JAVA8_LIMITED), alerts=(alert("server", "handshake_failure"),)),
     ("jce-limited", "jce-unlimited.yml", "AES-256")),
])
def test_remediation_names_findings_and_playbooks(obs: ConnectionObs, words: tuple[str, ...]) -> None:
    v = judge(obs)
    for word in words:
        assert word in v.remediation, (word, v.remediation)


def test_certificate_remediation_names_both_directions(pki: Pki) -> None:
    v = judge(conn(hello(), server_hello(), certificates=summaries(pki.leaves["good"].cert),
                   alerts=(alert("client", "unknown_ca"),)))
    for word in ("target-cert-chain-incomplete", "router-cert-chain-incomplete", "router-cert-expired"):
        assert word in v.remediation


def test_cipher_reason_says_whether_suites_look_acceptable() -> None:
    legacy = judge(conn(hello(suites=LEGACY_ONLY), alerts=(alert("server", "handshake_failure"),)))
    assert "none of its suites (TLS_RSA_WITH_AES_128_CBC_SHA)" in legacy.reason
    modern = judge(conn(hello(), alerts=(alert("server", "handshake_failure"),)))
    assert "narrower" in modern.reason and "server_name backend.example.com" in modern.reason


def test_sni_missing_and_cipher_mismatch_differ_only_by_sni() -> None:
    without = judge(conn(hello(sni=None), alerts=(alert("server", "handshake_failure"),)))
    with_sni = judge(conn(hello(), alerts=(alert("server", "handshake_failure"),)))
    assert (without.kind, with_sni.kind) == ("sni-missing", "cipher-mismatch")
    assert "no server_name" in without.reason


def test_close_notify_and_benign_warnings_do_not_decide() -> None:
    obs = conn(hello(), alerts=(alert("client", "close_notify", level="warning"),), closed_by="server")
    assert judge(obs).kind == "server-closed"


def test_handshake_done_wins_over_a_later_close_notify() -> None:
    obs = conn(hello(), server_hello(), alerts=(alert("client", "close_notify", level="warning", encrypted=True),),
               done=True, closed_by="client")
    assert judge(obs).kind == "ok"


def test_tls12_encrypted_alerts_are_inferences() -> None:
    server = judge(conn(hello(), server_hello(), client_records=(CCS, "handshake"),
                        alerts=(alert("server", None, encrypted=True),)))
    assert server.kind == "server-closed" and server.inferred and "Finished" in server.reason
    sized = judge(conn(hello(), server_hello(), client_records=(CCS, "handshake"),
                       alerts=(dataclasses.replace(alert("server", None, encrypted=True), length=26),)))
    assert "an encrypted alert (26-byte record) from the server" in sized.reason
    client = judge(conn(hello(), server_hello(), client_records=(CCS, "handshake"),
                        alerts=(alert("client", None, encrypted=True),)))
    assert client.kind == "protocol-mismatch" and client.inferred


def test_reader_inference_on_an_encrypted_alert_is_quoted() -> None:
    a = dataclasses.replace(alert("client", None, encrypted=True), inferred="19-byte record then FIN")
    v = judge(conn(hello13(), server_hello13(), client_records=(CCS, APP), alerts=(a,), closed_by="client"))
    assert v.kind == "certificate-rejected" and "19-byte record then FIN" in v.reason


def test_tls13_java_pattern_reason_states_the_inference() -> None:
    v = judge(conn(hello13(), server_hello13(), client_records=(CCS, APP), server_records=SERVER_FLIGHT_13,
                   closed_by="client"))
    assert v.inferred and "Java" in v.reason and "TLS 1.3 encrypts the server's certificate" in v.reason
    assert v.chain_check is None  # nothing to check: the certificate was encrypted


def test_tls13_sized_records_reason_names_the_size() -> None:
    v = judge(conn(hello13(), server_hello13(), client_records=(CCS, APP), client_lengths=(1, 19),
                   server_records=SERVER_FLIGHT_13, server_lengths=(1, 25, 900, 280, 69), closed_by="client"))
    assert "one 19-byte application_data record" in v.reason and "size of an encrypted alert" in v.reason


def test_tls13_finished_then_close_notify_sized_is_not_an_alert() -> None:
    v = judge(conn(hello13(), server_hello13(), client_records=(CCS, APP, APP), client_lengths=(1, 69, 19),
                   server_records=SERVER_FLIGHT_13, server_lengths=(1, 25, 900, 280, 69), closed_by="client"))
    assert v.kind == "incomplete"


def test_tls13_client_with_finished_and_close_notify_is_not_the_java_pattern() -> None:
    # Finished + close_notify: two application_data records; without handshake_done the capture cannot say more
    v = judge(conn(hello13(), server_hello13(), client_records=(CCS, APP, APP), server_records=SERVER_FLIGHT_13,
                   closed_by="client"))
    assert v.kind == "incomplete"


def test_clienthello_not_captured_still_uses_the_alert(pki: Pki) -> None:
    v = judge(conn(None, server_hello(), certificates=summaries(pki.leaves["good"].cert, pki.inter.cert),
                   alerts=(alert("client", "unknown_ca"),), syn=False))
    assert v.kind == "certificate-rejected" and v.chain_check
    assert judge(conn(None, None, alerts=(alert("server", "handshake_failure"),), syn=False)).inferred


# ---- the offline chain check -------------------------------------------------------------------------------

def _check(pki: Pki, *names: str, hostname: str | None = None, at: dt.datetime = NOW) -> Any:
    certs = [pki.inter.cert if n == "inter" else pki.root.cert if n == "root" else pki.leaves[n].cert for n in names]
    return chain_check(summaries(*certs), at, hostname)


def test_chain_check_good_chain(pki: Pki) -> None:
    facts = _check(pki, "good", "inter", hostname="leaf.example.com")
    assert not (facts.expired or facts.incomplete or facts.self_signed_leaf or facts.hostname_mismatch)
    assert "signatures verify from the leaf up to" in facts.text and "Test Intermediate CA" in facts.text
    assert "which was not sent (normal for a root)" in facts.text


def test_chain_check_with_root_sent(pki: Pki) -> None:
    facts = _check(pki, "good", "inter", "root")
    assert "ends with the self-signed root" in facts.text and "Test Root CA" in facts.text
    assert "signatures verify" in facts.text


def test_chain_check_leaf_only_is_incomplete(pki: Pki) -> None:
    facts = _check(pki, "good")
    assert facts.incomplete and "sent only its leaf" in facts.text and "Test Intermediate CA" in facts.text


def test_chain_check_expired_at_capture_time(pki: Pki) -> None:
    facts = _check(pki, "expired", "inter")
    assert facts.expired and "had expired" in facts.text and "expired.example.com" in facts.text
    # the same chain, captured 20 days ago, before it expired, was fine then
    earlier = _check(pki, "expired", "inter", at=NOW - 20 * DAY)
    assert not earlier.expired and "signatures verify" in earlier.text


def test_chain_check_not_yet_valid(pki: Pki) -> None:
    facts = _check(pki, "notyet", "inter")
    assert facts.expired and "not yet valid" in facts.text


def test_chain_check_self_signed_leaf(pki: Pki) -> None:
    facts = _check(pki, "selfsigned")
    assert facts.self_signed_leaf and "self-signed leaf" in facts.text and not facts.incomplete


def test_chain_check_out_of_order_and_wrong_intermediate(pki: Pki) -> None:
    facts = _check(pki, "inter", "good")
    assert "not a chain at depth 1" in facts.text
    rogue = _check(pki, "nointer", "inter")  # issued by a CA that is not the one sent
    assert "not a chain at depth 1" in rogue.text and "Unknown Intermediate CA" in rogue.text


def test_chain_check_bad_signature(pki: Pki, tmp_path: Path) -> None:
    impostor = issue("Test Intermediate CA", None, ca=True)  # same name as the real intermediate, other key
    facts = chain_check(summaries(pki.leaves["good"].cert, impostor.cert), NOW)
    assert "does not verify" in facts.text


def test_chain_check_hostname(pki: Pki) -> None:
    facts = _check(pki, "wronghost", "inter", hostname="leaf.example.com")
    assert facts.hostname_mismatch and "does not name leaf.example.com" in facts.text


def test_chain_check_unparseable_and_empty() -> None:
    bad = CertSummary.from_der(b"garbage")
    facts = chain_check((bad,), NOW)
    assert "could not be parsed" in facts.text
    assert "nothing to check" in chain_check((), NOW).text


def test_certificate_rejected_carries_the_chain_check(pki: Pki) -> None:
    v = judge(conn(hello(sni="leaf.example.com"), server_hello(), certificates=summaries(pki.leaves["good"].cert),
                   alerts=(alert("client", "unknown_ca"),)))
    assert v.chain_check is not None and "sent only its leaf" in v.chain_check
    assert "alert unknown_ca from the client" in v.reason


# ---- small helpers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "modern"), [
    ("TLS_AES_128_GCM_SHA256", True), ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", True),
    ("TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", True), ("TLS_RSA_WITH_AES_128_GCM_SHA256", False),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", False), ("0x1301", False),
])
def test_is_modern_suite(name: str, modern: bool) -> None:
    assert is_modern_suite(name) is modern


def test_jce_limited_needs_a_long_offer() -> None:
    assert looks_jce_limited(hello(suites=JAVA8_LIMITED))
    assert not looks_jce_limited(hello(suites=LEGACY_ONLY))
    assert not looks_jce_limited(hello())


@pytest.mark.parametrize(("ch", "version", "out"), [
    (hello13(), "TLSv1.2", False), (hello13(), "TLSv1", True), (hello(), "TLSv1", False),
    (hello("TLSv1"), "TLSv1.2", True), (hello(), "TLSv1.3", True),
])
def test_version_not_offered(ch: ClientHello, version: str, out: bool) -> None:
    assert version_not_offered(ch, server_hello(version)) is out


def test_judge_is_pure_and_returns_a_verdict() -> None:
    obs = conn(hello(), alerts=(alert("server", "handshake_failure"),))
    assert judge(obs) == judge(obs) and isinstance(judge(obs), Verdict)
