"""Southbound checks: fixer_targets and bundle TargetEndpoints as specs, and each target-* finding."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from fixer.bundles.parse import TargetEndpoint, parse_target_endpoint
from fixer.checks.java_offer import java_offer
from fixer.checks.model import Finding
from fixer.checks.southbound import (
    SouthboundConfig,
    TargetProbe,
    TargetSpec,
    check_targets,
    cipher_test_protocol,
    endpoint_targets,
    parse_targets,
)
from fixer.facts.model import FileStat, JavaFacts, MessageProcessorFacts, PropertiesFacts
from fixer.probe.model import PROTOCOLS, CertSummary, Failure, FailureKind, HandshakeResult, ProbeResult, ProbeTarget
from tests.unit.pki import DAY, NOW, Issued, issue

JDK17_DISABLED = ("SSLv3", "TLSv1", "TLSv1.1", "RC4", "DES", "MD5withRSA", "DH keySize < 1024", "3DES_EDE_CBC",
                  "anon", "NULL", "ECDH")
JAVA17 = JavaFacts("/usr/lib/jvm/java-17", "process", "17.0.15", 17, None, None, "unlimited", "", "", JDK17_DISABLED)


def mp_facts(sni: bool = True, disabled: tuple[str, ...] = JDK17_DISABLED) -> MessageProcessorFacts:
    generated = PropertiesFacts("/opt/apigee/edge-message-processor/conf/system.properties", True,
                                FileStat("apigee", "apigee", 0o644))
    return MessageProcessorFacts(PropertiesFacts("/c.properties", False), generated, (),
                                 replace(JAVA17, disabled_algorithms=disabled), sni, None, None)


FACTS = mp_facts()

# -- a throw-away PKI ---------------------------------------------------------------------------------
ROOT = issue("Test Root CA", None, ca=True, not_after=NOW + 3650 * DAY)
INTER = issue("Test Intermediate CA", ROOT, ca=True, not_after=NOW + 1825 * DAY)
LEAF = issue("api.example.com", INTER, sans=["api.example.com"])
WILDCARD = issue("*.example.com", INTER, sans=["*.example.com"])
EXPIRED = issue("api.example.com", INTER, sans=["api.example.com"], not_before=NOW - 9 * DAY, not_after=NOW - DAY)
EXPIRING = issue("api.example.com", INTER, sans=["api.example.com"], not_after=NOW + 10 * DAY)
SELF = issue("api.example.com", None, sans=["api.example.com"])
ROGUE_ROOT = issue("Rogue Root CA", None, ca=True)
ROGUE_INTER = issue("Rogue Intermediate CA", ROGUE_ROOT, ca=True)
ROGUE = issue("api.example.com", ROGUE_INTER, sans=["api.example.com"])

URL = "https://api.example.com:8443/v1"
SPEC = TargetSpec(URL, "api.example.com", 8443, truststore="/trust/root.pem")
TRUST = (ROOT.cert,)


def chain(*certs: Issued) -> tuple[CertSummary, ...]:
    return tuple(CertSummary.from_der(c.cert.public_bytes(Encoding.DER)) for c in certs)


def probe(accepted: tuple[str, ...] = ("TLSv1.2", "TLSv1.3"), *, certs: tuple[Issued, ...] = (LEAF, INTER),
          sni_required: bool | None = False, handshakes: tuple[HandshakeResult, ...] | None = None) -> ProbeResult:
    presented = chain(*certs)
    hs = handshakes if handshakes is not None else tuple(
        HandshakeResult(p, True, p in accepted, p if p in accepted else None,
                        "ECDHE-RSA-AES128-GCM-SHA256" if p in accepted else None,
                        presented if p in accepted else (),
                        None if p in accepted else Failure("alert", "protocol_version"))
        for p in PROTOCOLS)
    ok = [h for h in hs if h.ok]
    return ProbeResult(ProbeTarget("api.example.com", 8443), {p: p in accepted for p in PROTOCOLS}, sni_required,
                       False, presented if ok else (), presented if ok else (), ok[-1] if ok else None, hs,
                       via="tunnel", vantage="mp1")


def failed(kind: FailureKind, message: str = "", protocol: str = "TLSv1.2") -> HandshakeResult:
    alert = "handshake_failure" if kind == "alert" else None
    return HandshakeResult(protocol, True, False, failure=Failure(kind, alert, None, message))


def tp(result: ProbeResult | None = None, spec: TargetSpec = SPEC, **kw: Any) -> TargetProbe:
    kw.setdefault("truststore", TRUST)
    return TargetProbe(spec, result or probe(), **kw)


def cipher_failure(alert: str | None, kind: FailureKind = "alert") -> HandshakeResult:
    return HandshakeResult("TLSv1.2", True, False, failure=Failure(kind, alert))


TLS12_ONLY = probe(("TLSv1.2",))
TLS1_ONLY = probe(("TLSv1",))

XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<TargetEndpoint name="legacy">
    <HTTPTargetConnection>
        <SSLInfo>
            <Enabled>true</Enabled>
        </SSLInfo>
        <URL>https://api.example.com:8443/v1</URL>
    </HTTPTargetConnection>
</TargetEndpoint>
"""
EP_FILE = "/srv/bundles/orders/apiproxy/targets/legacy.xml"


def endpoint(xml: bytes = XML, file: str = EP_FILE) -> TargetEndpoint:
    return parse_target_endpoint(xml, file, bundle="/srv/bundles/orders")


def target_xml(connection: str, name: str = "t") -> bytes:
    body = f"<HTTPTargetConnection>{connection}</HTTPTargetConnection>"
    return f'<TargetEndpoint name="{name}">{body}</TargetEndpoint>'.encode()


BUNDLE_SPEC = endpoint_targets([(endpoint(), XML)])[0][0]

# -- parse_targets ------------------------------------------------------------------------------------

PARSE_CASES: list[Any] = [
    ("none", None, [], []),
    ("empty", [], [], []),
    ("string", ["https://a.example.com/x"], [("https://a.example.com/x", "a.example.com", 443, None, None)], []),
    ("dict", [{"url": "https://a.example.com:8443/", "servername": "b.example.com", "truststore": "/t.pem"}],
     [("https://a.example.com:8443/", "a.example.com", 8443, "b.example.com", "/t.pem")], []),
    ("upper-case scheme and host", ["HTTPS://A.Example.COM"], [("HTTPS://A.Example.COM", "a.example.com", 443,
                                                                 None, None)], []),
    ("ipv6", ["https://[2001:db8::1]:9443/p"], [("https://[2001:db8::1]:9443/p", "2001:db8::1", 9443, None, None)],
     []),
    ("servername made a string", [{"url": "https://a/", "servername": 7}], [("https://a/", "a", 443, "7", None)],
     []),
    ("empty servername is none", [{"url": "https://a/", "servername": ""}], [("https://a/", "a", 443, None, None)],
     []),
    ("not a list: string", "https://a/", [], ["fixer_targets must be a list, not str"]),
    ("not a list: dict", {"url": "https://a/"}, [], ["fixer_targets must be a list, not dict"]),
    ("http", ["http://a.example.com/"], [],
     ["fixer_targets[0]: 'http://a.example.com/' is not an https://host[:port]/... URL"]),
    ("no host", ["https:///path"], [], ["fixer_targets[0]: 'https:///path' is not an https://host[:port]/... URL"]),
    ("no scheme", ["a.example.com:443"], [],
     ["fixer_targets[0]: 'a.example.com:443' is not an https://host[:port]/... URL"]),
    ("bad port", ["https://a:99999/"], [], ["fixer_targets[0]: bad url 'https://a:99999/': "]),
    ("port not a number", ["https://a:https/"], [], ["fixer_targets[0]: bad url 'https://a:https/': "]),
    ("bad ipv6", ["https://[::1/"], [], ["fixer_targets[0]: bad url 'https://[::1/': "]),
    ("port 0", ["https://a:0/"], [], ["fixer_targets[0]: 'https://a:0/': port 0 is not a port"]),
    ("credentials never shown", ["http://u:secret@a/"], [],
     ["fixer_targets[0]: 'http://a/' is not an https://host[:port]/... URL"]),
    ("no url", [{"servername": "a"}], [], ["fixer_targets[0]: needs a url"]),
    ("url not a string", [{"url": 443}], [], ["fixer_targets[0]: needs a url"]),
    ("number", [42], [], ["fixer_targets[0]: needs a url"]),
    ("mixed", ["https://a/", 1, "http://b/", {"url": "https://c:1/"}],
     [("https://a/", "a", 443, None, None), ("https://c:1/", "c", 1, None, None)],
     ["fixer_targets[1]: needs a url", "fixer_targets[2]: 'http://b/' is not an https://host[:port]/... URL"]),
]


@pytest.mark.parametrize(("label", "value", "specs", "errors"), PARSE_CASES,
                         ids=[c[0] if isinstance(c, tuple) else c.id for c in PARSE_CASES])
def test_parse_targets(label: str, value: Any, specs: list[tuple[str, str, int, str | None, str | None]],
                       errors: list[str]) -> None:
    got, errs = parse_targets(value)
    assert [(s.url, s.host, s.port, s.servername, s.truststore) for s in got] == specs
    assert len(errs) == len(errors)
    for err, expected in zip(errs, errors, strict=True):
        assert err.startswith(expected)
    assert all(s.endpoint is None and s.endpoint_xml is None and s.origin == "fixer_targets" for s in got)


def test_parse_targets_default_truststore() -> None:
    specs, errors = parse_targets(["https://a/", {"url": "https://b/", "truststore": "/own.pem"},
                                   {"url": "https://c/", "truststore": ""}], "/default.pem")
    assert errors == []
    assert [s.truststore for s in specs] == ["/default.pem", "/own.pem", "/default.pem"]


def test_spec_probe_target() -> None:
    assert SPEC.probe_target == ProbeTarget("api.example.com", 8443, None)
    assert replace(SPEC, servername="x").probe_target == ProbeTarget("api.example.com", 8443, "x")


# -- endpoint_targets ---------------------------------------------------------------------------------

def test_endpoint_targets() -> None:
    servers = target_xml('<LoadBalancer><Server name="ts1"/><Server name="ts2"/></LoadBalancer>', "lb")
    plain = target_xml("<URL>http://plain.example.com/</URL>", "plain")
    local = (b'<TargetEndpoint name="loc"><LocalTargetConnection><Path>/x</Path></LocalTargetConnection>'
             b"</TargetEndpoint>")
    eps = [(endpoint(servers, "/b/lb.xml"), servers), (endpoint(plain, "/b/plain.xml"), plain),
           (endpoint(local, "/b/loc.xml"), local), (endpoint(), XML)]
    specs, notes = endpoint_targets(eps, "/trust.pem")
    assert len(notes) == 1
    assert notes[0].startswith("/b/lb.xml: TargetEndpoint lb uses TargetServer(s) ts1, ts2: not probed")
    assert "fixer_targets" in notes[0]
    (spec,) = specs
    assert (spec.url, spec.host, spec.port, spec.servername, spec.truststore) == (
        URL, "api.example.com", 8443, None, "/trust.pem")
    assert spec.endpoint == endpoint() and spec.endpoint_xml == XML
    assert spec.origin == f"TargetEndpoint legacy ({EP_FILE})"


def test_endpoint_targets_tls_on_an_http_url_is_a_note() -> None:
    xml = target_xml("<SSLInfo><Enabled>true</Enabled></SSLInfo><URL>http://a.example.com/</URL>", "odd")
    specs, notes = endpoint_targets([(endpoint(xml, "/b/odd.xml"), None), (endpoint(), None)])
    assert [(s.url, s.endpoint_xml, s.truststore) for s in specs] == [(URL, None, None)]
    assert notes == ["/b/odd.xml: TargetEndpoint odd: 'http://a.example.com/' is not an https://host[:port]/... "
                     "URL: not probed"]


# -- SouthboundConfig.specs_for -----------------------------------------------------------------------

SPECS_FOR_CASES = [
    ("host var wins", "/cli.pem", {"fixer_truststore": "/host.pem"}, "/host.pem"),
    ("config truststore", "/cli.pem", {}, "/cli.pem"),
    ("empty host var falls back", "/cli.pem", {"fixer_truststore": ""}, "/cli.pem"),
    ("host var only", None, {"fixer_truststore": "/host.pem"}, "/host.pem"),
    ("none", None, {}, None),
]


@pytest.mark.parametrize(("label", "config_trust", "host_vars", "expected"), SPECS_FOR_CASES,
                         ids=[c[0] for c in SPECS_FOR_CASES])
def test_specs_for_truststore(label: str, config_trust: str | None, host_vars: dict[str, Any],
                              expected: str | None) -> None:
    config = SouthboundConfig((BUNDLE_SPEC,), config_trust)
    specs, errors = config.specs_for({**host_vars, "fixer_targets": ["https://a/", "ftp://b/"]})
    assert [s.url for s in specs] == ["https://a/", URL]  # fixer_targets first, then the bundle targets
    assert [s.truststore for s in specs] == [expected, expected]
    assert specs[1].endpoint == BUNDLE_SPEC.endpoint
    assert len(errors) == 1 and errors[0].startswith("fixer_targets[1]")


def test_specs_for_keeps_an_entry_truststore_and_bundle_targets_without_fixer_targets() -> None:
    config = SouthboundConfig((BUNDLE_SPEC,))
    specs, errors = config.specs_for({"fixer_truststore": "/h.pem",
                                      "fixer_targets": [{"url": "https://a/", "truststore": "/own.pem"}]})
    assert [s.truststore for s in specs] == ["/own.pem", "/h.pem"] and errors == []
    assert SouthboundConfig().specs_for({}) == ([], [])
    assert [s.url for s in SouthboundConfig((BUNDLE_SPEC,)).specs_for({})[0]] == [URL]


def test_host_truststore_wins_for_bundle_targets_built_like_the_cli() -> None:
    specs, _ = endpoint_targets([(endpoint(), XML)])  # as fixer/cli/check.py southbound_config does
    config = SouthboundConfig(tuple(specs), "/cli.pem")
    got, _ = config.specs_for({"fixer_truststore": "/host.pem"})
    assert got[0].truststore == "/host.pem"
    assert config.specs_for({})[0][0].truststore == "/cli.pem"


def test_credentials_in_a_target_url_are_dropped() -> None:
    specs, errors = parse_targets(["https://user:s3cret@pay.example.com:8443/v1"])
    assert errors == [] and specs[0].url == "https://pay.example.com:8443/v1"
    assert (specs[0].host, specs[0].port) == ("pay.example.com", 8443)


# -- cipher_test_protocol -----------------------------------------------------------------------------

OPEN = mp_facts(disabled=())
NARROW = replace(OPEN, client_protocols=("TLSv1.2", "TLSv1.3"))  # TLSv1 not disabled, just not offered
CIPHER_PROTOCOL_CASES = [
    ("TLS 1.3 in common", ("TLSv1.2", "TLSv1.3"), FACTS, None),
    ("only TLS 1.3", ("TLSv1.3",), FACTS, None),
    ("best common up to 1.2", ("TLSv1", "TLSv1.1", "TLSv1.2"), FACTS, "TLSv1.2"),
    ("no common protocol", ("TLSv1",), FACTS, None),
    ("nothing accepted", (), FACTS, None),
    ("old Java and old server", ("TLSv1", "TLSv1.1"), replace(OPEN, https_protocols=PROTOCOLS[:2]), "TLSv1.1"),
    ("old server, Java disables", ("TLSv1", "TLSv1.1"), replace(FACTS, https_protocols=PROTOCOLS[:2]), None),
]


@pytest.mark.parametrize(("label", "accepted", "mp", "expected"), CIPHER_PROTOCOL_CASES,
                         ids=[c[0] for c in CIPHER_PROTOCOL_CASES])
def test_cipher_test_protocol(label: str, accepted: tuple[str, ...], mp: MessageProcessorFacts,
                              expected: str | None) -> None:
    assert cipher_test_protocol(probe(accepted), java_offer(mp)) == expected


# -- check_targets: which finding for which probe -----------------------------------------------------

UNREACHABLE = (failed("refused", "Connection refused"), failed("timeout", "timed out", "TLSv1.3"),
               failed("dns", "Name or service not known", "TLSv1"))
HC: list[tuple[str, TargetProbe, MessageProcessorFacts, dict[str, Any], set[str]]] = [
    ("healthy", tp(), FACTS, {}, set()),
    ("healthy via servername", tp(spec=replace(SPEC, host="10.0.0.5", servername="api.example.com")), FACTS, {},
     set()),
    ("healthy wildcard", tp(probe(certs=(WILDCARD, INTER))), FACTS, {}, set()),
    ("unreachable", tp(probe(handshakes=UNREACHABLE)), FACTS, {}, {"target-unreachable"}),
    ("unreachable skips the rest", tp(probe(handshakes=UNREACHABLE[:1], sni_required=True)), mp_facts(sni=False),
     {}, {"target-unreachable"}),
    ("one alert is not unreachable", tp(probe(handshakes=(*UNREACHABLE, failed("alert")))), FACTS, {}, set()),
    ("reset is not unreachable", tp(probe(handshakes=(failed("reset"),))), FACTS, {}, set()),
    ("no handshakes", tp(probe(handshakes=())), FACTS, {}, set()),
    ("protocol mismatch", tp(TLS1_ONLY), FACTS, {}, {"target-protocol-mismatch"}),
    ("a Java disabling nothing offers TLSv1 too", tp(TLS1_ONLY), OPEN, {}, set()),
    ("protocol mismatch, client protocols without TLSv1", tp(TLS1_ONLY), NARROW, {}, {"target-protocol-mismatch"}),
    ("protocol mismatch, bundle", tp(TLS1_ONLY, BUNDLE_SPEC), FACTS, {}, {"target-protocol-mismatch"}),
    ("protocol via https.protocols", tp(TLS1_ONLY), replace(OPEN, https_protocols=("TLSv1",)), {}, set()),
    ("cipher mismatch", tp(TLS12_ONLY, cipher_test=cipher_failure("handshake_failure")), FACTS, {},
     {"target-cipher-mismatch"}),
    ("cipher mismatch, insufficient_security", tp(TLS12_ONLY, cipher_test=cipher_failure("insufficient_security")),
     FACTS, {}, {"target-cipher-mismatch"}),
    ("other alert", tp(TLS12_ONLY, cipher_test=cipher_failure("protocol_version")), FACTS, {}, set()),
    ("cipher test reset", tp(TLS12_ONLY, cipher_test=cipher_failure(None, "reset")), FACTS, {}, set()),
    ("cipher test ok", tp(TLS12_ONLY, cipher_test=HandshakeResult("TLSv1.2", True, True)), FACTS, {}, set()),
    ("no cipher test", tp(TLS12_ONLY), FACTS, {}, set()),
    ("sni required, off", tp(probe(sni_required=True)), mp_facts(sni=False), {}, {"target-sni-required"}),
    ("sni required, on", tp(probe(sni_required=True)), FACTS, {}, {"target-sni-required"}),
    ("sni undecided", tp(probe(sni_required=None)), mp_facts(sni=False), {}, set()),
    ("expired", tp(probe(certs=(EXPIRED, INTER))), FACTS, {}, {"target-cert-expired"}),
    ("expiring", tp(probe(certs=(EXPIRING, INTER))), FACTS, {}, {"target-cert-expiring"}),
    ("expiring, warn days 5", tp(probe(certs=(EXPIRING, INTER))), FACTS, {"fixer_cert_warn_days": 5}, set()),
    ("expiring, warn days '20'", tp(probe(certs=(EXPIRING, INTER))), FACTS, {"fixer_cert_warn_days": "20"},
     {"target-cert-expiring"}),
    ("expiring, bad warn days", tp(probe(certs=(EXPIRING, INTER))), FACTS, {"fixer_cert_warn_days": "soon"},
     {"target-cert-expiring"}),
    ("expiring, warn days None", tp(probe(certs=(EXPIRING, INTER))), FACTS, {"fixer_cert_warn_days": None},
     {"target-cert-expiring"}),
    ("expiring, negative warn days", tp(probe(certs=(EXPIRING, INTER))), FACTS, {"fixer_cert_warn_days": -5},
     set()),
    ("chain incomplete", tp(probe(certs=(LEAF,))), FACTS, {}, {"target-cert-chain-incomplete"}),
    ("leaf only without truststore", tp(probe(certs=(LEAF,)), truststore=None), FACTS, {}, set()),
    ("self-signed, truststore", tp(probe(certs=(SELF,))), FACTS, {}, {"target-cert-untrusted"}),
    ("self-signed, no truststore", tp(probe(certs=(SELF,)), truststore=None), FACTS, {}, {"target-cert-untrusted"}),
    ("self-signed, trusted", tp(probe(certs=(SELF,)), truststore=(SELF.cert,)), FACTS, {}, set()),
    ("foreign root sent", tp(probe(certs=(ROGUE, ROGUE_INTER, ROGUE_ROOT))), FACTS, {}, {"target-cert-untrusted"}),
    ("foreign chain", tp(probe(certs=(ROGUE, ROGUE_INTER))), FACTS, {}, {"target-cert-untrusted"}),
    ("servername mismatch", tp(spec=replace(SPEC, servername="other.example.com")), FACTS, {},
     {"target-cert-hostname-mismatch"}),
    ("host mismatch", tp(spec=replace(SPEC, host="api2.example.com")), FACTS, {},
     {"target-cert-hostname-mismatch"}),
    ("wildcard is one label", tp(probe(certs=(WILDCARD, INTER)), replace(SPEC, host="a.b.example.com")), FACTS, {},
     {"target-cert-hostname-mismatch"}),
    ("truststore unreadable", tp(truststore=None, truststore_error="no certificate in /trust/root.pem"), FACTS, {},
     {"target-config-invalid"}),
    ("everything", tp(probe(("TLSv1",), certs=(SELF,), sni_required=True)), mp_facts(sni=False), {},
     {"target-protocol-mismatch", "target-sni-required", "target-cert-untrusted"}),
]


@pytest.mark.parametrize(("label", "target", "mp", "host_vars", "expected"), HC, ids=[c[0] for c in HC])
def test_check_targets(label: str, target: TargetProbe, mp: MessageProcessorFacts, host_vars: dict[str, Any],
                       expected: set[str]) -> None:
    findings = check_targets(mp, host_vars, [target], now=NOW)
    assert {f.id for f in findings} == expected
    assert len(findings) == len(expected)  # one finding per id here
    for f in findings:  # every finding about a target names it
        assert f.target == target.spec.url
        assert f.message.startswith(f"{target.spec.url}: ")
        assert f.evidence and all(e.values["target"] == target.spec.url for e in f.evidence)


def one(target: TargetProbe, mp: MessageProcessorFacts = FACTS, host_vars: dict[str, Any] | None = None) -> Finding:
    (finding,) = check_targets(mp, host_vars or {}, [target], now=NOW)
    return finding


def test_unreachable_details() -> None:
    f = one(tp(probe(handshakes=UNREACHABLE)))
    assert (f.severity, f.cause) == ("error", "config")
    assert f.evidence[0].values["failures"] == "dns: Name or service not known; refused: Connection refused; " \
                                               "timeout: timed out"
    assert "api.example.com:8443" in f.remediation
    assert f.evidence[0].values["via"] == "tunnel from mp1"


def test_protocol_mismatch_remediation_mentions_the_mp_playbook_only_when_java_disables() -> None:
    blocked = one(tp(TLS1_ONLY))
    assert (blocked.severity, blocked.cause) == ("error", "protocol")
    assert "accepts only TLSv1; this MP offers TLSv1.2, TLSv1.3 (Java default)" in blocked.message
    assert "mp-tls-protocols.yml" in blocked.remediation
    assert blocked.evidence[0].values["jdk.tls.disabledAlgorithms protocols"] == "TLSv1, TLSv1.1"
    assert blocked.playbook is None and blocked.diff is None  # a fixer_targets entry has no file to patch
    fine = one(tp(TLS1_ONLY), NARROW)
    assert "mp-tls-protocols.yml" not in fine.remediation
    assert "target-protocols.yml" in fine.remediation
    assert fine.evidence[0].values["MP offers"] == "TLSv1.2, TLSv1.3"


def test_protocol_mismatch_of_a_bundle_target_carries_the_patch() -> None:
    f = one(tp(TLS1_ONLY, BUNDLE_SPEC), NARROW)
    assert f.playbook == "target-protocols.yml"
    assert f.evidence[0].file == EP_FILE and f.evidence[0].line == 2
    assert f.evidence[0].values["from"] == f"TargetEndpoint legacy ({EP_FILE})"
    assert f.diff is not None
    lines = f.diff.splitlines()
    assert lines[0] == f"--- bundle:{EP_FILE} (before)"
    assert lines[1] == f"+++ bundle:{EP_FILE} (after)"
    added = [line[1:].strip() for line in lines[2:] if line.startswith("+")]
    assert added == ["<Protocols>", "<Protocol>TLSv1</Protocol>", "</Protocols>"]
    assert not [line for line in lines[2:] if line.startswith("-")]


def test_protocol_mismatch_of_a_bundle_target_whose_java_disables_tlsv1() -> None:
    f = one(tp(TLS1_ONLY, BUNDLE_SPEC))
    assert f.playbook == "target-protocols.yml" and f.diff and "+                <Protocol>TLSv1</Protocol>" in f.diff
    assert "mp-tls-protocols.yml" in f.remediation
    assert any("mp-tls-protocols.yml" in a for a in f.actions)


def test_protocol_mismatch_against_the_endpoint_protocols() -> None:
    xml = XML.replace(b"<Enabled>true</Enabled>", b"<Enabled>true</Enabled><Protocols><Protocol>TLSv1.1</Protocol>"
                      b"</Protocols>")
    spec = endpoint_targets([(endpoint(xml), xml)])[0][0]
    f = one(tp(TLS12_ONLY, spec), OPEN)
    assert f.id == "target-protocol-mismatch"
    assert "this MP offers TLSv1.1 (<SSLInfo><Protocols> of TargetEndpoint legacy)" in f.message
    assert f.diff is not None
    changed = [line for line in f.diff.splitlines()[2:] if line[:1] in "+-"]
    assert changed == ["-            <Enabled>true</Enabled><Protocols><Protocol>TLSv1.1</Protocol></Protocols>",
                       "+            <Enabled>true</Enabled><Protocols><Protocol>TLSv1.2</Protocol></Protocols>"]


def test_cipher_mismatch_details() -> None:
    f = one(tp(TLS12_ONLY, cipher_test=cipher_failure("handshake_failure")))
    assert (f.severity, f.cause) == ("error", "cipher")
    assert "accepts TLSv1.2 but none of the" in f.message and f.message.endswith("alert handshake_failure")
    values = f.evidence[0].values
    assert values["tested protocol"] == "TLSv1.2" and values["MP suites source"] == "Java default"
    assert values["backend chose (probe's wide offer)"] == "ECDHE-RSA-AES128-GCM-SHA256"  # negotiated cipher
    assert "last resort" not in f.remediation


def test_cipher_mismatch_on_a_suite_java_disables() -> None:
    f = one(tp(TLS12_ONLY, cipher_test=cipher_failure("handshake_failure"), server_suite="TLS_RSA_WITH_RC4_128_SHA"))
    assert "TLS_RSA_WITH_RC4_128_SHA is one the MP's Java disables" in f.remediation
    assert f.evidence[0].values["backend chose (probe's wide offer)"] == "TLS_RSA_WITH_RC4_128_SHA"


def test_cipher_mismatch_of_an_endpoint_with_ciphers() -> None:
    xml = XML.replace(b"<Enabled>true</Enabled>", b"<Enabled>true</Enabled><Ciphers><Cipher>"
                      b"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384</Cipher></Ciphers>")
    spec = endpoint_targets([(endpoint(xml), xml)])[0][0]
    f = one(tp(TLS12_ONLY, spec, cipher_test=cipher_failure("handshake_failure"),
               server_suite="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"))
    assert "add TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 to the TargetEndpoint's <SSLInfo><Ciphers>" in f.remediation
    assert "none of the 1 cipher suites" in f.message
    assert f.evidence[0].values["MP suites"] == "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"


@pytest.mark.parametrize(("sni", "severity", "text"), [(False, "error", "disabled"), (True, "info", "enabled")])
def test_sni_required(sni: bool, severity: str, text: str) -> None:
    f = one(tp(probe(sni_required=True)), mp_facts(sni=sni))
    assert (f.severity, f.cause) == (severity, "sni")
    assert f"SNI is {text} on this message processor" in f.message
    assert f.evidence[0].values["sni enabled on MP"] == str(sni).lower()
    assert ("enable-sni.yml" in f.remediation) is not sni


def test_expired_and_expiring_details() -> None:
    expired = one(tp(probe(certs=(EXPIRED, INTER))))
    assert (expired.severity, expired.cause) == ("error", "certificate")
    assert f"expired on {(NOW - DAY):%Y-%m-%d}" in expired.message
    assert expired.evidence[0].values["expired"] == "CN=api.example.com,O=fixer test"
    assert expired.evidence[0].values["chain[1]"].startswith("CN=Test Intermediate CA,O=fixer test (issuer "
                                                             "CN=Test Root CA,O=fixer test; notAfter ")
    expiring = one(tp(probe(certs=(EXPIRING, INTER))), host_vars={"fixer_cert_warn_days": "20"})
    assert expiring.severity == "warning"
    assert "expires in 10 day(s)" in expiring.message
    assert expiring.evidence[0].values["warn days"] == "20"
    assert one(tp(probe(certs=(EXPIRING, INTER))), host_vars={"fixer_cert_warn_days": []}).evidence[0].values[
        "warn days"] == "30"


def test_expiring_intermediate_counts_too() -> None:
    inter = issue("Short Intermediate CA", ROOT, ca=True, not_after=NOW + 5 * DAY)
    leaf = issue("api.example.com", inter, sans=["api.example.com"])
    f = one(tp(probe(certs=(leaf, inter))))
    assert f.id == "target-cert-expiring"
    assert f.evidence[0].values["expiring"] == "CN=Short Intermediate CA,O=fixer test"


def test_chain_incomplete_details() -> None:
    f = one(tp(probe(certs=(LEAF,))))
    assert (f.severity, f.cause) == ("error", "certificate")
    assert f.evidence[0].values["missing issuer"] == "CN=Test Intermediate CA,O=fixer test"
    assert "sends only its leaf; issuer CN=Test Intermediate CA,O=fixer test" in f.message
    assert f.evidence[0].values["truststore"] == "/trust/root.pem"


@pytest.mark.parametrize(("certs", "trust", "severity", "text"), [
    ((SELF,), TRUST, "error", "untrusted root: self-signed leaf"),
    ((SELF,), None, "warning", "self-signed certificate (no truststore given"),
    ((ROGUE, ROGUE_INTER, ROGUE_ROOT), TRUST, "error", "not anchored in the truststore"),
    ((ROGUE, ROGUE_INTER), TRUST, "error", "not anchored in the truststore"),
], ids=["self-signed", "self-signed, no truststore", "foreign root", "foreign chain"])
def test_untrusted_details(certs: tuple[Issued, ...], trust: tuple[x509.Certificate, ...] | None, severity: str,
                           text: str) -> None:
    f = one(tp(probe(certs=certs), truststore=trust))
    assert f.id == "target-cert-untrusted" and (f.severity, f.cause) == (severity, "certificate")
    assert text in f.message
    assert f.evidence[0].values["truststore"] == ("/trust/root.pem" if trust else "(none given)")


def test_hostname_mismatch_details() -> None:
    f = one(tp(spec=replace(SPEC, servername="other.example.com")))
    assert (f.severity, f.cause) == ("warning", "certificate")
    assert "does not name other.example.com" in f.message
    assert f.evidence[0].values["hostname"] == "other.example.com"
    assert f.evidence[0].values["presented"] == "DNS:api.example.com"
    assert f.evidence[0].values["servername"] == "other.example.com"


def test_config_errors_and_unreadable_truststore() -> None:
    _, errors = parse_targets(["http://a/", 5])
    findings = check_targets(FACTS, {}, [tp(truststore=None, truststore_error="permission denied")], now=NOW,
                             errors=errors)
    assert [f.id for f in findings] == ["target-config-invalid"] * 3
    assert [f.message for f in findings[:2]] == errors  # config errors first; they name no target
    assert all(f.target is None and f.severity == "warning" for f in findings[:2])
    assert findings[0].evidence[0].values == {"error": errors[0]}
    unusable = findings[2]
    assert unusable.target == URL
    assert unusable.message == f"{URL}: truststore /trust/root.pem unusable: permission denied"


def test_several_targets_each_judged_alone() -> None:
    other = TargetSpec("https://old.example.com/", "old.example.com", 443, servername="api.example.com")
    findings = check_targets(FACTS, {}, [tp(), tp(TLS1_ONLY, other), tp(probe(handshakes=UNREACHABLE))], now=NOW)
    assert [(f.id, f.target) for f in findings] == [("target-protocol-mismatch", "https://old.example.com/"),
                                                     ("target-unreachable", URL)]


def test_default_now_is_today() -> None:
    assert check_targets(FACTS, {}, [tp()]) == []
    assert [f.id for f in check_targets(FACTS, {}, [tp(probe(certs=(EXPIRED, INTER)))])] == ["target-cert-expired"]


# -- Java semantics ----------------------------------------------------------------------------------

@pytest.mark.parametrize("certs", [(LEAF, INTER), (LEAF,)], ids=["chain sent", "leaf only"])
def test_intermediate_in_the_truststore_is_an_anchor(certs: tuple[Issued, ...]) -> None:
    assert check_targets(FACTS, {}, [tp(probe(certs=certs), truststore=(INTER.cert,))], now=NOW) == []


def test_leaf_only_probe_is_not_a_chain_incomplete_backend() -> None:
    result = probe()
    hs = tuple(replace(h, peer_chain=h.peer_chain[:1], chain_complete=False) for h in result.handshakes)
    leaf_only = replace(result, handshakes=hs, chain_with_sni=result.chain_with_sni[:1],
                        chain_without_sni=result.chain_without_sni[:1], negotiated=hs[-1])
    assert "target-cert-chain-incomplete" not in {f.id for f in check_targets(FACTS, {}, [tp(leaf_only)], now=NOW)}


def test_an_mp_without_sni_is_judged_on_the_default_certificate() -> None:
    """With SNI off the MP gets the backend's no-SNI certificate: that is the one the findings are about."""
    good, expired = chain(LEAF, INTER), chain(EXPIRED, INTER)
    result = replace(probe(), chain_with_sni=good, chain_without_sni=expired)
    assert check_targets(FACTS, {}, [tp(result)], now=NOW) == []
    off = replace(FACTS, sni_enabled=False)
    assert [f.id for f in check_targets(off, {}, [tp(result)], now=NOW)] == ["target-cert-expired"]


@pytest.mark.parametrize(("url", "shown"), [
    ("https://u:s3cret@pay.example.com:8443/v1?apikey=k#x", "https://pay.example.com:8443/v1"),
    ("https://pay.example.com/v1?token=abc", "https://pay.example.com/v1"),
])
def test_what_a_url_shows_never_holds_credentials(url: str, shown: str) -> None:
    (spec,), errors = parse_targets([url])
    assert errors == [] and spec.url == shown


def test_a_password_with_a_slash_is_refused_without_showing_it() -> None:
    specs, (error,) = parse_targets(["https://user:pa/ss@host.example.com/"])
    assert specs == [] and "pa" not in error.replace("https://host.example.com/", "")
    assert "percent-encoded" in error
