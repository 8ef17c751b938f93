"""Chain verification with OpenSSL semantics (what `openssl verify -CAfile root -untrusted inter leaf`, and
lenient clients like Java, accept), naming the failing link.

pyOpenSSL's `X509Store` does the path building and checks; its errors carry `[code, depth, message]` and the
certificate at fault. Hostname checking (RFC 6125) is separate, see `fixer.certs.hostname`. cryptography's
strict web-PKI verifier is only an extra, informational "modern client" opinion.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from OpenSSL import crypto

from fixer.certs.hostname import match_hostname, parse_ip
from fixer.errors import UsageError

# X509_V_ERR_* codes fixer names explicitly
X509_V_OK = 0
UNABLE_TO_GET_ISSUER_CERT = 2
CERT_NOT_YET_VALID = 9
CERT_HAS_EXPIRED = 10
DEPTH_ZERO_SELF_SIGNED_CERT = 18
SELF_SIGNED_CERT_IN_CHAIN = 19
UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21

KIND_BY_CODE = {
    X509_V_OK: "ok",
    UNABLE_TO_GET_ISSUER_CERT: "chain-incomplete",
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "chain-incomplete",
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: "chain-incomplete",
    CERT_HAS_EXPIRED: "expired",
    CERT_NOT_YET_VALID: "not-yet-valid",
    DEPTH_ZERO_SELF_SIGNED_CERT: "untrusted-root",
    SELF_SIGNED_CERT_IN_CHAIN: "untrusted-root",
}


def subject_of(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "<empty subject>"


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of one verification. `ok` is the chain alone; `valid` adds the hostname when one was given."""

    ok: bool
    code: int
    depth: int
    message: str  # OpenSSL's text for `code`, e.g. "certificate has expired"
    failing_link: str  # one line naming the link at fault, or the verified chain when ok
    kind: str  # ok | chain-incomplete | expired | not-yet-valid | untrusted-root | other
    chain: tuple[str, ...] = ()  # verified chain subjects, leaf first (only when ok)
    failing_subject: str | None = None  # the certificate at fault
    missing_issuer: str | None = None  # subject of the issuer that could not be found
    not_before: str | None = None  # of the certificate at fault (ISO 8601 UTC), for 9/10
    not_after: str | None = None
    hostname: str | None = None
    hostname_ok: bool | None = None  # None when no hostname was asked for
    hostname_message: str | None = None
    hostname_unmatched: tuple[str, ...] = ()  # the presented names that did not match
    at: str | None = None  # verification time, when not "now"
    modern_client: str | None = None  # info only: cryptography's strict web-PKI verifier's opinion
    notes: tuple[str, ...] = field(default=())

    @property
    def valid(self) -> bool:
        return self.ok and self.hostname_ok is not False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["valid"] = self.valid
        d["chain"] = list(self.chain)
        d["hostname_unmatched"] = list(self.hostname_unmatched)
        d["notes"] = list(self.notes)
        return d


def _to_utc(at: dt.datetime) -> dt.datetime:
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


def _build_store(cafile_certs: Sequence[x509.Certificate] | None, capath: str | None,
                 at: dt.datetime | None, partial_chain: bool = False) -> crypto.X509Store:
    store = crypto.X509Store()
    if partial_chain:  # any trusted certificate is an anchor, as in Java's PKIX (not only self-signed roots)
        store.set_flags(crypto.X509StoreFlags.PARTIAL_CHAIN)
    for cert in cafile_certs or ():
        store.add_cert(crypto.X509.from_cryptography(cert))
    if capath is not None:
        if not Path(capath).is_dir():
            raise UsageError(f"{capath}: --capath is not a directory")
        try:
            store.load_locations(None, capath)
        except crypto.Error as exc:
            raise UsageError(f"{capath}: cannot use as CA directory: {exc}") from None
    if at is not None:
        # X509Store.set_time reads timetuple() as UTC: hand it a UTC datetime
        store.set_time(_to_utc(at).replace(tzinfo=None))
    return store


def _describe_failure(code: int, depth: int, message: str, cert: x509.Certificate) -> dict[str, Any]:
    subj = subject_of(cert)
    out: dict[str, Any] = {"failing_subject": subj, "kind": KIND_BY_CODE.get(code, "other")}
    if code in (UNABLE_TO_GET_ISSUER_CERT, UNABLE_TO_GET_ISSUER_CERT_LOCALLY, UNABLE_TO_VERIFY_LEAF_SIGNATURE):
        issuer = cert.issuer.rfc4514_string() or "<empty issuer>"
        out["missing_issuer"] = issuer
        where = "trust store" if code == UNABLE_TO_GET_ISSUER_CERT_LOCALLY else "chain"
        out["failing_link"] = (f"chain incomplete: issuer {issuer} of {subj} (depth {depth}) not found "
                               f"among the untrusted certificates or the {where}")
    elif code == CERT_HAS_EXPIRED:
        out["not_after"] = _iso(cert.not_valid_after_utc)
        out["not_before"] = _iso(cert.not_valid_before_utc)
        out["failing_link"] = f"{subj} (depth {depth}) expired: notAfter {out['not_after']}"
    elif code == CERT_NOT_YET_VALID:
        out["not_after"] = _iso(cert.not_valid_after_utc)
        out["not_before"] = _iso(cert.not_valid_before_utc)
        out["failing_link"] = f"{subj} (depth {depth}) not yet valid: notBefore {out['not_before']}"
    elif code == DEPTH_ZERO_SELF_SIGNED_CERT:
        out["failing_link"] = f"untrusted root: self-signed leaf {subj} is not in the trust store"
    elif code == SELF_SIGNED_CERT_IN_CHAIN:
        out["failing_link"] = f"untrusted root: self-signed {subj} (depth {depth}) is not in the trust store"
    else:
        out["failing_link"] = f"{subj} (depth {depth}): {message}"
    return out


def verify_chain(leaf: x509.Certificate, untrusted: Sequence[x509.Certificate],
                 cafile_certs: Sequence[x509.Certificate] | None, capath: str | None,
                 hostname: str | None = None, at: dt.datetime | None = None,
                 modern_opinion: bool = False, partial_chain: bool = False) -> VerifyResult:
    """Verify `leaf` like `openssl verify` would with the same CAfile/CApath/untrusted set and time
    (`partial_chain`: like `openssl verify -partial_chain`, i.e. Java: an intermediate in the store anchors)."""
    store = _build_store(cafile_certs, capath, at, partial_chain)
    ctx = crypto.X509StoreContext(store, crypto.X509.from_cryptography(leaf),
                                  chain=[crypto.X509.from_cryptography(c) for c in untrusted])
    fields: dict[str, Any]
    try:
        verified = ctx.get_verified_chain()
    except crypto.X509StoreContextError as exc:
        code, depth, message = int(exc.errors[0]), int(exc.errors[1]), str(exc.errors[2])
        fields = {"ok": False, "code": code, "depth": depth, "message": message,
                  **_describe_failure(code, depth, message, exc.certificate.to_cryptography())}
    else:
        chain = tuple(subject_of(c.to_cryptography()) for c in verified)
        fields = {"ok": True, "code": X509_V_OK, "depth": 0, "message": "ok", "kind": "ok", "chain": chain,
                  "failing_link": "verified chain: " + " <- ".join(chain)}
    if hostname is not None:
        hr = match_hostname(leaf, hostname)
        fields.update(hostname=hostname, hostname_ok=hr.ok, hostname_message=hr.message,
                      hostname_unmatched=() if hr.ok else hr.presented)
    if at is not None:
        fields["at"] = _iso(_to_utc(at))
    if modern_opinion:
        fields["modern_client"] = modern_client_opinion(leaf, untrusted, cafile_certs, capath, hostname, at)
    return VerifyResult(**fields)


def _capath_certs(capath: str) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for p in sorted(Path(capath).iterdir()):
        try:
            if p.is_file():
                certs.extend(x509.load_pem_x509_certificates(p.read_bytes()))
        except (OSError, ValueError):
            continue
    return certs


def modern_client_opinion(leaf: x509.Certificate, untrusted: Sequence[x509.Certificate],
                          cafile_certs: Sequence[x509.Certificate] | None, capath: str | None,
                          hostname: str | None, at: dt.datetime | None) -> str:
    """cryptography's strict web-PKI server verifier (rejects CN-only, v1, SHA-1 … that Java accepts)."""
    from cryptography.x509 import verification as v

    if hostname is None:
        return "not checked: a strict web-PKI client always checks a hostname (give --hostname)"
    roots = list(cafile_certs or ()) + (_capath_certs(capath) if capath else [])
    if not roots:
        return "not checked: no trust anchors"
    ip = parse_ip(hostname)
    try:
        subject: v.Subject = x509.IPAddress(ip) if ip is not None else x509.DNSName(hostname)
        builder = v.PolicyBuilder().store(v.Store(roots))
        if at is not None:
            builder = builder.time(_to_utc(at).replace(tzinfo=None))
        builder.build_server_verifier(subject).verify(leaf, list(untrusted))
    except v.VerificationError as exc:
        return f"rejects: {exc}"
    except (ValueError, TypeError) as exc:
        return f"not checked: {exc}"
    return "accepts"
