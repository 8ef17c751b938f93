"""Certificates: loading (PEM, DER, PKCS#12) and chain/hostname verification with OpenSSL semantics.

The same code serves `fixer cert verify` (files) and the TLS probes (chains a server presented).
"""

from __future__ import annotations

from fixer.certs.hostname import HostnameResult, match_hostname
from fixer.certs.load import LoadedCertificates, load_certificates, parse_certificates
from fixer.certs.verify import VerifyResult, verify_chain

__all__ = [
    "HostnameResult",
    "LoadedCertificates",
    "VerifyResult",
    "load_certificates",
    "match_hostname",
    "parse_certificates",
    "verify_chain",
]
