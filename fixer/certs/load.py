"""Load X.509 certificates from PEM (several per file), DER and PKCS#12 files.

A PKCS#12 password is taken from the caller (the CLI reads it from an environment variable or a prompt);
it never appears in an error message or a log record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from fixer.errors import UsageError

PasswordSource = Callable[[], str]


@dataclass(frozen=True)
class LoadedCertificates:
    """The certificates of one file, in file order; for PKCS#12 the key's certificate comes first."""

    source: str
    format: str  # "pem" | "der" | "pkcs12"
    certificates: tuple[x509.Certificate, ...]

    @property
    def first(self) -> x509.Certificate:
        return self.certificates[0]

    @property
    def rest(self) -> tuple[x509.Certificate, ...]:
        return self.certificates[1:]


def load_certificates(path: str | Path, password: str | None = None,
                      password_prompt: PasswordSource | None = None) -> LoadedCertificates:
    """Read `path` and parse it; UsageError (CLI exit 2) when it cannot be read or holds no certificate."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{name}: cannot read: {exc.strerror or exc}") from None
    return parse_certificates(data, name, password, password_prompt)


def parse_certificates(data: bytes, name: str = "<bytes>", password: str | None = None,
                       password_prompt: PasswordSource | None = None) -> LoadedCertificates:
    if not data.strip():
        raise UsageError(f"{name}: empty file")
    if b"-----BEGIN" in data:
        return _parse_pem(data, name)
    try:
        return LoadedCertificates(name, "der", (x509.load_der_x509_certificate(data),))
    except ValueError:
        pass
    return _parse_pkcs12(data, name, password, password_prompt)


def _parse_pem(data: bytes, name: str) -> LoadedCertificates:
    if b"-----BEGIN CERTIFICATE-----" not in data and b"-----BEGIN TRUSTED CERTIFICATE-----" not in data:
        raise UsageError(f"{name}: PEM file holds no CERTIFICATE block")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise UsageError(f"{name}: not a valid PEM certificate: {exc}") from None
    return LoadedCertificates(name, "pem", tuple(certs))


def _try_pkcs12(data: bytes, password: str | None) -> pkcs12.PKCS12KeyAndCertificates | None:
    try:
        return pkcs12.load_pkcs12(data, password.encode() if password is not None else None)
    except ValueError:
        return None


def _parse_pkcs12(data: bytes, name: str, password: str | None,
                  password_prompt: PasswordSource | None) -> LoadedCertificates:
    bundle = _try_pkcs12(data, password)
    if bundle is None and password is None:
        bundle = _try_pkcs12(data, "")
        if bundle is None and password_prompt is not None and _looks_like_pkcs12(data):
            bundle = _try_pkcs12(data, password_prompt())
    if bundle is None:
        if _looks_like_pkcs12(data):
            hint = "wrong password" if password is not None or password_prompt is not None else "password needed"
            raise UsageError(f"{name}: cannot open PKCS#12 file ({hint}; see --password-env)")
        raise UsageError(f"{name}: not a PEM, DER or PKCS#12 certificate file")
    certs: list[x509.Certificate] = []
    if bundle.cert is not None:
        certs.append(bundle.cert.certificate)
    certs.extend(c.certificate for c in bundle.additional_certs)
    if not certs:
        raise UsageError(f"{name}: PKCS#12 file holds no certificate")
    return LoadedCertificates(name, "pkcs12", tuple(certs))


def _looks_like_pkcs12(data: bytes) -> bool:
    """A DER SEQUENCE whose first element is INTEGER 3 (PFX version): good enough to decide on prompting."""
    if len(data) < 8 or data[0] != 0x30:
        return False
    i = 1
    if data[i] & 0x80:
        i += 1 + (data[i] & 0x7F)
    else:
        i += 1
    return data[i:i + 3] == b"\x02\x01\x03"
