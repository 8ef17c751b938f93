"""Keys and certificates generated at lab start-up (nothing secret is checked in)."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificateIssuerPublicKeyTypes,
)
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class SshKey:
    private_openssh: bytes
    public_line: str  # "ssh-ed25519 AAAA..."


def ssh_ed25519(comment: str = "") -> SshKey:
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    line = public.decode() + (f" {comment}" if comment else "")
    return SshKey(private, line)


@dataclass(frozen=True)
class Pem:
    cert: bytes
    key: bytes


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fixer lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _rsa_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


class CertAuthority:
    """A self-made root CA issuing RSA leaves (RSA because the scenarios use ECDHE-RSA suites)."""

    def __init__(self, name: str = "fixer lab root CA") -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # One leaf key shared by all routers: RSA generation is the slowest step of lab start-up.
        self._leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.datetime.now(datetime.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_CA_KEY_USAGE, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )

    def issue(
        self,
        subject: x509.Name,
        public_key: CertificateIssuerPublicKeyTypes,
        issuer: x509.Name,
        issuer_key: CertificateIssuerPrivateKeyTypes,
        not_before: datetime.datetime,
        not_after: datetime.datetime,
        ca: bool = False,
        sans: list[x509.GeneralName] | None = None,
    ) -> x509.Certificate:
        """Any certificate of the lab's PKI (the backends' intermediate and leaves): a CA (basic
        constraints CA:TRUE, keyCertSign) or a TLS server leaf (serverAuth), signed by ``issuer_key``."""
        b = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )
        if ca:
            b = b.add_extension(_CA_KEY_USAGE, critical=True)
        else:
            b = b.add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    @property
    def cert_pem(self) -> bytes:
        return self._cert.public_bytes(serialization.Encoding.PEM)

    def leaf(self, dns_name: str, ip: str) -> Pem:
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(dns_name))
            .issuer_name(self._cert.subject)
            .public_key(self._leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName(dns_name), x509.IPAddress(ipaddress.ip_address(ip))]
                ),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        return Pem(cert.public_bytes(serialization.Encoding.PEM), _rsa_pem(self._leaf_key))


@dataclass(frozen=True)
class LeafSpec:
    """One backend certificate (tests/lab/backends.py says which backend gets which)."""

    cn: str
    dns_names: tuple[str, ...]
    ip: str | None = None  # an IP SAN as well
    issuer: Literal["root", "intermediate", "self"] = "root"
    expired: bool = False  # valid from 60 days ago until 2 days ago


@dataclass(frozen=True)
class BackendPems:
    """The backends' PKI (issue 4): the lab root, an intermediate CA under it and one leaf per backend.
    Every leaf carries the authority's shared leaf key (RSA key generation is slow)."""

    ca: bytes
    intermediate: bytes
    key: bytes
    leaves: dict[str, bytes]  # backend name -> leaf certificate PEM


def backend_pems(ca: CertAuthority, leaves: dict[str, LeafSpec]) -> BackendPems:
    now = datetime.datetime.now(datetime.UTC)
    day = datetime.timedelta(days=1)
    # EC: the intermediate signs only certificates, and an EC key costs ~0.1 ms against ~50 ms for RSA.
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = ca.issue(_name("fixer lab intermediate CA"), inter_key.public_key(), ca._cert.subject, ca._key,
                     now - day, now + 365 * day, ca=True)
    leaf_key = ca._leaf_key
    issuers: dict[str, tuple[x509.Name | None, CertificateIssuerPrivateKeyTypes]] = {
        "root": (ca._cert.subject, ca._key),
        "intermediate": (inter.subject, inter_key),
        "self": (None, leaf_key),
    }
    pems: dict[str, bytes] = {}
    for name, spec in leaves.items():
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in spec.dns_names]
        if spec.ip is not None:
            sans.append(x509.IPAddress(ipaddress.ip_address(spec.ip)))
        issuer_name, issuer_key = issuers[spec.issuer]
        subject = _name(spec.cn)
        before, after = (now - 60 * day, now - 2 * day) if spec.expired else (now - day, now + 90 * day)
        cert = ca.issue(subject, leaf_key.public_key(), issuer_name or subject, issuer_key, before, after, sans=sans)
        pems[name] = cert.public_bytes(serialization.Encoding.PEM)
    return BackendPems(ca.cert_pem, inter.public_bytes(serialization.Encoding.PEM), _rsa_pem(leaf_key), pems)
