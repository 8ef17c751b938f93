"""A throw-away PKI generated at test time with cryptography: root -> intermediate -> leaves of every case."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fixer test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def issue(cn: str, issuer: Issued | None, *, ca: bool = False, sans: list[str] | None = None,
          not_before: dt.datetime | None = None, not_after: dt.datetime | None = None) -> Issued:
    """`issuer=None` makes a self-signed certificate. `sans` entries are DNS names or IP addresses."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = name(cn)
    b = (x509.CertificateBuilder()
         .subject_name(subject)
         .issuer_name(issuer.cert.subject if issuer else subject)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(not_before or NOW - 30 * DAY)
         .not_valid_after(not_after or NOW + 365 * DAY)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                            critical=False)
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
    else:
        b = b.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if sans:
        general: list[x509.GeneralName] = []
        for s in sans:
            try:
                general.append(x509.IPAddress(ipaddress.ip_address(s)))
            except ValueError:
                general.append(x509.DNSName(s))
        b = b.add_extension(x509.SubjectAlternativeName(general), critical=False)
    cert = b.sign(issuer.key if issuer else key, hashes.SHA256())
    return Issued(cert, key)


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@dataclass(frozen=True)
class Pki:
    dir: Path
    root: Issued
    inter: Issued
    leaves: dict[str, Issued]

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.pem"


def build_pki(directory: Path) -> Pki:
    root = issue("Test Root CA", None, ca=True, not_after=NOW + 3650 * DAY)
    inter = issue("Test Intermediate CA", root, ca=True, not_after=NOW + 1825 * DAY)
    other_inter = issue("Unknown Intermediate CA", root, ca=True)  # never handed to the verifier
    rogue_root = issue("Rogue Root CA", None, ca=True)
    rogue_inter = issue("Rogue Intermediate CA", rogue_root, ca=True)
    leaves = {
        "good": issue("leaf.example.com", inter, sans=["leaf.example.com", "192.0.2.10"]),
        "expired": issue("expired.example.com", inter, sans=["expired.example.com"],
                         not_before=NOW - 400 * DAY, not_after=NOW - 10 * DAY),
        "notyet": issue("future.example.com", inter, sans=["future.example.com"],
                        not_before=NOW + 10 * DAY, not_after=NOW + 400 * DAY),
        "wronghost": issue("other.example.com", inter, sans=["other.example.com", "www.other.example.com"]),
        "wildcard": issue("*.example.com", inter, sans=["*.example.com"]),
        "selfsigned": issue("self.example.com", None, sans=["self.example.com"]),
        "nointer": issue("orphan.example.com", other_inter, sans=["orphan.example.com"]),
        "rogue": issue("rogue.example.com", rogue_inter, sans=["rogue.example.com"]),
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "root.pem").write_bytes(pem(root.cert))
    (directory / "inter.pem").write_bytes(pem(inter.cert))
    # the rogue chain travels with its own (untrusted) root, like a server sending its whole chain
    (directory / "rogue-chain.pem").write_bytes(pem(rogue_inter.cert, rogue_root.cert))
    for key, leaf in leaves.items():
        (directory / f"{key}.pem").write_bytes(pem(leaf.cert))
    return Pki(directory, root, inter, leaves)
