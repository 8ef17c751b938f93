"""Router checks: weak protocols and ciphers, client cipher mismatch, drift from router.properties, and the
northbound certificates (fixer.checks.router_certs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fixer.checks.common import properties_owner, unreadable
from fixer.checks.model import Evidence, Finding
from fixer.checks.router_certs import check_router_certs
from fixer.errors import ParseError
from fixer.facts.model import NginxServer, RouterFacts, Token
from fixer.facts.northbound import TrustAnchors
from fixer.facts.openssl import normalize_cipher_names, protocol_rank, weak_ciphers

PROTOCOLS_KEY = "load.balancing.driver.server.ssl.protocols"
CIPHERS_KEY = "load.balancing.driver.server.ssl.ciphers"
PROTOCOLS_TOKEN = f"conf_load_balancing_{PROTOCOLS_KEY}"
CIPHERS_TOKEN = f"conf_load_balancing_{CIPHERS_KEY}"
TLS13_PREFIXES = ("TLS_AES_", "TLS_CHACHA20_", "TLS_SM4_")


def _service_cmd(apigee_root: str) -> str:
    return f"{apigee_root}/apigee-service/bin/apigee-service edge-router"


def _where(server: NginxServer) -> str:
    names = " ".join(server.server_name) or "_"
    return f"server {names} (listen {', '.join(server.listen) or '?'})"


def _ssl_servers(facts: RouterFacts) -> list[NginxServer]:
    return [s for s in facts.servers if s.ssl]


def _token(facts: RouterFacts, key: str) -> Token | None:
    found = None
    for token in facts.tokens:
        if token.file == "load_balancing" and token.key == key:
            found = token
    return found


def check_weak_protocols(facts: RouterFacts, min_protocol: str, customer: str, svc: str) -> list[Finding]:
    floor = protocol_rank(min_protocol)
    findings = []
    for server in _ssl_servers(facts):
        weak = [p for p in server.ssl_protocols if (r := _rank_or_none(p)) is not None and r < floor]
        if not weak:
            continue
        allowed = [p for p in server.ssl_protocols if p not in weak]
        findings.append(Finding(
            id="router-weak-protocol",
            severity="warning",
            cause="protocol",
            message=f"{_where(server)} enables {' '.join(weak)}, below the minimum {min_protocol}",
            evidence=(Evidence(server.file, server.ssl_protocols_line, {
                "ssl_protocols": " ".join(server.ssl_protocols), "source": server.ssl_protocols_source,
            }),),
            remediation=f"set {PROTOCOLS_TOKEN}={' '.join(allowed) or min_protocol} in {customer}, "
            f"chown apigee:apigee it, then {svc} restart on each router (out of the load balancer first)",
        ))
    return findings


def _rank_or_none(name: str) -> int | None:
    try:
        return protocol_rank(name)
    except ParseError:
        return None


def check_weak_ciphers(facts: RouterFacts, customer: str, svc: str) -> list[Finding]:
    findings = []
    for server in _ssl_servers(facts):
        weak = weak_ciphers(server.effective_ciphers)
        if not weak:
            continue
        by_reason: dict[str, list[str]] = {}
        for name, why in weak:
            by_reason.setdefault(why, []).append(name)
        shown = "; ".join(
            f"{why}: {', '.join(names[:2])}{f' and {len(names) - 2} more' if len(names) > 2 else ''}"
            for why, names in by_reason.items()
        )
        findings.append(Finding(
            id="router-weak-cipher",
            severity="warning",
            cause="cipher",
            message=f"{_where(server)} enables {len(weak)} weak cipher suite(s): {shown}",
            evidence=(Evidence(server.file, server.ssl_ciphers_line, {
                "ssl_ciphers": server.ssl_ciphers, "expanded_by": server.cipher_expansion,
                "weak": " ".join(name for name, _ in weak),
            }),),
            remediation=f"set {CIPHERS_TOKEN} to a list without NULL/aNULL/EXPORT/RC4/3DES/MD5 suites "
            f"(e.g. 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384') in {customer}, "
            f"then {svc} restart",
        ))
    return findings


def _usable(server: NginxServer) -> set[str]:
    """Suites a client can actually negotiate with this server, given its enabled protocols."""
    has13 = "TLSv1.3" in server.ssl_protocols
    has_legacy = any(p != "TLSv1.3" for p in server.ssl_protocols)
    return {
        c for c in server.effective_ciphers
        if (has13 if c.startswith(TLS13_PREFIXES) else has_legacy)
    }


def check_cipher_mismatch(facts: RouterFacts, client_ciphers: list[str], table: Mapping[str, str],
                          customer: str, svc: str) -> list[Finding]:
    offered = normalize_cipher_names(client_ciphers, table)
    findings = []
    for server in _ssl_servers(facts):
        if not server.effective_ciphers or _usable(server) & set(offered):
            continue
        findings.append(Finding(
            id="router-cipher-mismatch",
            severity="error",
            cause="cipher",
            message=f"{_where(server)} shares no cipher suite with the client's offer "
            f"({len(offered)} suite(s)): the handshake fails with alert handshake_failure (40)",
            evidence=(Evidence(server.file, server.ssl_ciphers_line, {
                "ssl_ciphers": server.ssl_ciphers,
                "ssl_protocols": " ".join(server.ssl_protocols),
                "server_suites (negotiable)": " ".join(sorted(_usable(server))),
                "client_suites (fixer_client_ciphers)": " ".join(offered),
            }),),
            remediation=f"add a suite the client offers to {CIPHERS_TOKEN} in {customer} (or the virtual "
            f"host's ciphers), then {svc} restart; or make the client offer one of the server's suites",
        ))
    return findings


def check_drift(facts: RouterFacts, customer: str, svc: str) -> list[Finding]:
    findings = []
    protocols = _token(facts, PROTOCOLS_KEY)
    ciphers = _token(facts, CIPHERS_KEY)
    for server in _ssl_servers(facts):
        diffs: list[Evidence] = []
        if protocols is not None and set(protocols.value.split()) != set(server.ssl_protocols):
            diffs.append(Evidence(server.file, server.ssl_protocols_line,
                                  {"ssl_protocols": " ".join(server.ssl_protocols)}))
            diffs.append(Evidence(customer, protocols.line, {protocols.raw_key: protocols.value}))
        if ciphers is not None and ciphers.value.strip().strip("'\"") != server.ssl_ciphers:
            diffs.append(Evidence(server.file, server.ssl_ciphers_line, {"ssl_ciphers": server.ssl_ciphers}))
            diffs.append(Evidence(customer, ciphers.line, {ciphers.raw_key: ciphers.value}))
        if diffs:
            findings.append(Finding(
                id="router-config-drift",
                severity="warning",
                cause="config",
                message=f"{_where(server)} in the generated {server.file} disagrees with {customer}: "
                "a router restart is pending, or the generated file was edited by hand "
                "(a hand edit is lost at the next restart)",
                evidence=tuple(diffs),
                remediation=f"put the intended values in {customer} (the generated file is rewritten on "
                f"restart), then {svc} restart",
            ))
    return findings


def check_router(facts: RouterFacts, host_vars: dict[str, Any], cipher_table: Mapping[str, str],
                 anchors: TrustAnchors | None = None) -> list[Finding]:
    """Every router finding; `anchors` are the certificates of `fixer_router_cafile` (see router_certs)."""
    root = str(host_vars.get("apigee_root", "/opt/apigee")).rstrip("/")
    svc = _service_cmd(root)
    customer = facts.customer.path
    min_protocol = str(host_vars.get("fixer_tls_min_protocol", "TLSv1.2"))
    findings: list[Finding] = []
    findings += unreadable(facts.customer)
    for error in facts.parse_errors:
        findings.append(Finding(
            id="nginx-conf-unreadable", severity="warning", cause="config",
            message=f"could not read or parse nginx configuration: {error}",
            evidence=(Evidence(error.split(":", 1)[0], None, {"error": error}),),
            remediation="check the file (nginx -t) and the inspecting user's permissions",
        ))
    findings += properties_owner(facts.customer, "the router", svc)
    findings += check_weak_protocols(facts, min_protocol, customer, svc)
    findings += check_weak_ciphers(facts, customer, svc)
    client = host_vars.get("fixer_client_ciphers")
    if client:
        names = client.split(":") if isinstance(client, str) else [str(c) for c in client]
        findings += check_cipher_mismatch(facts, names, cipher_table, customer, svc)
    findings += check_drift(facts, customer, svc)
    findings += check_router_certs(facts, host_vars, svc, anchors)
    return findings
