"""Northbound certificate checks of a router: the `ssl_certificate` files its TLS server blocks name, the
key each is paired with, the names it serves, and what its listeners really present.

Pure: facts (the certificate files' PEM and the keys' public-key digests read on the node, the listener
probes run from the control machine) and optional trust anchors in, findings out. The private keys never
reach these facts: only the SHA-256 of each key's public key (DER SubjectPublicKeyInfo) does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fixer.certs.hostname import match_hostname
from fixer.certs.verify import KIND_BY_CODE, subject_of, verify_chain
from fixer.checks.model import Evidence, Finding
from fixer.facts.model import CertificateFile, ListenerProbe, NginxServer, RouterFacts
from fixer.facts.northbound import CAFILE_VAR, PROBE_VAR, TrustAnchors, iso

DEFAULT_WARN_DAYS = 30
WARN_DAYS_VAR = "fixer_cert_warn_days"


@dataclass(frozen=True)
class _Parsed:
    file: CertificateFile
    chain: tuple[x509.Certificate, ...]  # file order: the first is the certificate nginx serves

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]


def der_sha256(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def public_key_sha256(cert: x509.Certificate) -> str:
    """What `openssl pkey -in KEY -pubout -outform DER | sha256sum` prints for the matching private key."""
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def warn_days(host_vars: Mapping[str, Any]) -> int:
    try:
        return max(0, int(str(host_vars.get(WARN_DAYS_VAR, DEFAULT_WARN_DAYS))))
    except ValueError:
        return DEFAULT_WARN_DAYS


def _self_issued(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer


def _where(server: NginxServer) -> str:
    names = " ".join(server.server_name) or "_"
    return f"server {names} (listen {', '.join(server.listen) or '?'})"


def _line(facts: RouterFacts, server: NginxServer, directive: str) -> int:
    """The line of the block's `directive` (its own or its file's), else the line of the block."""
    for d in facts.directive_lines:
        if (d.file, d.server_line, d.directive) == (server.file, server.line, directive):
            return d.line
    return server.line


def _cert_evidence(facts: RouterFacts, server: NginxServer, **values: str) -> Evidence:
    return Evidence(server.file, _line(facts, server, "ssl_certificate"),
                    {"ssl_certificate": server.ssl_certificate or "", **values})


def _describe(cert: x509.Certificate) -> dict[str, str]:
    return {"subject": subject_of(cert), "issuer": cert.issuer.rfc4514_string() or "<empty issuer>",
            "notAfter": iso(cert.not_valid_after_utc), "sha256": der_sha256(cert)}


def _parse(file: CertificateFile) -> tuple[_Parsed | None, str | None]:
    if file.error is not None or file.pem is None:
        return None, file.error or "not read"
    try:
        chain = tuple(x509.load_pem_x509_certificates(file.pem.encode()))
    except ValueError as exc:
        return None, f"not a valid PEM certificate: {exc}"
    if not chain:
        return None, "no certificate in the file"
    return _Parsed(file, chain), None


class _Context:
    def __init__(self, facts: RouterFacts, svc: str, now: dt.datetime) -> None:
        self.facts = facts
        self.svc = svc
        self.now = now
        self.certs = {c.path: c for c in facts.certificates}
        self.keys = {k.path: k for k in facts.keys}
        self.parsed: dict[str, _Parsed] = {}
        self.unreadable: dict[str, str] = {}
        for path, file in self.certs.items():
            parsed, error = _parse(file)
            if parsed is not None:
                self.parsed[path] = parsed
            else:
                self.unreadable[path] = error or "not read"

    def users(self) -> dict[str, list[NginxServer]]:
        """TLS server blocks by the certificate file they name (only files the facts carry)."""
        out: dict[str, list[NginxServer]] = {}
        for server in self.facts.servers:
            if server.ssl and server.ssl_certificate and server.ssl_certificate in self.certs:
                out.setdefault(server.ssl_certificate, []).append(server)
        return out


def _reload_hint(svc: str) -> str:
    return f"then {svc} restart (nginx reads certificates only when it starts or reloads)"


def check_unreadable(ctx: _Context) -> list[Finding]:
    findings = []
    for path, servers in ctx.users().items():
        if path not in ctx.unreadable:
            continue
        error = ctx.unreadable[path]
        # not a problem of the router: a path chosen per request ($ssl_server_name) or a directive the fact
        # script's line scan did not see; said as info so that nothing is silently unchecked
        unread = error.startswith(("the path uses nginx variables", "not read by the fact script"))
        findings.append(Finding(
            id="router-cert-unreadable", severity="info" if unread else "warning", cause="certificate",
            message=f"could not read the certificate {path} of {_where(servers[0])}: {error}; its expiry, "
            "chain and key were not checked",
            evidence=tuple(_cert_evidence(ctx.facts, s, error=error) for s in servers),
            remediation=(f"check {path} by hand (fixer cert verify), or `fixer probe` the listener" if unread else
                         f"make {path} a readable PEM file for the inspecting user (become) and run check "
                         "again; if it is missing, nginx will not start: restore it"),
        ))
    seen: set[tuple[str | None, str]] = set()
    for server in ctx.facts.servers:
        key = ctx.keys.get(server.ssl_certificate_key or "") if server.ssl else None
        if key is None or key.error is None or key.error.startswith(("an inline", "an OpenSSL engine")):
            continue
        if server.ssl_certificate not in ctx.parsed or (server.ssl_certificate, key.path) in seen:
            continue  # already reported (above, or for another block with the same pair), or no certificate fact
        seen.add((server.ssl_certificate, key.path))
        findings.append(Finding(
            id="router-cert-unreadable", severity="warning", cause="certificate",
            message=f"could not check that the key {key.path} of {_where(server)} matches its certificate: "
            f"{key.error}",
            evidence=(Evidence(server.file, _line(ctx.facts, server, "ssl_certificate_key"),
                               {"ssl_certificate_key": key.path, "error": key.error}),),
            remediation=f"make {key.path} readable to the inspecting user (become; an encrypted key needs "
            "ssl_password_file) and run check again; a missing key stops nginx at its next start",
        ))
    return findings


def check_expiry(ctx: _Context, days: int) -> list[Finding]:
    findings = []
    for path, servers in ctx.users().items():
        parsed = ctx.parsed.get(path)
        if parsed is None:
            continue
        # the leaf and the intermediates the server sends (a root's validity is the client's store's business)
        sent = [parsed.leaf, *(c for c in parsed.chain[1:] if not _self_issued(c))]
        expired = [c for c in sent if c.not_valid_after_utc <= ctx.now]
        soon = [c for c in sent if c not in expired and c.not_valid_after_utc - ctx.now <= dt.timedelta(days=days)]
        for cert in expired:
            what = "certificate" if cert is parsed.leaf else "intermediate certificate"
            findings.append(Finding(
                id="router-cert-expired", severity="error", cause="certificate",
                message=f"the {what} {subject_of(cert)} in {path} ({_where(servers[0])}) expired on "
                f"{iso(cert.not_valid_after_utc)}: clients fail with alert certificate_expired (45) or "
                "certificate_unknown (46)",
                evidence=tuple(_cert_evidence(ctx.facts, s, **_describe(cert)) for s in servers),
                remediation=f"renew it and install the new chain in {path} (or upload it to the virtual host's "
                f"keystore alias through the Management API), {_reload_hint(ctx.svc)}",
            ))
        for cert in soon:
            left = (cert.not_valid_after_utc - ctx.now).days
            findings.append(Finding(
                id="router-cert-expiring", severity="warning", cause="certificate",
                message=f"the certificate {subject_of(cert)} in {path} ({_where(servers[0])}) expires on "
                f"{iso(cert.not_valid_after_utc)}, in {left} day(s) ({WARN_DAYS_VAR}: {days})",
                evidence=tuple(_cert_evidence(ctx.facts, s, **_describe(cert), days_left=str(left)) for s in servers),
                remediation=f"renew it before it expires and install the new chain in {path}, "
                f"{_reload_hint(ctx.svc)}",
            ))
    return findings


def _verify_time(chain: Sequence[x509.Certificate]) -> dt.datetime:
    """A moment every certificate of the file is valid at, when there is one: expiry is judged separately."""
    start = max(c.not_valid_before_utc for c in chain)
    end = min(c.not_valid_after_utc for c in chain)
    return start + (end - start) / 2 if start < end else start


def check_chain(ctx: _Context, anchors: TrustAnchors | None) -> list[Finding]:
    """The server sends the file as it is: the leaf's issuer must be in it, unless the leaf is self-issued or
    anchored. With `fixer_router_cafile` the whole path to one of its anchors is checked (OpenSSL semantics)."""
    findings = []
    trusted = list(anchors.certificates) if anchors is not None and anchors.error is None else []
    for path, servers in ctx.users().items():
        parsed = ctx.parsed.get(path)
        if parsed is None:
            continue
        in_file_roots = [c for c in parsed.chain if _self_issued(c)]
        untrusted = [c for c in parsed.chain[1:] if not _self_issued(c)]
        result = verify_chain(parsed.leaf, untrusted, [*trusted, *in_file_roots], None,
                              at=_verify_time(parsed.chain))
        if KIND_BY_CODE.get(result.code) != "chain-incomplete":
            continue
        if not trusted and result.depth > 0:
            continue  # the file ends at an intermediate: roots are left out by convention
        missing = result.missing_issuer or parsed.leaf.issuer.rfc4514_string()
        anchored = bool(trusted)
        values = {**_describe(parsed.leaf), "missing_issuer": missing, "verify": result.failing_link,
                  "certificates_in_file": str(len(parsed.chain))}
        if anchors is not None:
            values[CAFILE_VAR] = anchors.path
        findings.append(Finding(
            id="router-cert-chain-incomplete", severity="error" if anchored else "warning", cause="certificate",
            message=f"{path} ({_where(servers[0])}) does not contain the issuer {missing} of "
            f"{result.failing_subject or subject_of(parsed.leaf)}: the router does not send that "
            f"{'intermediate' if result.depth == 0 else 'certificate'}, so clients fail with unknown_ca (48) or "
            "certificate_unknown (46)" + (
                f" (unless {missing} is a root every client trusts; set {CAFILE_VAR} to the CA file to judge "
                "with the real anchors)" if not anchored else
                "" if result.depth == 0 else
                f" (or {missing} is a root missing from {CAFILE_VAR}: then the clients trusting only that file "
                "fail the same way)"),
            evidence=tuple(_cert_evidence(ctx.facts, s, **values) for s in servers),
            remediation=f"append the intermediate certificate(s) after the leaf in {path} (leaf first, "
            f"then each issuer) or upload the full chain to the virtual host's keystore alias, "
            f"{_reload_hint(ctx.svc)}",
        ))
    return findings


def check_key_match(ctx: _Context) -> list[Finding]:
    findings = []
    seen: set[tuple[str, str]] = set()
    for server in ctx.facts.servers:
        if not server.ssl or not server.ssl_certificate or not server.ssl_certificate_key:
            continue
        parsed = ctx.parsed.get(server.ssl_certificate)
        key = ctx.keys.get(server.ssl_certificate_key)
        pair = (server.ssl_certificate, server.ssl_certificate_key)
        if parsed is None or key is None or key.public_key_sha256 is None or pair in seen:
            continue
        seen.add(pair)
        expected = public_key_sha256(parsed.leaf)
        if key.public_key_sha256 == expected:
            continue
        findings.append(Finding(
            id="router-cert-key-mismatch", severity="error", cause="certificate",
            message=f"the key {key.path} does not belong to the certificate {server.ssl_certificate} "
            f"({_where(server)}): nginx refuses this pair ('key values mismatch') at its next reload or start, "
            "so a running router still serves an older certificate and a restarted one does not come up",
            evidence=(
                _cert_evidence(ctx.facts, server, subject=subject_of(parsed.leaf),
                               certificate_public_key_sha256=expected),
                Evidence(server.file, _line(ctx.facts, server, "ssl_certificate_key"), {
                    "ssl_certificate_key": key.path, "key_public_key_sha256": key.public_key_sha256}),
            ),
            remediation=f"install the private key that was issued with {server.ssl_certificate} (or the "
            f"certificate issued for {key.path}), check with `openssl x509 -noout -pubkey -in CERT | sha256sum` "
            f"against `openssl pkey -pubout -in KEY | sha256sum`, {_reload_hint(ctx.svc)}",
        ))
    return findings


def _checkable_name(name: str) -> list[str]:
    """The host names a server_name stands for, as a client would send them ([] when it cannot be judged)."""
    n = name.strip().lower()
    if n in ("", "_", "default", "default_server", "localhost") or n.startswith("~") or n.startswith("$"):
        return []
    if n.endswith(".*") or "*" in n[1:]:
        return []  # nginx's trailing wildcard or an unusual pattern: no concrete name to test
    if n.startswith("*."):
        return [f"fixer-check{n[1:]}"]  # any one label, like the certificate's own wildcard
    if n.startswith("."):
        return [n[1:], f"fixer-check{n}"]  # .example.com: example.com and *.example.com
    return [n]


def check_names(ctx: _Context) -> list[Finding]:
    findings = []
    for server in ctx.facts.servers:
        parsed = ctx.parsed.get(server.ssl_certificate or "") if server.ssl else None
        if parsed is None:
            continue
        unmatched: list[str] = []
        presented: tuple[str, ...] = ()
        for name in server.server_name:
            for candidate in _checkable_name(name):
                result = match_hostname(parsed.leaf, candidate)
                presented = result.presented
                if not result.ok:
                    unmatched.append(name)
                    break
        if not unmatched:
            continue
        findings.append(Finding(
            id="router-cert-name-mismatch", severity="warning", cause="certificate",
            message=f"{_where(server)} serves {server.ssl_certificate}, which does not cover "
            f"{', '.join(unmatched)} (certificate names: {', '.join(presented) or 'none'}): clients that "
            "check the hostname fail (Java: certificate_unknown (46), 'No subject alternative names matching')",
            evidence=(
                Evidence(server.file, server.line, {"server_name": " ".join(server.server_name),
                                                    "not_covered": " ".join(unmatched)}),
                _cert_evidence(ctx.facts, server, subject=subject_of(parsed.leaf), names=", ".join(presented)),
            ),
            remediation=f"get a certificate whose subjectAltName lists {', '.join(unmatched)} (or a wildcard "
            f"covering it), install it as {server.ssl_certificate}, {_reload_hint(ctx.svc)}; or remove the "
            "name from the virtual host's host aliases",
        ))
    return findings


def _listener_values(probe: ListenerProbe) -> dict[str, str]:
    values = {"listen": probe.listen, "probed": f"{probe.address}:{probe.port}",
              "sni": probe.servername or "(none)",
              "accepted_protocols": " ".join(probe.protocols) or "(none)"}
    if probe.note:
        values["result"] = probe.note
    return values


def check_listeners(ctx: _Context) -> list[Finding]:
    findings = []
    by_block = {(s.file, s.line): s for s in ctx.facts.servers}
    for probe in ctx.facts.listeners:
        server = by_block.get((probe.file, probe.line))
        where = _where(server) if server is not None else f"{probe.file}:{probe.line}"
        if probe.status == "unreachable":
            findings.append(Finding(
                id="router-listener-unreachable", severity="warning", cause="config",
                message=f"{where}: the TLS listener {probe.address}:{probe.port} (listen {probe.listen}) does "
                f"not answer from the control machine: {probe.note or 'no handshake'}",
                evidence=(Evidence(probe.file, probe.line, _listener_values(probe)),),
                remediation=f"check that nginx runs and listens there (ss -ltnp on the router, {ctx.svc} status) "
                f"and that no firewall blocks the port; set {PROBE_VAR}: false for this host when the control "
                "machine cannot reach its listeners by design",
            ))
            continue
        if probe.status != "ok" or not probe.compare or server is None or probe.served_sha256 is None:
            continue
        parsed = ctx.parsed.get(server.ssl_certificate or "")
        if parsed is None or der_sha256(parsed.leaf) == probe.served_sha256:
            continue
        file_values = {**_describe(parsed.leaf)}
        served = {**_listener_values(probe), "served_subject": probe.served_subject or "?",
                  "served_notAfter": probe.served_not_after or "?", "served_sha256": probe.served_sha256}
        findings.append(Finding(
            id="router-served-cert-differs", severity="warning", cause="certificate",
            message=f"{where}: {probe.address}:{probe.port} serves {probe.served_subject or 'another certificate'} "
            f"(notAfter {probe.served_not_after or '?'}), not the certificate in {server.ssl_certificate} "
            f"({file_values['subject']}, notAfter {file_values['notAfter']}): nginx has not been reloaded since "
            "the file changed",
            evidence=(_cert_evidence(ctx.facts, server, **file_values), Evidence(probe.file, probe.line, served)),
            remediation=f"check the new files first (nginx -t), then {ctx.svc} restart (or nginx -s reload) so "
            "the router serves the certificate its configuration names",
        ))
    return findings


def check_anchors(anchors: TrustAnchors | None) -> list[Finding]:
    if anchors is None or anchors.error is None:
        return []
    return [Finding(
        id="router-cert-unreadable", severity="warning", cause="certificate",
        message=f"could not use {CAFILE_VAR} {anchors.path} (on the control machine): {anchors.error}; "
        "certificate chains were judged without trust anchors",
        evidence=(Evidence(anchors.path, None, {CAFILE_VAR: anchors.path, "error": anchors.error}),),
        remediation=f"point {CAFILE_VAR} at a readable PEM file of the CA certificates the clients trust",
    )]


def check_router_certs(facts: RouterFacts, host_vars: Mapping[str, Any], svc: str,
                       anchors: TrustAnchors | None = None, now: dt.datetime | None = None) -> list[Finding]:
    """Every certificate finding of one router. `now` defaults to the current time (UTC)."""
    when = now or dt.datetime.now(dt.UTC)
    ctx = _Context(facts, svc, when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC))
    return [
        *check_anchors(anchors),
        *check_unreadable(ctx),
        *check_expiry(ctx, warn_days(host_vars)),
        *check_chain(ctx, anchors),
        *check_key_match(ctx),
        *check_names(ctx),
        *check_listeners(ctx),
    ]

