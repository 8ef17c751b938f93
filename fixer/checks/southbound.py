"""Southbound checks: what an MP's probe of its backends says, as findings.

Targets come from the host var `fixer_targets` and from the TargetEndpoints of proxy bundles (`fixer check
--bundles`). Pure: target specs, probe results (fixer.probe, run from the MP by fixer.probe.targets), the MP's
facts and the truststore certificates in; findings out. Chain verification uses fixer.certs (OpenSSL
semantics); a bundle target's protocol fix comes with the exact TargetEndpoint patch (fixer.checks.target_patch).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fixer.checks.java_offer import ClientOffer, endpoint_offer, java_offer, suite_disabled, tls12_suites
from fixer.checks.model import Evidence, Finding
from fixer.facts.model import MessageProcessorFacts
from fixer.probe.model import PROTOCOLS, CertSummary, HandshakeResult, ProbeResult, ProbeTarget

if TYPE_CHECKING:
    from cryptography import x509

    from fixer.bundles.parse import TargetEndpoint

UNREACHABLE_KINDS = frozenset({"refused", "timeout", "dns"})
CIPHER_ALERTS = frozenset({"handshake_failure", "insufficient_security"})
DEFAULT_WARN_DAYS = 30
MP_PROTOCOLS_PLAYBOOK = "mp-tls-protocols.yml"


@dataclass(frozen=True)
class TargetSpec:
    """One backend an MP calls: a `fixer_targets` entry or a bundle's TargetEndpoint."""

    url: str
    host: str
    port: int
    servername: str | None = None
    truststore: str | None = None  # PEM CA bundle on the control machine
    endpoint: TargetEndpoint | None = None  # where a bundle target comes from
    endpoint_xml: bytes | None = None  # the TargetEndpoint file's bytes (for its patch)

    @property
    def probe_target(self) -> ProbeTarget:
        return ProbeTarget(self.host, self.port, self.servername)

    @property
    def origin(self) -> str:
        if self.endpoint is None:
            return "fixer_targets"
        return f"TargetEndpoint {self.endpoint.name} ({self.endpoint.file})"


@dataclass(frozen=True)
class TargetProbe:
    """What the caller learnt about one target from the MP: the probe, the offer test, the truststore."""

    spec: TargetSpec
    probe: ProbeResult
    truststore: tuple[x509.Certificate, ...] | None = None  # None: no truststore given
    truststore_error: str | None = None  # the truststore could not be read
    cipher_test: HandshakeResult | None = None  # a handshake offering only the MP's suites (see cipher_test_protocol)
    server_suite: str | None = None  # IANA name of the suite the server chose for the probe's offer


def _https_url(url: str, where: str) -> tuple[str, str, int] | str:
    """(the URL as shown, host, port) of an https URL, or why it is not one. Credentials in the URL
    (`https://user:secret@host/`) are dropped from what is shown: reports never carry them."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        why = "credentials in a URL must be percent-encoded" if "@" in url else str(exc)  # exc may quote them
        return f"{where}: bad url {_shown(url)!r}: {why}"
    if parts.scheme.lower() != "https" or not parts.hostname:
        return f"{where}: {_shown(url)!r} is not an https://host[:port]/... URL"
    if port == 0:
        return f"{where}: {_shown(url)!r}: port 0 is not a port"
    return _shown(url), parts.hostname, port or 443


def _shown(url: str) -> str:
    """`url` without any user:password@ part and without its query (API keys travel there)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.split("@", 1)[-1].split("?", 1)[0]
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    at = rest.rfind("@", 0, authority_end) if "@" in rest[:authority_end] else -1
    if at < 0 and "@" in rest:  # a password holding / ? or #: the last @ before any path is the separator
        at = rest.rfind("@")
    rest = rest[at + 1:] if at >= 0 else rest
    return f"{scheme}://{rest.split('?', 1)[0].split('#', 1)[0]}"


def parse_targets(value: Any, default_truststore: str | None = None) -> tuple[list[TargetSpec], list[str]]:
    """`fixer_targets` as specs, and one message per entry that is not usable."""
    if value is None:
        return [], []
    if not isinstance(value, list):
        return [], [f"fixer_targets must be a list, not {type(value).__name__}"]
    specs: list[TargetSpec] = []
    errors: list[str] = []
    for i, item in enumerate(value):
        entry = {"url": item} if isinstance(item, str) else item
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            errors.append(f"fixer_targets[{i}]: needs a url")
            continue
        parsed = _https_url(entry["url"], f"fixer_targets[{i}]")
        if isinstance(parsed, str):
            errors.append(parsed)
            continue
        servername, truststore = entry.get("servername"), entry.get("truststore") or default_truststore
        specs.append(TargetSpec(parsed[0], parsed[1], parsed[2], str(servername) if servername else None,
                                str(truststore) if truststore else None))
    return specs, errors


def endpoint_targets(endpoints: Sequence[tuple[TargetEndpoint, bytes | None]],
                     truststore: str | None = None) -> tuple[list[TargetSpec], list[str]]:
    """The https TargetEndpoints of proxy bundles as specs; notes for the ones that cannot be probed."""
    specs: list[TargetSpec] = []
    notes: list[str] = []
    for ep, xml in endpoints:
        where = f"{ep.file}: TargetEndpoint {ep.name}"
        if ep.servers and not ep.url:
            notes.append(f"{where} uses TargetServer(s) {', '.join(ep.servers)}: not probed (list the servers "
                         "in the host var fixer_targets)")
            continue
        if not ep.url or not ep.tls:
            continue
        parsed = _https_url(ep.url, where)
        if isinstance(parsed, str):
            notes.append(f"{parsed}: not probed")
            continue
        specs.append(TargetSpec(parsed[0], parsed[1], parsed[2], truststore=truststore, endpoint=ep,
                                endpoint_xml=xml))
    return specs, notes


@dataclass(frozen=True)
class SouthboundConfig:
    """The run-wide part of the southbound checks: bundle targets (`--bundles`) and the `--truststore`."""

    bundle_targets: tuple[TargetSpec, ...] = ()
    truststore: str | None = None

    def specs_for(self, host_vars: dict[str, Any]) -> tuple[list[TargetSpec], list[str]]:
        """One MP's targets: its `fixer_targets`, then every bundle target; truststore defaults from the host
        var `fixer_truststore`, then `--truststore`."""
        default = host_vars.get("fixer_truststore") or self.truststore
        default = str(default) if default else None
        specs, errors = parse_targets(host_vars.get("fixer_targets"), default)
        specs += [s if s.truststore or not default else replace(s, truststore=default) for s in self.bundle_targets]
        return specs, errors


def offer_for(facts: MessageProcessorFacts, spec: TargetSpec) -> ClientOffer:
    """What this MP offers this target: its Java, narrowed by the TargetEndpoint's <SSLInfo>."""
    base = java_offer(facts)
    if spec.endpoint is None:
        return base
    return endpoint_offer(base, spec.endpoint.ssl, f"TargetEndpoint {spec.endpoint.name}")


def accepted_protocols(result: ProbeResult) -> tuple[str, ...]:
    return tuple(p for p in PROTOCOLS if result.protocols.get(p))


def cipher_test_protocol(result: ProbeResult, offer: ClientOffer) -> str | None:
    """The protocol to test the MP's suites with: the best common one up to TLS 1.2, None when not needed.

    A common TLS 1.3 never fails on suites (every TLS 1.3 stack has TLS_AES_128_GCM_SHA256); no common
    protocol is a protocol mismatch, not a cipher one.
    """
    common = [p for p in accepted_protocols(result) if offer.allows(p)]
    if not common or "TLSv1.3" in common:
        return None
    return common[-1]


def _failure_text(h: HandshakeResult) -> str:
    f = h.failure
    if f is None:
        return "ok"
    if f.kind == "alert":
        return f"alert {f.alert}"
    return f"{f.kind}: {f.message}".rstrip(": ")


def _alerts(result: ProbeResult) -> str:
    names = sorted({h.failure.alert for h in result.handshakes if h.failure and h.failure.alert})
    return ", ".join(names) or "(none)"


def _base_values(tp: TargetProbe) -> dict[str, str]:
    r = tp.probe
    return {
        "target": tp.spec.url,
        "from": tp.spec.origin,
        "servername": tp.spec.servername or "(host)",
        "via": r.via + (f" from {r.vantage}" if r.vantage else ""),
        "protocols accepted": ", ".join(accepted_protocols(r)) or "(none)",
        "alerts": _alerts(r),
    }


def _chain_known(result: ProbeResult) -> bool:
    """Whether the presented chain was read whole (Python < 3.13 without the private API reads the leaf only)."""
    return all(h.chain_complete for h in result.handshakes if h.ok)


def _chain(result: ProbeResult, sni_enabled: bool = True) -> tuple[CertSummary, ...]:
    """The chain this MP gets: with SNI when its SNI is on, else the backend's default (no-SNI) one."""
    if not sni_enabled:
        return result.chain_without_sni or result.chain_with_sni
    return result.chain_with_sni or result.chain_without_sni


def _chain_values(chain: Sequence[CertSummary]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, c in enumerate(chain):
        after = c.not_after.strftime("%Y-%m-%dT%H:%M:%SZ") if c.not_after else "?"
        out[f"chain[{i}]"] = f"{c.subject or '?'} (issuer {c.issuer or '?'}; notAfter {after})"
    return out


def _finding(fid: str, severity: str, cause: str, tp: TargetProbe, message: str, remediation: str,
             extra: dict[str, str] | None = None) -> Finding:
    ep = tp.spec.endpoint
    evidence = Evidence(ep.file if ep else None, ep.line if ep else None, {**_base_values(tp), **(extra or {})})
    return Finding(fid, severity, cause, f"{tp.spec.url}: {message}", (evidence,), remediation, target=tp.spec.url)


_UNREACHABLE_WORDS = {"refused": "connection refused", "timeout": "timed out", "dns": "name not resolved"}


def check_unreachable(tp: TargetProbe) -> list[Finding]:
    hs = tp.probe.handshakes
    if not hs or any(h.ok for h in hs):
        return []
    if not all(h.failure is not None and h.failure.kind in UNREACHABLE_KINDS for h in hs):
        return []
    kinds = sorted({_UNREACHABLE_WORDS[h.failure.kind] for h in hs if h.failure is not None})
    reasons = sorted({_failure_text(h) for h in hs})
    return [_finding("target-unreachable", "error", "config", tp,
                     f"no connection from this message processor ({', '.join(kinds)})",
                     "check the backend is up, and DNS, routes and firewalls from this message processor to "
                     f"{tp.spec.host}:{tp.spec.port}",
                     {"failures": "; ".join(reasons)})]


def check_protocols(tp: TargetProbe, offer: ClientOffer) -> list[Finding]:
    accepted = accepted_protocols(tp.probe)
    if not accepted or set(accepted) & set(offer.protocols):
        return []
    java_blocks = tuple(p for p in accepted if p in offer.disabled_protocols)
    where = "the API proxy's TargetEndpoint <HTTPTargetConnection><SSLInfo><Protocols><Protocol>"
    patch = f"(playbook target-protocols.yml, target_protocols: [{', '.join(accepted)}])"
    if any(p in ("TLSv1.2", "TLSv1.3") for p in accepted):
        remediation = f"let the MP offer {', '.join(accepted)} to this backend in {where} {patch}"
    else:
        remediation = (f"enable TLSv1.2+ on the backend (best), or offer {', '.join(accepted)} to it in {where} "
                       f"{patch}")
    if java_blocks:
        remediation += (f"; the MP's Java itself disables {', '.join(java_blocks)}: remove them from "
                        f"jdk.tls.disabledAlgorithms (playbook {MP_PROTOCOLS_PLAYBOOK}, "
                        "jdk_tls_disabled_algorithms) and restart the message processor")
    ssl = tp.spec.endpoint.ssl if tp.spec.endpoint else None
    if offer.protocols:
        offered = f"{', '.join(offer.protocols)} ({offer.protocol_source})"
    elif ssl and ssl.protocols:
        offered = (f"nothing ({offer.protocol_source} lists {', '.join(ssl.protocols)}, disabled by "
                   "jdk.tls.disabledAlgorithms)")
    else:
        offered = f"nothing ({offer.protocol_source}, minus jdk.tls.disabledAlgorithms)"
    finding = _finding(
        "target-protocol-mismatch", "error", "protocol", tp,
        f"the backend accepts only {', '.join(accepted)}; this MP offers {offered}: no common protocol",
        remediation,
        {"MP offers": ", ".join(offer.protocols) or "(none)", "MP offer source": offer.protocol_source,
         "jdk.tls.disabledAlgorithms protocols": ", ".join(offer.disabled_protocols) or "(none)"})
    if tp.spec.endpoint is None:
        return [finding]
    from fixer.checks.target_patch import protocol_patch  # lxml and the diff renderer: bundle targets only

    return [protocol_patch(finding, tp.spec, accepted, java_blocks)]


def check_ciphers(tp: TargetProbe, offer: ClientOffer) -> list[Finding]:
    test = tp.cipher_test
    if test is None or test.ok or test.failure is None or test.failure.alert not in CIPHER_ALERTS:
        return []
    chosen = tp.server_suite or (tp.probe.negotiated.cipher if tp.probe.negotiated else None)
    legacy = tls12_suites(offer.suites)
    remediation = f"enable on the backend a suite the MP offers (for example {', '.join(legacy[:3]) or 'none'})"
    if chosen and suite_disabled(chosen, offer.disabled_entries):
        remediation += (f"; the backend's suite {chosen} is one the MP's Java disables (jdk.tls.disabledAlgorithms)"
                        ": re-enabling a weak suite on every MP is the last resort")
    elif tp.spec.endpoint is not None and tp.spec.endpoint.ssl and tp.spec.endpoint.ssl.ciphers:
        remediation += (f", or add {chosen or 'a suite the backend accepts'} to the TargetEndpoint's "
                        "<SSLInfo><Ciphers>")
    return [_finding("target-cipher-mismatch", "error", "cipher", tp,
                     f"the backend accepts {test.protocol_offered} but none of the {len(offer.suites)} cipher "
                     f"suites this MP offers ({offer.suite_source}): alert {test.failure.alert}",
                     remediation,
                     {"tested protocol": test.protocol_offered, "MP suites source": offer.suite_source,
                      "MP suites": ", ".join(offer.suites), "backend chose (probe's wide offer)": chosen or "?"})]


def check_sni(tp: TargetProbe, facts: MessageProcessorFacts) -> list[Finding]:
    if tp.probe.sni_required is not True:
        return []
    off = not facts.sni_enabled
    return [_finding("target-sni-required", "error" if off else "info", "sni", tp,
                     "the backend refuses handshakes without SNI"
                     + ("; SNI is disabled on this message processor, so its calls fail" if off else
                        " (SNI is enabled on this message processor)"),
                     "enable SNI on the message processor (playbook enable-sni.yml)" if off else
                     "nothing to do while jsse.enableSNIExtension stays true",
                     {"sni enabled on MP": str(facts.sni_enabled).lower()})]


def _dates(chain: Sequence[CertSummary], tp: TargetProbe, now: dt.datetime, warn_days: int) -> list[Finding]:
    findings: list[Finding] = []
    chain_ev = _chain_values(chain)
    for c in chain:
        if c.not_after is None:
            continue
        if c.not_after <= now:
            findings.append(_finding("target-cert-expired", "error", "certificate", tp,
                                     f"certificate {c.subject} expired on {c.not_after:%Y-%m-%d}",
                                     "renew the backend's certificate (and install the new chain on the backend)",
                                     {**chain_ev, "expired": c.subject, "notAfter": c.not_after.isoformat()}))
        elif c.not_after <= now + dt.timedelta(days=warn_days):
            findings.append(_finding("target-cert-expiring", "warning", "certificate", tp,
                                     f"certificate {c.subject} expires in {(c.not_after - now).days} day(s) "
                                     f"({c.not_after:%Y-%m-%d})", "renew the backend's certificate before it expires",
                                     {**chain_ev, "expiring": c.subject, "notAfter": c.not_after.isoformat(),
                                      "warn days": str(warn_days)}))
    return findings


def _trust(tp: TargetProbe, certs: list[x509.Certificate], chain_ev: dict[str, str],
           now: dt.datetime) -> list[Finding]:
    if tp.truststore is None:
        if tp.truststore_error is None and len(certs) == 1 and certs[0].issuer == certs[0].subject:
            return [_finding("target-cert-untrusted", "warning", "certificate", tp,
                             "the backend presents a self-signed certificate (no truststore given to verify it)",
                             "give the backend a certificate from a CA in the MP's truststore, or add it to the "
                             "TargetEndpoint's <SSLInfo><TrustStore>; set `truststore` in fixer_targets to check",
                             {**chain_ev, "truststore": "(none given)"})]
        return []
    from fixer.certs.verify import verify_chain  # pyOpenSSL: only when a chain is judged

    vr = verify_chain(certs[0], certs[1:], tp.truststore, None, at=now, partial_chain=True)
    ev = {**chain_ev, "verify": f"{vr.code} {vr.message}", "failing link": vr.failing_link,
          "truststore": tp.spec.truststore or ""}
    if vr.kind == "chain-incomplete" and len(certs) == 1 and certs[0].issuer != certs[0].subject:
        if not _chain_known(tp.probe):
            return []  # only the leaf could be read (old Python): whether the backend sends more is unknown
        ev["missing issuer"] = vr.missing_issuer or "?"
        return [_finding("target-cert-chain-incomplete", "error", "certificate", tp,
                         f"the backend sends only its leaf; issuer {vr.missing_issuer} is neither sent nor in "
                         "the truststore", "configure the backend to send its intermediate certificate(s) with "
                         "the leaf (full chain)", ev)]
    if vr.kind in ("chain-incomplete", "untrusted-root"):
        return [_finding("target-cert-untrusted", "error", "certificate", tp,
                         f"the chain is not anchored in the truststore: {vr.failing_link}",
                         "add the backend's root CA to the MP's truststore for this target "
                         f"(TargetEndpoint <SSLInfo><TrustStore>; here {tp.spec.truststore})", ev)]
    return []


def check_certificates(tp: TargetProbe, now: dt.datetime, warn_days: int, sni_enabled: bool = True) -> list[Finding]:
    chain = _chain(tp.probe, sni_enabled)
    if not chain:
        return []
    findings = _dates(chain, tp, now, warn_days)
    from cryptography import x509

    certs = [x509.load_der_x509_certificate(c.der) for c in chain if c.der and c.parse_error is None]
    if not certs:
        return findings
    chain_ev = _chain_values(chain)
    findings += _trust(tp, certs, chain_ev, now)
    from fixer.certs.hostname import match_hostname

    name = tp.spec.servername or tp.spec.host
    hr = match_hostname(certs[0], name)
    if not hr.ok:
        findings.append(_finding("target-cert-hostname-mismatch", "warning", "certificate", tp,
                                 f"the certificate does not name {name}: {hr.message}",
                                 "issue the backend certificate with this name in its SAN, or call the backend "
                                 "by a name it carries (Edge checks hostnames only with a TrustStore and "
                                 "<IgnoreValidationErrors>false)",
                                 {**chain_ev, "hostname": name, "presented": ", ".join(hr.presented)}))
    return findings


def warn_days_of(host_vars: dict[str, Any]) -> int:
    try:
        return max(0, int(host_vars.get("fixer_cert_warn_days", DEFAULT_WARN_DAYS)))
    except (TypeError, ValueError):
        return DEFAULT_WARN_DAYS


def config_finding(error: str) -> Finding:
    return Finding("target-config-invalid", "warning", "config", error, (Evidence(None, None, {"error": error}),),
                   "fix the host var fixer_targets: a list of {url: https://host:port/path, servername, truststore}")


def check_targets(facts: MessageProcessorFacts, host_vars: dict[str, Any], probes: Sequence[TargetProbe],
                  now: dt.datetime | None = None, errors: Sequence[str] = ()) -> list[Finding]:
    """Every southbound finding of one MP, target by target."""
    at = now or dt.datetime.now(dt.UTC)
    warn_days = warn_days_of(host_vars)
    findings = [config_finding(e) for e in errors]
    for tp in probes:
        unreachable = check_unreachable(tp)
        findings += unreachable
        if unreachable:
            continue
        if tp.truststore_error is not None:
            findings.append(_finding("target-config-invalid", "warning", "config", tp,
                                     f"truststore {tp.spec.truststore} unusable: {tp.truststore_error}",
                                     "point truststore at a readable PEM CA bundle on the control machine"))
        offer = offer_for(facts, tp.spec)
        findings += check_protocols(tp, offer)
        findings += check_ciphers(tp, offer)
        findings += check_sni(tp, facts)
        findings += check_certificates(tp, at, warn_days, facts.sni_enabled)
    return findings
