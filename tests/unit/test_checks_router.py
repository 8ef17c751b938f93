"""Router checks, as tables of facts → expected finding ids."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fixer.checks.router import check_router
from fixer.facts.model import FileStat, NginxServer, PropertiesFacts, RouterFacts
from fixer.facts.properties import parse_properties, parse_tokens

CONF = "/opt/nginx/conf.d/0-default.conf"
CUSTOMER = "/opt/apigee/customer/application/router.properties"
GOOD = ("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
TABLE = {"AES128-SHA": "TLS_RSA_WITH_AES_128_CBC_SHA",
         "ECDHE-RSA-AES256-GCM-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}
TOKENS = ("conf_load_balancing_load.balancing.driver.server.ssl.protocols=TLSv1.2 TLSv1.3\n"
          "conf_load_balancing_load.balancing.driver.server.ssl.ciphers="
          "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384\n")


def server(protocols: tuple[str, ...] = ("TLSv1.2", "TLSv1.3"),
           ciphers: str = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384",
           effective: tuple[str, ...] = GOOD, ssl: bool = True) -> NginxServer:
    return NginxServer(CONF, 1, ("443 ssl",), ("api.example.com",), ssl, protocols, 5, "server", ciphers, 6,
                       "server", "/opt/nginx/ssl/a.crt", "/opt/nginx/ssl/a.key", effective, "node")


APIGEE = FileStat("apigee", "apigee", 0o644)


def router(*servers: NginxServer, tokens: str = TOKENS, stat: FileStat = APIGEE) -> RouterFacts:
    entries = parse_properties(tokens)
    return RouterFacts(PropertiesFacts(CUSTOMER, True, stat, entries), parse_tokens(entries), "/opt/nginx/conf.d",
                       (CONF,), servers, "1.22.1")


WEAK = ("TLS_RSA_WITH_NULL_SHA256", "TLS_DH_anon_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA")

CASES = [
    ("healthy", router(server()), {}, set()),
    ("no ssl server at all", router(server(ssl=False, protocols=("TLSv1",))), {}, set()),
    ("tls1 enabled", router(server(protocols=("TLSv1", "TLSv1.1", "TLSv1.2")), tokens=""), {},
     {"router-weak-protocol"}),
    ("min raised to 1.3", router(server()), {"fixer_tls_min_protocol": "TLSv1.3"}, {"router-weak-protocol"}),
    ("weak suites", router(server(effective=GOOD + WEAK), tokens=""), {}, {"router-weak-cipher"}),
    ("client shares a suite", router(server()), {"fixer_client_ciphers": ["ECDHE-RSA-AES256-GCM-SHA384"]}, set()),
    ("client shares nothing", router(server(protocols=("TLSv1.2",),
                                            effective=("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",)), tokens=""),
     {"fixer_client_ciphers": ["AES128-SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256"]}, {"router-cipher-mismatch"}),
    ("tls1.3 suite useless when 1.3 off", router(server(protocols=("TLSv1.2",),
                                                        effective=("TLS_AES_128_GCM_SHA256",
                                                                   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")),
                                                 tokens=""),
     {"fixer_client_ciphers": "TLS_AES_128_GCM_SHA256"}, {"router-cipher-mismatch"}),
    ("drift protocols", router(server(protocols=("TLSv1.2",))), {}, {"router-config-drift"}),
    ("protocol order is not drift", router(server(protocols=("TLSv1.3", "TLSv1.2"))), {}, set()),
    ("drift ciphers", router(server(ciphers="HIGH")), {}, {"router-config-drift"}),
    ("owner", router(server(), stat=FileStat("root", "root", 0o644)), {}, {"properties-owner"}),
]


@pytest.mark.parametrize(("label", "facts", "host_vars", "expected"), CASES, ids=[c[0] for c in CASES])
def test_router_checks(label: str, facts: RouterFacts, host_vars: dict[str, object], expected: set[str]) -> None:
    assert {f.id for f in check_router(facts, dict(host_vars), TABLE)} == expected


def test_weak_protocol_evidence_points_at_the_line() -> None:
    (finding,) = check_router(router(server(protocols=("TLSv1", "TLSv1.2")), tokens=""), {}, TABLE)
    assert finding.evidence[0].file == CONF and finding.evidence[0].line == 5
    assert "enables TLSv1," in finding.message
    assert "ssl.protocols=TLSv1.2" in finding.remediation


def test_weak_cipher_names_each_reason() -> None:
    (finding,) = check_router(router(server(effective=WEAK), tokens=""), {}, TABLE)
    assert "NULL" in finding.message and "3DES" in finding.message


def test_drift_shows_both_sides() -> None:
    (finding,) = check_router(router(server(protocols=("TLSv1.2",))), {}, TABLE)
    files = [e.file for e in finding.evidence]
    assert files == [CONF, CUSTOMER]


def test_parse_errors_become_findings() -> None:
    facts = replace(router(server()), parse_errors=(f"{CONF}:3: unexpected end of file",))
    assert [f.id for f in check_router(facts, {}, TABLE)] == ["nginx-conf-unreadable"]
