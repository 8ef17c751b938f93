"""What a message processor's Java offers a backend in its ClientHello: protocols and cipher suites.

Pure: the MP's facts (generated system.properties, java.security's jdk.tls.disabledAlgorithms, Java version)
and a TargetEndpoint's `<SSLInfo>` in, a `ClientOffer` out. Edge sets the SSLEngine's enabled protocols and
suites from `<Protocols>`/`<Ciphers>` when the TargetEndpoint has them, else Java's defaults apply, narrowed
by `jdk.tls.client.protocols` / `https.protocols` and `jdk.tls.client.cipherSuites` / `https.cipherSuites`;
`jdk.tls.disabledAlgorithms` removes entries in every case.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from fixer.facts.model import MessageProcessorFacts
from fixer.probe.model import PROTOCOLS

if TYPE_CHECKING:
    from fixer.bundles.parse import SSLInfo

# SunJSSE's client defaults before jdk.tls.disabledAlgorithms removes what java.security disables (TLSv1 and
# TLSv1.1 since 8u291/11.0.11): the filter below decides, so re-enabling TLSv1.1 there is seen as such
JAVA_DEFAULT_PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
# OpenJDK 8 ships TLS 1.3 (8u272+) but its client does not offer it unless jdk.tls.client.protocols says so
JAVA8_DEFAULT_PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2")
# what a current JDK's java.security disables, assumed when the MP's java.security could not be read
JDK_DEFAULT_DISABLED = ("SSLv3", "TLSv1", "TLSv1.1", "RC4", "DES", "MD5withRSA", "DH keySize < 1024",
                        "EC keySize < 224", "3DES_EDE_CBC", "anon", "NULL", "ECDH")
# SunJSSE's default enabled client suites (OpenJDK 17.0.15, default java.security: ECDH, 3DES, RC4, anon and
# NULL already disabled), in its preference order. Java 8 lacks the CHACHA20 suites.
JAVA_DEFAULT_SUITES: tuple[str, ...] = (
    "TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", "TLS_DHE_DSS_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_CBC_SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA",
)
TLS13_SUITES = frozenset({"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256",
                          "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"})
# disabledAlgorithms entries that are constraints on key sizes or signatures, not suite/protocol names
_CONSTRAINT = re.compile(r"\s(keySize|jdkCA|denyAfter|usage)\b|^include\s|[0-9a-z]with[A-Z]")


@dataclass(frozen=True)
class ClientOffer:
    """The protocols and suites (IANA names) one TLS client offers, and where each list comes from."""

    protocols: tuple[str, ...]
    protocol_source: str
    suites: tuple[str, ...]
    suite_source: str
    disabled_protocols: tuple[str, ...]  # protocols jdk.tls.disabledAlgorithms removes
    disabled_entries: tuple[str, ...] = ()  # the suite-related disabledAlgorithms entries

    def allows(self, protocol: str) -> bool:
        return protocol in self.protocols


def suite_disabled(suite: str, entries: Iterable[str]) -> bool:
    """Whether a disabledAlgorithms entry removes `suite`: its exact name, a `TLS_RSA_*`-style pattern, or an
    algorithm component (`RC4`, `3DES_EDE_CBC`, `anon`, `NULL`, `ECDH`...) as whole `_`-separated tokens."""
    name = suite.upper()
    tokens = "_" + name + "_"
    for raw in entries:
        entry = raw.strip()
        if not entry or _CONSTRAINT.search(entry) or entry in PROTOCOLS or entry.startswith(("SSL", "DTLS")):
            continue
        upper = entry.upper()
        if "*" in entry:
            if fnmatch.fnmatchcase(name, upper):
                return True
        elif name == upper or f"_{upper}_" in tokens:
            return True
    return False


def java_offer(facts: MessageProcessorFacts) -> ClientOffer:
    """The MP's Java offer: client protocol/suite properties, else Java's defaults; minus disabledAlgorithms."""
    if facts.client_protocols:
        base, source = facts.client_protocols, "jdk.tls.client.protocols"
    elif facts.https_protocols:
        base, source = facts.https_protocols, "https.protocols"
    elif facts.java.major == 8:
        base, source = JAVA8_DEFAULT_PROTOCOLS, "Java 8 default"
    else:
        base, source = JAVA_DEFAULT_PROTOCOLS, "Java default"
    known = facts.java.disabled_algorithms
    entries = tuple(a.strip() for a in (JDK_DEFAULT_DISABLED if known is None else known))
    disabled = tuple(p for p in PROTOCOLS if p in entries)
    if facts.client_cipher_suites:
        suites, suite_source = facts.client_cipher_suites, "jdk.tls.client.cipherSuites"
    elif facts.https_cipher_suites:
        suites, suite_source = facts.https_cipher_suites, "https.cipherSuites"
    else:
        suite_source = "Java default"
        suites = JAVA_DEFAULT_SUITES
        if facts.java.major == 8:
            suites = tuple(s for s in suites if "CHACHA20" not in s)
    return ClientOffer(
        protocols=tuple(p for p in base if p not in entries),
        protocol_source=source,
        suites=tuple(s for s in suites if not suite_disabled(s, entries)),
        suite_source=suite_source,
        disabled_protocols=disabled,
        disabled_entries=tuple(e for e in entries if e and e not in PROTOCOLS),
    )


def endpoint_offer(base: ClientOffer, ssl: SSLInfo | None, where: str) -> ClientOffer:
    """`base` as a TargetEndpoint's `<SSLInfo>` narrows it (`where`: the endpoint, for the sources)."""
    if ssl is None:
        return base
    offer = base
    if ssl.protocols:
        offer = replace(offer, protocols=tuple(p for p in ssl.protocols if p not in base.disabled_protocols),
                        protocol_source=f"<SSLInfo><Protocols> of {where}")
    if ssl.ciphers:
        entries = base.disabled_entries
        offer = replace(offer, suites=tuple(c for c in ssl.ciphers if not suite_disabled(c, entries)),
                        suite_source=f"<SSLInfo><Ciphers> of {where}")
    return offer


def tls12_suites(suites: Sequence[str]) -> tuple[str, ...]:
    """The suites usable with TLS <= 1.2 (TLS 1.3 suites are negotiated separately)."""
    return tuple(s for s in suites if s not in TLS13_SUITES and s != "TLS_EMPTY_RENEGOTIATION_INFO_SCSV")
