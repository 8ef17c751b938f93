"""Hostname checking per RFC 6125 (what a careful TLS client does).

DNS-ID SANs first; the subject CN only when the certificate has no DNS SAN. A wildcard is allowed only as the
whole left-most label (`*.example.com`, never `f*o.example.com` or `www.*.com`), matches exactly one label,
and needs at least two labels after it. IP hostnames match iPAddress SANs only.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class HostnameResult:
    hostname: str
    ok: bool
    matched: str | None  # the presented identifier that matched, e.g. "DNS:*.example.com"
    presented: tuple[str, ...]  # every identifier checked, e.g. ("DNS:a.example.com", "CN:a.example.com")
    message: str


def _dns_names(cert: x509.Certificate) -> tuple[list[str], list[ipaddress.IPv4Address | ipaddress.IPv6Address]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    ips = [a for a in san.get_values_for_type(x509.IPAddress)
           if isinstance(a, ipaddress.IPv4Address | ipaddress.IPv6Address)]
    return list(san.get_values_for_type(x509.DNSName)), ips


def _common_names(cert: x509.Certificate) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def _normalize(name: str) -> str:
    return name.strip().rstrip(".").lower()


def dns_pattern_matches(pattern: str, hostname: str) -> bool:
    """RFC 6125 section 6.4.3 with the strict choices: full left-most-label wildcard only, one label."""
    pat = _normalize(pattern)
    host = _normalize(hostname)
    if not pat or not host:
        return False
    if "*" not in pat:
        return pat == host
    p_labels = pat.split(".")
    h_labels = host.split(".")
    if p_labels[0] != "*" or any("*" in label for label in p_labels[1:]):
        return False  # partial (f*o) or non-left-most wildcard
    if len(p_labels) < 3 or len(p_labels) != len(h_labels):
        return False  # `*.com` is never honoured; `*` spans exactly one label
    if not h_labels[0]:
        return False
    return p_labels[1:] == h_labels[1:]


def parse_ip(hostname: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(hostname.strip().strip("[]"))
    except ValueError:
        return None


def match_hostname(cert: x509.Certificate, hostname: str) -> HostnameResult:
    dns, ips = _dns_names(cert)
    ip = parse_ip(hostname)
    if ip is not None:
        presented = tuple(f"IP:{a}" for a in ips)
        for a in ips:
            if a == ip:
                return HostnameResult(hostname, True, f"IP:{a}", presented, f"{hostname} matches SAN IP:{a}")
        listed = ", ".join(presented) or "no IP SAN"
        return HostnameResult(hostname, False, None, presented,
                              f"{hostname} matches no IP SAN of the certificate (checked: {listed})")
    if dns:
        presented = tuple(f"DNS:{d}" for d in dns)
        for d in dns:
            if dns_pattern_matches(d, hostname):
                return HostnameResult(hostname, True, f"DNS:{d}", presented, f"{hostname} matches SAN DNS:{d}")
        return HostnameResult(hostname, False, None, presented,
                              f"{hostname} matches none of the SANs: {', '.join(presented)}")
    cns = _common_names(cert)
    presented = tuple(f"CN:{c}" for c in cns)
    for c in cns:
        if dns_pattern_matches(c, hostname):
            return HostnameResult(hostname, True, f"CN:{c}", presented,
                                  f"{hostname} matches subject CN {c} (certificate has no DNS SAN)")
    listed = ", ".join(presented) or "no CN"
    return HostnameResult(hostname, False, None, presented,
                          f"{hostname} does not match: certificate has no DNS SAN ({listed})")
