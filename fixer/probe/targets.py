"""Probe an MP's backends from the MP: the I/O half of the southbound checks (fixer.checks.southbound).

Per host: each distinct target (host, port, servername) is probed once through the MP's SSH session (tunnel,
else `openssl s_client` on the node), a few targets at once. Where the MP and the backend share a protocol up
to TLS 1.2 only, one more handshake offers exactly the MP's cipher suites (Java's, or the TargetEndpoint's
<Ciphers>) to tell a cipher mismatch; that needs the tunnel (the s_client fallback skips it). Truststores
are PEM files on the control machine, read once per run.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from cryptography import x509

from fixer.checks.southbound import TargetProbe, TargetSpec, cipher_test_protocol, offer_for
from fixer.errors import FixerError
from fixer.facts.model import MessageProcessorFacts
from fixer.probe.engine import attempt, sni_name
from fixer.probe.handshake import make_context
from fixer.probe.model import HandshakeResult, ProbeResult, ProbeTarget
from fixer.probe.tunnel import TunnelConnector, connect_via, probe_from
from fixer.transport.ssh import Session

TARGET_TIMEOUT = 5.0
TARGETS_AT_ONCE = 3  # each probe runs up to 4 handshakes at once: 12 channels on one SSH connection at most


@functools.lru_cache(maxsize=64)
def load_truststore(path: str) -> tuple[tuple[x509.Certificate, ...] | None, str | None]:
    """(certificates, None) or (None, why not): read once per run and path."""
    from fixer.certs.load import load_certificates

    try:
        return load_certificates(path).certificates, None
    except (FixerError, OSError) as exc:
        return None, str(exc)


def _cipher_string(suites: Sequence[str], iana_to_openssl: Mapping[str, str]) -> str | None:
    names = [iana_to_openssl[s] for s in suites if s in iana_to_openssl]
    return ":".join(names) + ":@SECLEVEL=0" if names else None


def _suite_at(result: ProbeResult, protocol: str) -> str | None:
    """The suite the server chose for the probe's own (wide) offer at `protocol` (OpenSSL name)."""
    return next((h.cipher for h in result.handshakes if h.ok and h.sni and h.protocol_offered == protocol),
                next((h.cipher for h in result.handshakes if h.ok and h.negotiated_protocol == protocol), None))


class TargetProber:
    """One per MP: probes its targets through `session`, sharing one connector (forwarding refusal learnt once)."""

    def __init__(self, session: Session, facts: MessageProcessorFacts, openssl_to_iana: Mapping[str, str],
                 timeout: float = TARGET_TIMEOUT) -> None:
        self.session = session
        self.facts = facts
        self.to_iana = openssl_to_iana
        self.to_openssl = {iana: ossl for ossl, iana in openssl_to_iana.items()}
        self.timeout = timeout
        self.connector: TunnelConnector = connect_via(session)

    def probe(self, target: ProbeTarget) -> ProbeResult:
        return probe_from(self.session, target, self.timeout, self.connector)

    def cipher_test(self, spec: TargetSpec, result: ProbeResult) -> tuple[HandshakeResult | None, str | None]:
        """(the MP-offer handshake or None, the IANA name of the suite the server prefers at that protocol)."""
        offer = offer_for(self.facts, spec)
        protocol = cipher_test_protocol(result, offer)
        if protocol is None:
            return None, None
        chosen = _suite_at(result, protocol)
        chosen_iana = self.to_iana.get(chosen, chosen) if chosen else None
        ciphers = _cipher_string(offer.suites, self.to_openssl)
        if result.via != "tunnel" or ciphers is None:
            return None, chosen_iana
        context = make_context(protocol, ciphers)
        target = spec.probe_target
        return attempt(target, protocol, sni_name(target), self.timeout, self.connector, context), chosen_iana

    def run(self, specs: Sequence[TargetSpec]) -> list[TargetProbe]:
        targets = list(dict.fromkeys(s.probe_target for s in specs))
        results: dict[ProbeTarget, ProbeResult] = {}
        if targets:
            with ThreadPoolExecutor(max_workers=min(TARGETS_AT_ONCE, len(targets)),
                                    thread_name_prefix="target") as pool:
                results = dict(zip(targets, pool.map(self.probe, targets), strict=True))
        out = []
        for spec in specs:
            result = results[spec.probe_target]
            test, chosen = self.cipher_test(spec, result)
            certs, error = load_truststore(spec.truststore) if spec.truststore else (None, None)
            out.append(TargetProbe(spec, result, certs, error, test, chosen))
        return out
