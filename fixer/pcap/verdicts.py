"""What went wrong in one captured TLS handshake: `judge(ConnectionObs) -> Verdict` (pure, no I/O).

The rules, in the order they are tried (the README's `fixer pcap` section has them as a table):

1. nothing TLS on the connection -> `not-tls`; the handshake completed -> `ok`;
2. the ServerHello picks a version the ClientHello did not offer -> `protocol-mismatch`;
3. the first alert that is not close_notify (or a client's alert sent after the server had closed: a consequence,
   not a cause) decides, by who sent it and its description (`_judge_plain_alert`); an encrypted alert (TLS 1.2
   after ChangeCipherSpec) by who sent it and when (`_judge_encrypted_alert`);
4. no alert: TLS 1.3 record patterns (`_tls13_pattern`: Java's client alert is encrypted, ChangeCipherSpec + one
   application_data record too short for a Finished + FIN right after the server's flight -> the client most
   likely refused the certificate), then who closed the connection after which message; the capture ending
   first -> `incomplete`.

Every verdict drawn from a pattern rather than a plaintext alert is marked `inferred` and its reason says why.
`certificate-rejected` with a captured chain (TLS <= 1.2) carries an offline chain check (no trust anchors:
expiry at capture time, issuer not sent, self-signed, signatures along the sent chain, the SNI name).
Remediation texts name the matching `fixer check` finding and shipped playbook where there is one; a capture
does not say which side is the router or the message processor, so both directions are named.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from fixer.pcap.model import Alert, ClientHello, ConnectionObs, ServerHello, Verdict, VerdictKind
from fixer.pcap.names import TLS13_FINISHED_MIN, version_rank
from fixer.probe.model import CertSummary

# alerts that refuse a certificate (RFC 8446 6.2 names); "certificate_unknown" is what Java sends for
# every PKIX path or hostname failure
CERT_ALERTS = frozenset({
    "bad_certificate", "unsupported_certificate", "certificate_revoked", "certificate_expired",
    "certificate_unknown", "unknown_ca", "certificate_required", "access_denied", "bad_certificate_status_response",
})
NEGOTIATION_ALERTS = frozenset({"handshake_failure", "insufficient_security"})
# alerts that end nothing by themselves
BENIGN_ALERTS = frozenset({"close_notify", "user_canceled", "no_renegotiation"})
TLS11 = version_rank("TLSv1.1")
TLS13 = "TLSv1.3"
SHOWN_SUITES = 4
CCS, APP = "change_cipher_spec", "application_data"
FINISHED_MIN_13 = TLS13_FINISHED_MIN  # a shorter TLS 1.3 record cannot be a Finished (see fixer.pcap.names)
JCE_MIN_SUITES = 8  # Java 8 limited offers ~20-40 suites; a hand-configured client a few

SNI_REMEDY = (
    "The server requires SNI and the ClientHello carried no server_name. If the client is a message processor, "
    "turn SNI on: conf_system_jsse.enableSNIExtension=true in /opt/apigee/customer/application/"
    "message-processor.properties (owned apigee:apigee), then restart every MP: `fixer apply enable-sni` "
    "(playbook enable-sni.yml; `fixer check` reports mp-sni-disabled and target-sni-required). A client that "
    "connects by IP address sends no SNI whatever its settings: use the backend's host name in the "
    "TargetEndpoint URL or TargetServer."
)
SNI_UNRECOGNIZED_REMEDY = (
    "The server does not serve the name in server_name. Use the name the server is configured for in the "
    "TargetEndpoint URL / TargetServer host (southbound), or add the name to the server: a server_name of its "
    "virtual host, or an Edge virtual host alias on the router (northbound). `fixer probe HOST:PORT "
    "--servername NAME` tries names one at a time."
)
PROTOCOL_REMEDY = (
    "Client and server share no TLS version. Preferred: upgrade the old side to TLSv1.2+. Southbound (an MP "
    "calling an old backend): allow the backend's version in the TargetEndpoint <SSLInfo><Protocols> "
    "(`fixer apply target-protocols`, playbook target-protocols.yml) and, where the MP's Java disables it, in "
    "jdk.tls.client.protocols / https.protocols / jdk.tls.disabledAlgorithms (playbook mp-tls-protocols.yml); "
    "`fixer check` reports target-protocol-mismatch. Northbound (a client app to the router): the router's "
    "ssl.protocols token (playbook router-tls.yml; finding router-weak-protocol)."
)
CIPHER_REMEDY = (
    "Client and server share no cipher suite. Southbound (an MP calling a backend): `fixer check` reports "
    "target-cipher-mismatch; widen the backend's suites, or the MP's (TargetEndpoint <SSLInfo><Ciphers>, "
    "jdk.tls.disabledAlgorithms). Northbound (a client app to the router): router-cipher-mismatch, fixed with "
    "the router's ssl.ciphers token (`fixer apply router-tls`, playbook router-tls.yml). `fixer probe "
    "HOST:PORT --ciphers` lists what the server accepts."
)
JCE_HINT = (
    " The ClientHello offers no AES-256 suite, as a Java 8 client with the limited JCE policy does: if the "
    "server accepts only AES-256 suites and the client is an MP, `fixer check` reports jce-limited "
    "(`fixer apply jce-unlimited`, playbook jce-unlimited.yml)."
)
CLIENT_CERT_REMEDY = (
    "The server refused the client's certificate (two-way TLS), or got none it accepts. Southbound: the "
    "TargetEndpoint's <SSLInfo> needs ClientAuthEnabled=true with a KeyStore/KeyAlias holding a certificate "
    "(and its chain) issued by a CA the backend trusts. Northbound: the client app's certificate must chain to "
    "the virtual host's truststore."
)
CERT_REMEDY_TAIL = (
    " Southbound (an MP calling a backend): fix the backend's certificate (full chain, valid dates, names) or "
    "the TargetEndpoint's TrustStore; `fixer check` reports target-cert-expired, target-cert-chain-incomplete, "
    "target-cert-untrusted, target-cert-hostname-mismatch. Northbound (a client app to the router): the "
    "router's ssl_certificate file; router-cert-expired, router-cert-chain-incomplete, router-cert-name-mismatch."
)
SERVER_CLOSED_REMEDY = (
    "The server ended the handshake without saying why. Compare with `fixer probe HOST:PORT` (with and "
    "without SNI, --ciphers) from the same node (`--from HOST`). Common causes: a server or load balancer "
    "that requires SNI and closes instead of alerting, no shared cipher or version on a server that does not "
    "alert, a firewall or proxy in between, a port that does not speak TLS."
)
INCOMPLETE_REMEDY = (
    "The capture does not show how this handshake ended: start tcpdump before the connection is opened, keep "
    "it running until the failure, capture whole packets (`-s 0`) and on the interface the traffic uses "
    "(`-i any`)."
)


@dataclass(frozen=True)
class ChainFacts:
    """The offline chain check of a captured server chain: its text and what it found."""

    text: str
    expired: bool = False
    incomplete: bool = False  # the top certificate is not self-issued and its issuer was not sent
    self_signed_leaf: bool = False
    hostname_mismatch: bool = False


# ---- small facts about hellos -------------------------------------------------------------------------

def is_modern_suite(name: str) -> bool:
    """A suite a current server typically accepts (TLS 1.3, or forward-secret AEAD: Mozilla 'intermediate')."""
    if name.startswith(("TLS_AES_", "TLS_CHACHA20_")):
        return True
    forward_secret = "_ECDHE_" in name or "_DHE_" in name
    return forward_secret and ("_GCM_" in name or "_CHACHA20_" in name)


def real_suites(ch: ClientHello) -> tuple[str, ...]:
    """The offered suites without signalling values (renegotiation and fallback SCSVs)."""
    return tuple(s for s in ch.cipher_suites if not s.endswith("_SCSV"))


def offers_aes256(ch: ClientHello) -> bool:
    return any("AES_256" in s for s in real_suites(ch))


def offers_aes128_only(ch: ClientHello) -> bool:
    suites = real_suites(ch)
    return bool(suites) and not offers_aes256(ch) and any("AES_128" in s for s in suites)


def looks_jce_limited(ch: ClientHello) -> bool:
    """A long default-looking offer with every AES-256 suite missing: Java 8 with the limited JCE policy."""
    return offers_aes128_only(ch) and len(real_suites(ch)) >= JCE_MIN_SUITES


def offered_versions(ch: ClientHello) -> tuple[str, ...]:
    return ch.supported_versions or (ch.legacy_version,)


def version_not_offered(ch: ClientHello, sh: ServerHello) -> bool:
    """The ServerHello's version is one the client did not offer.

    With supported_versions the offer is that list; without it the client offers legacy_version and (implicitly)
    lower ones, so only a higher version is out of the offer."""
    if sh.hello_retry_request:
        return False
    if ch.supported_versions:
        return sh.version not in ch.supported_versions
    return version_rank(sh.version) > version_rank(ch.legacy_version)


def _first_suites(ch: ClientHello) -> str:
    suites = real_suites(ch)
    return ", ".join(suites[:SHOWN_SUITES]) + (", ..." if len(suites) > SHOWN_SUITES else "")


def describe_client_hello(ch: ClientHello) -> str:
    """`a ClientHello (TLSv1.3, TLSv1.2; 8 suites; server_name api.example.com)`."""
    versions = ", ".join(offered_versions(ch))
    count = len(real_suites(ch))
    sni = f"server_name {ch.server_name}" if ch.server_name else (
        "an empty server_name" if ch.sni_present else "no server_name")
    return f"a ClientHello ({versions}; {count} suite{'' if count == 1 else 's'}; {sni})"


# ---- alerts --------------------------------------------------------------------------------------------

def decisive_alert(obs: ConnectionObs) -> Alert | None:
    """The first alert that ends something: fatal, encrypted, or a warning other than close_notify & co.

    A client's alert sent after the server closed the connection (e.g. OpenSSL's decode_error on the EOF) is a
    consequence of the close, not its cause: skipped."""
    server_closed_at = obs.close_time if obs.closed_by == "server" else None
    for alert in obs.alerts:
        if server_closed_at is not None and alert.sender == "client" and alert.time > server_closed_at:
            continue
        if alert.encrypted:
            return alert
        if alert.description in BENIGN_ALERTS:
            continue
        return alert
    return None


def _alert_text(alert: Alert) -> str:
    if alert.encrypted:
        guess = f" (taken for: {alert.inferred})" if alert.inferred else ""
        size = f" ({alert.length}-byte record)" if alert.length else ""
        return f"an encrypted alert{size} from the {alert.sender}{guess}"
    level = f"{alert.level} " if alert.level else ""
    return f"{level}alert {alert.description} from the {alert.sender}"


def _at(obs: ConnectionObs, when: float | None) -> dt.datetime:
    return dt.datetime.fromtimestamp(when if when is not None else obs.start, dt.UTC)


# ---- the offline chain check ---------------------------------------------------------------------------

def _iso(when: dt.datetime | None) -> str:
    return "?" if when is None else when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def chain_check(certs: Sequence[CertSummary], at: dt.datetime, hostname: str | None = None) -> ChainFacts:
    """What can be said of a sent chain without trust anchors, at the capture's time `at`."""
    if not certs:
        return ChainFacts("no server Certificate message in the capture: nothing to check")
    notes: list[str] = [f"offline, no trust anchors, at capture time {_iso(at)}: {len(certs)} certificate(s) sent"]
    expired = False
    for depth, cert in enumerate(certs):
        if cert.parse_error:
            notes.append(f"certificate {depth} could not be parsed ({cert.parse_error})")
            continue
        if cert.not_after is not None and cert.not_after < at:
            expired = True
            notes.append(f"{cert.subject} (depth {depth}) had expired: notAfter {_iso(cert.not_after)}")
        elif cert.not_before is not None and cert.not_before > at:
            expired = True
            notes.append(f"{cert.subject} (depth {depth}) was not yet valid: notBefore {_iso(cert.not_before)}")
    in_order = True
    for depth in range(len(certs) - 1):
        child, parent = certs[depth], certs[depth + 1]
        if child.parse_error or parent.parse_error:
            in_order = False
        elif child.issuer != parent.subject:
            in_order = False
            notes.append(f"not a chain at depth {depth + 1}: {child.subject} is issued by {child.issuer}, "
                         f"but the next certificate is {parent.subject}")
    top = certs[-1]
    incomplete = self_signed_leaf = False
    if not top.parse_error:
        if top.subject == top.issuer:
            if len(certs) == 1:
                self_signed_leaf = True
                notes.append("self-signed leaf: only a client that trusts this very certificate accepts it")
            else:
                notes.append(f"the chain ends with the self-signed root {top.subject}: the client must trust it")
        elif len(certs) == 1:
            incomplete = True
            notes.append(f"the server sent only its leaf, not its issuer {top.issuer}: when that is an intermediate "
                         "CA the chain is incomplete (Java does not fetch missing intermediates); when it is a root, "
                         "the client must trust it")
        else:
            notes.append(f"the chain ends at {top.subject}, issued by {top.issuer}, which was not sent (normal for a "
                         "root): the client must have that issuer in its truststore")
    if in_order:
        notes.extend(_signature_notes(certs, at))
    hostname_mismatch = False
    if hostname and certs[0].der and not certs[0].parse_error:
        from cryptography import x509

        from fixer.certs.hostname import match_hostname

        result = match_hostname(x509.load_der_x509_certificate(certs[0].der), hostname)
        if not result.ok:
            hostname_mismatch = True
            notes.append(f"the leaf does not name {hostname}: {result.message}")
    return ChainFacts("; ".join(notes), expired=expired, incomplete=incomplete,
                      self_signed_leaf=self_signed_leaf, hostname_mismatch=hostname_mismatch)


def _signature_notes(certs: Sequence[CertSummary], at: dt.datetime) -> list[str]:
    """Signatures along the sent chain, its top taken as the anchor (OpenSSL -partial_chain)."""
    if len(certs) < 2 or any(not c.der for c in certs):
        return []
    from cryptography import x509

    from fixer.certs.verify import CERT_HAS_EXPIRED, CERT_NOT_YET_VALID, verify_chain

    try:
        parsed = [x509.load_der_x509_certificate(c.der) for c in certs]
        result = verify_chain(parsed[0], parsed[1:-1], [parsed[-1]], None, at=at, partial_chain=True)
    except Exception as exc:  # an odd certificate is still data, never a crash
        return [f"signatures not checked: {type(exc).__name__}: {exc}"]
    if result.ok:
        return [f"signatures verify from the leaf up to {certs[-1].subject}"]
    if result.code in (CERT_HAS_EXPIRED, CERT_NOT_YET_VALID):
        return []  # said above, with the dates
    return [f"the sent chain does not verify: {result.failing_link}"]


# ---- the verdicts --------------------------------------------------------------------------------------

def _verdict(kind: VerdictKind, reason: str, *, inferred: bool = False, remediation: str = "",
             finding: str | None = None, playbook: str | None = None, chain: str | None = None) -> Verdict:
    return Verdict(kind=kind, reason=reason, inferred=inferred, remediation=remediation, finding=finding,
                   playbook=playbook, chain_check=chain)


def _sni_missing(reason: str, ch: ClientHello | None, inferred: bool = False) -> Verdict:
    remediation = SNI_REMEDY
    if ch is not None and offers_aes128_only(ch):
        remediation += JCE_HINT
    return _verdict("sni-missing", reason, inferred=inferred, remediation=remediation,
                    finding="target-sni-required", playbook="enable-sni.yml")


def _protocol(reason: str, inferred: bool = False) -> Verdict:
    return _verdict("protocol-mismatch", reason, inferred=inferred, remediation=PROTOCOL_REMEDY,
                    finding="target-protocol-mismatch", playbook="target-protocols.yml")


def _cipher(reason: str, ch: ClientHello | None, inferred: bool = False) -> Verdict:
    remediation = CIPHER_REMEDY
    finding, playbook = "target-cipher-mismatch", None
    if ch is not None and offers_aes128_only(ch):
        remediation += JCE_HINT
        if looks_jce_limited(ch):
            finding, playbook = "jce-limited", "jce-unlimited.yml"
    return _verdict("cipher-mismatch", reason, inferred=inferred, remediation=remediation, finding=finding,
                    playbook=playbook)


def _suite_evidence(ch: ClientHello) -> str:
    suites = real_suites(ch)
    modern = [s for s in suites if is_modern_suite(s)]
    if not suites:
        text = "the ClientHello offers no cipher suite at all"
    elif not modern:
        text = (f"none of its suites ({_first_suites(ch)}) is one a current server typically accepts (TLS 1.3, or "
                "ECDHE/DHE with AES-GCM or ChaCha20)")
    else:
        text = (f"{len(modern)} of its suites are ones a current server typically accepts, so the server's list "
                "must be narrower (or it needs a key type or curve the client lacks)")
    if offers_aes128_only(ch):
        text += "; it offers no AES-256 suite (Java 8 with the limited JCE policy does so)"
    return text


def _server_negotiation_alert(alert: Alert, ch: ClientHello | None, sh: ServerHello | None) -> Verdict:
    """Server alert handshake_failure / insufficient_security."""
    said = _alert_text(alert)
    if sh is not None:
        return _client_cert_rejected(f"{said} after its own ServerHello: most likely it asked for a client "
                                     "certificate (two-way TLS) and got none it accepts", inferred=True)
    if ch is None:
        return _cipher(f"{said}; the ClientHello was not captured (SNI and suites unknown): a cipher mismatch, or a "
                       "server that requires SNI", None, inferred=True)
    hello = describe_client_hello(ch)
    modern = any(is_modern_suite(s) for s in real_suites(ch))
    if not ch.server_name:
        if modern:
            return _sni_missing(f"{said} after {hello}: a server that requires SNI refuses such a ClientHello (the "
                                "suites are an unlikely cause: some are ones a current server typically accepts)", ch)
        return _cipher(f"{said} after {hello}: {_suite_evidence(ch)} (SNI is missing too: if suites are not the "
                       "cause, the server requires SNI, see enable-sni.yml)", ch)
    if version_rank(ch.max_version) <= TLS11:
        return _protocol(f"{said} after {hello}: the client offers at most {ch.max_version}, which current servers "
                         "refuse (some answer handshake_failure rather than protocol_version); if the server still "
                         "accepts it, the cipher suites are the cause", inferred=True)
    return _cipher(f"{said} after {hello}: {_suite_evidence(ch)}", ch)


def _client_cert_rejected(reason: str, inferred: bool = False) -> Verdict:
    """The server refused the client's certificate (two-way TLS)."""
    return _verdict("certificate-rejected", f"the server refused the client's certificate: {reason}",
                    inferred=inferred, remediation=CLIENT_CERT_REMEDY)


def _server_cert_rejected(obs: ConnectionObs, reason: str, description: str | None, when: float | None,
                          inferred: bool = False) -> Verdict:
    """The client refused the server's certificate: the chain check (TLS <= 1.2) picks the finding."""
    sh = obs.server_hello
    ch = obs.client_hello
    chain_text: str | None = None
    facts = ChainFacts("")
    if sh is not None and sh.version == TLS13:
        reason += ("; TLS 1.3 encrypts the server's certificate: `fixer probe HOST:PORT` (or `fixer cert verify` "
                   "on the chain) shows it")
    else:
        facts = chain_check(obs.certificates, _at(obs, when), ch.server_name if ch is not None else None)
        chain_text = facts.text
    if description == "certificate_expired" or facts.expired:
        finding = "target-cert-expired"
        lead = "Renew the expired certificate (and deploy it with its chain)."
    elif facts.incomplete and description in (None, "unknown_ca", "certificate_unknown", "bad_certificate"):
        finding = "target-cert-chain-incomplete"
        lead = ("Configure the server to send its full chain (leaf, then intermediates), or add the missing issuer "
                "to the client's truststore.")
    elif facts.hostname_mismatch and not facts.self_signed_leaf:
        finding = "target-cert-hostname-mismatch"
        lead = "Use a certificate that names the host (SAN or wildcard), or call the server by a name it holds."
    else:
        finding = "target-cert-untrusted"
        lead = ("Anchor the server's chain in the client's truststore (the TargetEndpoint's TrustStore), or use a "
                "certificate from a CA the client trusts.")
    return _verdict("certificate-rejected", f"the client refused the server's certificate: {reason}",
                    inferred=inferred, remediation=lead + CERT_REMEDY_TAIL, finding=finding, chain=chain_text)


def _sni_unrecognized(reason: str, inferred: bool = False) -> Verdict:
    return _verdict("sni-unrecognized", reason, inferred=inferred, remediation=SNI_UNRECOGNIZED_REMEDY)


def _server_closed(reason: str, inferred: bool = False) -> Verdict:
    return _verdict("server-closed", reason, inferred=inferred, remediation=SERVER_CLOSED_REMEDY)


def _incomplete(reason: str) -> Verdict:
    return _verdict("incomplete", reason, remediation=INCOMPLETE_REMEDY)


def _judge_plain_alert(obs: ConnectionObs, alert: Alert) -> Verdict:
    ch, sh = obs.client_hello, obs.server_hello
    desc = alert.description or "unknown"
    said = _alert_text(alert)
    hello = describe_client_hello(ch) if ch is not None else "a ClientHello the capture does not show"
    if alert.sender == "server":
        if desc == "protocol_version":
            return _protocol(f"{said} after {hello}")
        if desc == "internal_error" and sh is None and ch is not None and version_rank(ch.max_version) <= TLS11:
            return _protocol(f"{said} after {hello}: a current OpenSSL server answers a TLSv1.0/1.1-only "
                             "ClientHello with internal_error rather than protocol_version", inferred=True)
        if desc in NEGOTIATION_ALERTS:
            return _server_negotiation_alert(alert, ch, sh)
        if desc == "unrecognized_name":
            if ch is None:
                return _sni_unrecognized(f"{said}; the ClientHello was not captured: the server knows no such name, "
                                         "or needs one and got none (sni-missing)", inferred=True)
            if not ch.server_name:
                return _sni_missing(f"{said} after {hello}", ch)
            return _sni_unrecognized(f"{said} after {hello}: the server has no certificate or virtual host for "
                                     f"{ch.server_name}")
        if desc in CERT_ALERTS:
            return _client_cert_rejected(said)
        return _server_closed(f"the server ended the handshake with {alert.level or 'an'} alert {desc} after "
                              f"{hello}: fixer maps that alert to no cause")
    # the client refused something the server sent
    if desc in CERT_ALERTS:
        return _server_cert_rejected(obs, said, desc, alert.time)
    if desc == "protocol_version":
        chosen = f" (the server chose {sh.version})" if sh is not None else ""
        return _protocol(f"{said}{chosen}: the client does not accept the server's version")
    if desc in NEGOTIATION_ALERTS:
        chosen = f" after the server chose {sh.version} {sh.cipher_suite}" if sh is not None else ""
        return _cipher(f"{said}{chosen}: the client refused the server's choice or its parameters (e.g. a suite, "
                       "a DH key size or a signature algorithm it disables)", ch)
    chosen = f" after a ServerHello choosing {sh.version} {sh.cipher_suite}" if sh is not None else ""
    return _protocol(f"{said}{chosen}: the client refused the server's handshake for a reason fixer maps to no "
                     "cause; compare with `fixer probe HOST:PORT`", inferred=True)


def _judge_encrypted_alert(obs: ConnectionObs, alert: Alert) -> Verdict:
    sh = obs.server_hello
    said = _alert_text(alert)
    tls13 = sh is not None and sh.version == TLS13
    if alert.sender == "client":
        if tls13:
            return _server_cert_rejected(
                obs, f"{said} right after the server's encrypted flight: a TLS 1.3 client's fatal alert is "
                     "encrypted (Java's is), and a client that refuses anything at that point most likely refused "
                     "the server's certificate", None, alert.time, inferred=True)
        return _protocol(f"{said} after the ChangeCipherSpec: the client refused the server's Finished (keys or "
                         "parameters disagree); compare with `fixer probe HOST:PORT`", inferred=True)
    if tls13:
        return _client_cert_rejected(
            f"{said} after the client's encrypted flight, then the server closed: a TLS 1.3 server refuses "
            "there mostly the client's certificate (none sent, or not trusted)", inferred=True)
    return _server_closed(f"{said} after the client's ChangeCipherSpec: the server refused the client's Finished "
                          "(keys or parameters disagree)", inferred=True)


def _app_lengths(types: tuple[str, ...], lengths: tuple[int, ...]) -> list[int] | None:
    """The lengths of the application_data records of one side, or None when the reader gave no lengths."""
    if not types or len(lengths) != len(types):
        return None
    return [n for t, n in zip(types, lengths, strict=True) if t == APP]


def _tls13_pattern(obs: ConnectionObs, how: str) -> Verdict | None:
    """TLS 1.3 hides alerts in application_data records: read the records' number, size and who closed."""
    client_types, server_types = obs.client_records_after_hello, obs.server_records_after_hello
    client_app = sum(1 for t in client_types if t == APP)
    server_app = sum(1 for t in server_types if t == APP)
    client_len = _app_lengths(client_types, obs.client_record_lengths_after_hello)
    server_len = _app_lengths(server_types, obs.server_record_lengths_after_hello)
    ccs = "ChangeCipherSpec + " if CCS in client_types else ""
    closed = f" and closed ({how})" if obs.closed_by == "client" else ""
    if client_len is not None and len(client_len) == 1 and client_len[0] < FINISHED_MIN_13 and server_app:
        return _server_cert_rejected(
            obs, f"after the server's encrypted flight the client sent {ccs}one {client_len[0]}-byte application_data "
                 f"record{closed} and nothing else: too short for a Finished (53 bytes or more), the size of an "
                 "encrypted alert (19 bytes plus padding), the pattern of Java's TLS 1.3 alert: most likely a refused "
                 "certificate", None, obs.close_time, inferred=True)
    if client_len is None and obs.closed_by == "client" and client_app == 1 and server_app:
        return _server_cert_rejected(
            obs, f"after the server's encrypted flight the client sent {ccs}one application_data record and closed "
                 f"({how}): the pattern of Java's encrypted TLS 1.3 alert, most likely a refused certificate "
                 "(a client Finished would be followed by data or close_notify)", None, obs.close_time, inferred=True)
    if obs.closed_by == "server" and client_app:
        if server_len and client_len and server_len[-1] < FINISHED_MIN_13:
            size = f", the server's last record {server_len[-1]} bytes (the size of an encrypted alert)"
        elif client_len is None:
            size = ""
        else:
            return None
        return _client_cert_rejected(
            f"the client sent its encrypted flight ({client_app} application_data record(s)){size}, and the server "
            f"closed ({how}) without data: most likely it refused the client's certificate (none sent, or not "
            "trusted), since a TLS 1.3 server's alert is encrypted", inferred=True)
    return None


def _judge_no_alert(obs: ConnectionObs) -> Verdict:
    ch, sh = obs.client_hello, obs.server_hello
    hello = describe_client_hello(ch) if ch is not None else "the ClientHello"
    closer, how = obs.closed_by, (obs.close_kind or "").upper()
    if sh is None:
        if closer is None:
            return _incomplete(f"the capture ends after {hello}, before the server answered")
        if closer == "server":
            if ch is not None and not ch.server_name:
                return _sni_missing(f"the server closed ({how}) right after {hello}, without an alert: servers that "
                                    "require SNI often just close", ch, inferred=True)
            return _server_closed(f"the server closed ({how}) right after {hello}, without an alert")
        return _server_closed(f"the server never answered {hello}; the client gave up ({how})", inferred=True)
    if sh.hello_retry_request and closer == "client":
        return _cipher("the client closed after the server's HelloRetryRequest: most likely no key exchange group "
                       "in common", ch, inferred=True)
    tls13 = sh.version == TLS13
    if tls13:
        pattern = _tls13_pattern(obs, how)
        if pattern is not None:
            return pattern
    if closer is None:
        return _incomplete(f"the capture ends after the ServerHello ({sh.version}), before the handshake finished")
    if closer == "server":
        return _server_closed(f"the server closed ({how}) after its ServerHello ({sh.version} {sh.cipher_suite}) "
                              "without an alert")
    client_app = sum(1 for t in obs.client_records_after_hello if t == APP)
    if client_app == 0 and not tls13 and CCS not in obs.client_records_after_hello:
        return _server_cert_rejected(
            obs, f"the client closed ({how}) right after the server's flight without an alert: most likely it "
                 "refused the certificate (some clients close without alerting), or it gave up", None,
            obs.close_time, inferred=True)
    return _incomplete(f"the client closed ({how}) before the handshake finished, without an alert")


def judge(obs: ConnectionObs) -> Verdict:
    """The verdict on one connection (see the module doc for the rules)."""
    ch, sh = obs.client_hello, obs.server_hello
    tls_seen = (ch is not None or sh is not None or obs.alerts or obs.certificates
                or obs.client_records_after_hello or obs.server_records_after_hello or obs.handshake_done)
    if not tls_seen:
        if obs.refused:
            return _verdict("connection-refused", f"{obs.server} answered the SYN with a RST: nothing listens "
                            "there, or a firewall rejects the connection; no TLS handshake could start",
                            remediation="check that the backend runs and listens on that address and port, and "
                            "the firewalls between the two (fixer check reports it as target-unreachable from "
                            "each message processor)", finding="target-unreachable")
        return _verdict("not-tls", "no TLS record seen on this connection")
    if obs.handshake_done:
        if ch is None and sh is None:
            return _verdict("ok", "application data flowed both ways (the handshake itself was not captured)")
        what = f" ({sh.version}, {sh.cipher_suite})" if sh is not None else ""
        sni = "" if ch is None or ch.server_name else "; the ClientHello carried no server_name"
        return _verdict("ok", f"handshake completed{what}{sni}")
    if ch is not None and sh is not None and version_not_offered(ch, sh):
        return _protocol(f"the server chose {sh.version}, which {describe_client_hello(ch)} does not offer")
    alert = decisive_alert(obs)
    if alert is not None:
        if alert.encrypted:
            return _judge_encrypted_alert(obs, alert)
        return _judge_plain_alert(obs, alert)
    if ch is None and sh is None:
        return _incomplete("the capture starts after the handshake began: no ClientHello or ServerHello seen")
    return _judge_no_alert(obs)
