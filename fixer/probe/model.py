"""Probe results as frozen data: nothing here talks to the network, and no failure is an exception."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from cryptography import x509

PROTOCOLS: tuple[str, ...] = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")

Via = Literal["control", "tunnel", "node-openssl"]  # where the handshakes ran from, and how
FailureKind = Literal["alert", "verify", "timeout", "refused", "reset", "closed", "dns", "error"]


@dataclass(frozen=True)
class ProbeTarget:
    host: str
    port: int = 443
    servername: str | None = None

    def __str__(self) -> str:
        where = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        return f"{where} (SNI {self.servername})" if self.servername else where


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    alert: str | None = None  # TLS alert description name, e.g. "handshake_failure", "protocol_version"
    verify_code: int | None = None  # OpenSSL X509_V_ERR_* code when kind == "verify"
    message: str = ""


@dataclass(frozen=True)
class CertSummary:
    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: datetime | None
    not_after: datetime | None
    sha256: str  # hex, lower case, no separators
    serial: str = ""
    parse_error: str | None = None  # the DER could not be parsed; only the fingerprint is known
    # the certificate as presented (for chain verification); never serialized, not compared
    der: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def from_der(cls, der: bytes) -> CertSummary:
        fingerprint = hashlib.sha256(der).hexdigest()
        try:
            cert = x509.load_der_x509_certificate(der)
            sans: tuple[str, ...] = ()
            try:
                ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                sans = tuple(
                    [f"DNS:{n}" for n in ext.get_values_for_type(x509.DNSName)]
                    + [f"IP:{a}" for a in ext.get_values_for_type(x509.IPAddress)]
                )
            except x509.ExtensionNotFound:
                pass
            return cls(
                subject=cert.subject.rfc4514_string(),
                issuer=cert.issuer.rfc4514_string(),
                sans=sans,
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
                sha256=fingerprint,
                serial=format(cert.serial_number, "x"),
                der=der,
            )
        except Exception as exc:  # any malformed certificate is still data, never a crash
            return cls(subject="", issuer="", sans=(), not_before=None, not_after=None, sha256=fingerprint,
                       parse_error=f"{type(exc).__name__}: {exc}", der=der)


@dataclass(frozen=True)
class HandshakeResult:
    protocol_offered: str  # one of PROTOCOLS, or "TLSv1..TLSv1.3"-style range
    sni: bool  # a server name was sent
    ok: bool
    negotiated_protocol: str | None = None
    cipher: str | None = None  # OpenSSL name as Python's ssl reports it
    peer_chain: tuple[CertSummary, ...] = ()
    failure: Failure | None = None
    servername: str | None = None
    chain_complete: bool = True  # False: only the leaf could be read (Python < 3.13 without the private API)
    elapsed: float = 0.0  # seconds, connect included

    @property
    def leaf(self) -> CertSummary | None:
        return self.peer_chain[0] if self.peer_chain else None


@dataclass(frozen=True)
class SuiteScan:
    """The cipher suites a server accepts, per protocol (`fixer probe --ciphers`, fixer.probe.suites).

    `accepted` holds IANA names in the order the server picked them from shrinking offers: its own preference
    order when `server_order[protocol]` is True; the client's (OpenSSL's) order when False (the server follows
    the client); None when undecided (one suite, or a mixed answer). A protocol with no accepted suite is left
    out. `stopped[protocol]` is the failure (not a refusal: a timeout, a reset...) that ended that protocol's
    scan early, so suites after it are unknown. `available` is False when no scan ran (see `notes`).
    """

    accepted: dict[str, tuple[str, ...]]
    server_order: dict[str, bool | None] = field(default_factory=dict)
    stopped: dict[str, Failure] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    handshakes: int = 0
    available: bool = True


@dataclass(frozen=True)
class ProbeResult:
    target: ProbeTarget
    protocols: dict[str, bool]  # PROTOCOLS -> accepted (with SNI when a name is known)
    sni_required: bool | None  # None: not decidable (no name to send, or nothing worked with SNI)
    sni_changes_certificate: bool | None
    chain_with_sni: tuple[CertSummary, ...]
    chain_without_sni: tuple[CertSummary, ...]
    negotiated: HandshakeResult | None  # the successful handshake at the highest protocol
    handshakes: tuple[HandshakeResult, ...] = field(default_factory=tuple)
    via: Via = "control"  # control machine; a node's SSH tunnel; `openssl s_client` run on the node
    vantage: str | None = None  # the inventory host the probe ran from (None: the control machine)
    suites: SuiteScan | None = None  # accepted cipher suites per protocol; None unless asked (--ciphers)

    @property
    def reachable(self) -> bool:
        """At least one handshake completed."""
        return any(h.ok for h in self.handshakes)


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, tuples and datetimes as plain JSON values (datetimes ISO 8601 UTC)."""
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, ProbeTarget | Failure | CertSummary | HandshakeResult | SuiteScan | ProbeResult):
        return {k: to_jsonable(getattr(obj, k)) for k in obj.__dataclass_fields__ if k != "der"}
    if isinstance(obj, tuple | list):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    return obj
