"""Text and JSON renderings of probe results, and certificate summaries from DER: no network."""

from __future__ import annotations

import datetime as dt
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fixer.probe.model import CertSummary, Failure, HandshakeResult, ProbeResult, ProbeTarget
from fixer.probe.render import describe_failure, render_json, render_text


def _der(cn: str = "api.example.com") -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    t0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(0x1234).not_valid_before(t0).not_valid_after(t0 + dt.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def test_cert_summary_from_der() -> None:
    c = CertSummary.from_der(_der())
    assert c.subject == c.issuer == "CN=api.example.com"
    assert c.sans == ("DNS:api.example.com",) and c.serial == "1234"
    assert c.not_after == dt.datetime(2025, 4, 1, tzinfo=dt.UTC) and len(c.sha256) == 64
    bad = CertSummary.from_der(b"not a certificate")
    assert bad.parse_error and len(bad.sha256) == 64


def _result() -> ProbeResult:
    leaf = CertSummary.from_der(_der())
    other = CertSummary.from_der(_der("default.invalid"))
    ok = HandshakeResult("TLSv1.2", True, True, "TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384", (leaf,),
                         servername="api.example.com")
    alert = HandshakeResult("TLSv1", True, False, failure=Failure("alert", "internal_error", message="x"),
                            servername="api.example.com")
    nosni = HandshakeResult("TLSv1..TLSv1.3", False, True, "TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384", (other,),
                            chain_complete=False)
    return ProbeResult(ProbeTarget("api.example.com", 8443), {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True,
                       "TLSv1.3": False}, False, True, (leaf,), (other,), ok, (alert, ok, nosni))


def test_render_text() -> None:
    text = render_text([_result()])
    assert text.startswith("api.example.com:8443: reachable\n")
    assert "protocols accepted: TLSv1.2\n" in text
    assert "TLSv1: alert internal_error" in text
    assert "SNI required: no; certificate differs without SNI: yes" in text
    assert "chain without SNI:" in text and "CN=default.invalid" in text
    assert "only the leaf certificate" in text


def test_render_json_roundtrip() -> None:
    doc = json.loads(render_json([_result()]))
    r = doc["results"][0]
    assert doc["schema_version"] == "1.1" and r["reachable"] is True
    assert r["via"] == "control" and r["vantage"] is None
    assert r["target"] == {"host": "api.example.com", "port": 8443, "servername": None}
    assert r["protocols"]["TLSv1.2"] is True and r["sni_changes_certificate"] is True
    assert r["handshakes"][0]["failure"] == {"kind": "alert", "alert": "internal_error", "verify_code": None,
                                             "message": "x"}
    assert r["chain_with_sni"][0]["not_after"] == "2025-04-01T00:00:00+00:00"


def test_describe_failure() -> None:
    assert describe_failure(None) == "ok"
    assert describe_failure(Failure("verify", verify_code=20, message="unable")) == "verify error 20: unable"
    assert describe_failure(Failure("timeout", message="timeout")) == "timeout"
    assert describe_failure(Failure("refused", message="[Errno 111] refused")) == "refused: [Errno 111] refused"
