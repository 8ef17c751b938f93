"""Northbound certificate checks of routers (fixer.checks.router_certs), the facts they read (the router
script's certificate and key sections, run by a local sh) and the listener probe plan (fixer.facts.northbound).

Certificates are made here with cryptography (tests/unit/pki.py); nothing touches the network.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from fixer.checks.model import Finding
from fixer.checks.router import check_router
from fixer.checks.router_certs import check_router_certs, der_sha256, public_key_sha256
from fixer.facts.build import certificate_file, directive_lines, key_file, router_facts
from fixer.facts.gather import CERT_FILE_LIMIT, Section, new_boundary, router_script, split_sections
from fixer.facts.model import (
    CertificateFile,
    DirectiveLine,
    KeyFile,
    ListenerProbe,
    NginxServer,
    PropertiesFacts,
    RouterFacts,
)
from fixer.facts.northbound import (
    TrustAnchors,
    listener_fact,
    parse_listen,
    plan_listeners,
    probe_listeners,
    router_anchors,
)
from fixer.inventory.model import Host
from fixer.probe.model import CertSummary, Failure, HandshakeResult, ProbeResult, ProbeTarget
from tests.unit.pki import DAY, NOW, Issued, issue, pem

CONF = "/opt/nginx/conf.d/0-default.conf"
CRT = "/opt/nginx/ssl/server.crt"
KEY = "/opt/nginx/ssl/server.key"
SVC = "/opt/apigee/apigee-service/bin/apigee-service edge-router"

ROOT = issue("Router Root CA", None, ca=True, not_after=NOW + 3650 * DAY)
INTER = issue("Router Intermediate CA", ROOT, ca=True, not_after=NOW + 1825 * DAY)
GOOD = issue("api.example.com", INTER, sans=["api.example.com", "www.example.com"])
WILD = issue("*.example.com", INTER, sans=["*.example.com"])
EXPIRED = issue("api.example.com", INTER, sans=["api.example.com"], not_before=NOW - 400 * DAY,
                not_after=NOW - 2 * DAY)
EXPIRING = issue("api.example.com", INTER, sans=["api.example.com"], not_after=NOW + 10 * DAY)
SELF = issue("api.example.com", None, sans=["api.example.com"])
FROM_ROOT = issue("api.example.com", ROOT, sans=["api.example.com"])
CN_ONLY = issue("api.example.com", INTER)


def key_digest(leaf: Issued) -> str:
    spki = leaf.key.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def server(names: tuple[str, ...] = ("api.example.com",), listen: tuple[str, ...] = ("443 ssl",),
           line: int = 1, crt: str = CRT, key: str = KEY) -> NginxServer:
    return NginxServer(CONF, line, listen, names, True, ("TLSv1.2", "TLSv1.3"), 5, "server", "HIGH", 6, "server",
                       crt, key, (), "node")


def lines_of(*servers: NginxServer) -> tuple[DirectiveLine, ...]:
    """Each block's ssl_certificate 3 lines and its ssl_certificate_key 4 lines below its `server`."""
    return tuple(DirectiveLine(s.file, s.line, name, s.line + offset) for s in servers
                 for name, offset in (("ssl_certificate", 3), ("ssl_certificate_key", 4)))


def facts(chain: tuple[Issued, ...] = (GOOD, INTER), key: Issued | None = None, *servers: NginxServer,
          cert_error: str | None = None, key_error: str | None = None,
          listeners: tuple[ListenerProbe, ...] = ()) -> RouterFacts:
    cert = CertificateFile(CRT, None if cert_error else pem(*(c.cert for c in chain)).decode(), cert_error)
    digest = None if key_error else key_digest(key or chain[0])
    blocks = servers or (server(),)
    return RouterFacts(PropertiesFacts("/opt/apigee/customer/application/router.properties", True), (),
                       "/opt/nginx/conf.d", (CONF,), blocks, "1.22.1", directive_lines=lines_of(*blocks),
                       certificates=(cert,), keys=(KeyFile(KEY, digest, key_error),), listeners=listeners)


def ids(found: list[Finding]) -> list[str]:
    return sorted(f.id for f in found)


def run(f: RouterFacts, anchors: TrustAnchors | None = None, **host_vars: object) -> list[Finding]:
    return check_router_certs(f, host_vars, SVC, anchors)


ANCHORS = TrustAnchors("/etc/fixer/router-ca.pem", (ROOT.cert,))

# -- the pure checks, as a table ----------------------------------------------------------------------------

CASES: list[tuple[str, RouterFacts, TrustAnchors | None, dict[str, object], list[str]]] = [
    ("healthy: leaf + intermediate, root left out", facts(), None, {}, []),
    ("healthy with the anchor", facts(), ANCHORS, {}, []),
    ("leaf and whole chain incl. root", facts((GOOD, INTER, ROOT)), ANCHORS, {}, []),
    ("self-signed leaf is complete", facts((SELF,)), None, {}, []),
    ("leaf straight from an anchored root", facts((FROM_ROOT,)), ANCHORS, {}, []),
    ("expired", facts((EXPIRED, INTER)), None, {}, ["router-cert-expired"]),
    ("expiring within 30 days", facts((EXPIRING, INTER)), None, {}, ["router-cert-expiring"]),
    ("expiring, but fixer_cert_warn_days 5", facts((EXPIRING, INTER)), None, {"fixer_cert_warn_days": 5}, []),
    ("expiring, fixer_cert_warn_days as a string", facts((EXPIRING, INTER)), None,
     {"fixer_cert_warn_days": "7"}, []),
    ("intermediate missing", facts((GOOD,)), None, {}, ["router-cert-chain-incomplete"]),
    ("intermediate missing, anchored", facts((GOOD,)), ANCHORS, {}, ["router-cert-chain-incomplete"]),
    ("leaf from a root without the anchor: cannot tell", facts((FROM_ROOT,)), None, {},
     ["router-cert-chain-incomplete"]),
    ("key of another certificate", facts(key=WILD), None, {}, ["router-cert-key-mismatch"]),
    ("name not in the SAN", facts((GOOD, INTER), None, server(("api.example.com", "other.example.org"))), None, {},
     ["router-cert-name-mismatch"]),
    ("wildcard covers one label", facts((WILD, INTER), None, server(("a.example.com", "b.example.com"))),
     None, {}, []),
    ("wildcard does not cover two labels", facts((WILD, INTER), None, server(("a.b.example.com",))), None, {},
     ["router-cert-name-mismatch"]),
    ("wildcard does not cover the bare domain", facts((WILD, INTER), None, server(("example.com",))), None, {},
     ["router-cert-name-mismatch"]),
    ("server_name wildcard covered by a wildcard", facts((WILD, INTER), None, server(("*.example.com",))),
     None, {}, []),
    ("server_name wildcard not covered by a single name", facts((GOOD, INTER), None, server(("*.example.com",))),
     None, {}, ["router-cert-name-mismatch"]),
    ("catch-all, empty, regex and default names are skipped",
     facts((GOOD, INTER), None, server(("_", "", "~^api\\d+\\.example\\.net$", "default"))), None, {}, []),
    ("CN only: RFC 6125 falls back to the CN", facts((CN_ONLY, INTER)), None, {}, []),
    ("unreadable certificate", facts(cert_error="missing"), None, {}, ["router-cert-unreadable"]),
    ("unreadable key", facts(key_error="permission denied"), None, {}, ["router-cert-unreadable"]),
    ("inline key is not an error", facts(key_error="an inline key (data:) in the configuration: not checked"),
     None, {}, []),
    ("everything at once", facts((EXPIRED,), WILD, server(("nope.example.org",))), ANCHORS, {},
     ["router-cert-chain-incomplete", "router-cert-expired", "router-cert-key-mismatch",
      "router-cert-name-mismatch"]),
]


@pytest.mark.parametrize(("label", "f", "anchors", "host_vars", "expected"), CASES, ids=[c[0] for c in CASES])
def test_router_cert_checks(label: str, f: RouterFacts, anchors: TrustAnchors | None,
                            host_vars: dict[str, object], expected: list[str]) -> None:
    assert ids(check_router_certs(f, host_vars, SVC, anchors)) == expected


def test_every_finding_is_well_formed() -> None:
    everything = facts((EXPIRED,), WILD, server(("nope.example.org",)))
    for finding in run(everything, ANCHORS):
        assert finding.cause == "certificate"
        assert finding.remediation and finding.message
        for ev in finding.evidence:
            assert all(isinstance(v, str) for v in ev.values.values())
        assert "PRIVATE" not in repr(finding)


def test_expired_evidence_names_the_directive_and_the_certificate() -> None:
    (finding,) = run(facts((EXPIRED, INTER)))
    assert finding.severity == "error"
    (ev,) = finding.evidence
    assert (ev.file, ev.line) == (CONF, 4)  # the ssl_certificate directive's line
    assert ev.values["ssl_certificate"] == CRT
    assert ev.values["subject"] == "CN=api.example.com,O=fixer test"
    assert ev.values["notAfter"] == (NOW - 2 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ev.values["sha256"] == der_sha256(EXPIRED.cert)


def test_expired_intermediate_is_an_expired_certificate_too() -> None:
    old_inter = issue("Old Intermediate", ROOT, ca=True, not_before=NOW - 800 * DAY, not_after=NOW - DAY)
    leaf = issue("api.example.com", old_inter, sans=["api.example.com"])
    (finding,) = run(facts((leaf, old_inter)))
    assert finding.id == "router-cert-expired" and "intermediate" in finding.message


def test_expiring_counts_days_left() -> None:
    (finding,) = run(facts((EXPIRING, INTER)), fixer_cert_warn_days=30)
    assert finding.severity == "warning"
    assert finding.evidence[0].values["days_left"] in ("9", "10")
    later = NOW + 25 * DAY  # `now` is a parameter: at that moment it has expired
    assert ids(check_router_certs(facts((EXPIRING, INTER)), {}, SVC, None, now=later)) == ["router-cert-expired"]


def test_chain_incomplete_names_the_missing_issuer_and_severity_follows_the_anchor() -> None:
    (loose,) = run(facts((GOOD,)))
    assert loose.severity == "warning" and "fixer_router_cafile" in loose.message
    assert loose.evidence[0].values["missing_issuer"] == "CN=Router Intermediate CA,O=fixer test"
    (anchored,) = run(facts((GOOD,)), ANCHORS)
    assert anchored.severity == "error"
    assert anchored.evidence[0].values["fixer_router_cafile"] == ANCHORS.path


def test_anchor_of_another_pki_still_sees_the_missing_intermediate() -> None:
    other_root = issue("Other Root", None, ca=True)
    (finding,) = run(facts((GOOD,)), TrustAnchors("/x.pem", (other_root.cert,)))
    assert finding.id == "router-cert-chain-incomplete"


def test_unusable_cafile_is_reported_and_chains_are_judged_without_it() -> None:
    broken = TrustAnchors("/nope.pem", (), "cannot read: No such file or directory")
    assert ids(run(facts(), broken)) == ["router-cert-unreadable"]


def test_key_mismatch_evidence_has_digests_never_key_material() -> None:
    (finding,) = run(facts(key=WILD))
    cert_ev, key_ev = finding.evidence
    assert cert_ev.values["certificate_public_key_sha256"] == public_key_sha256(GOOD.cert) == key_digest(GOOD)
    assert key_ev.values == {"ssl_certificate_key": KEY, "key_public_key_sha256": key_digest(WILD)}
    assert key_ev.line == 5


def test_name_mismatch_lists_only_uncovered_names() -> None:
    (finding,) = run(facts((GOOD, INTER), None, server(("api.example.com", "shop.example.org", "_"))))
    assert finding.evidence[0].values["not_covered"] == "shop.example.org"
    assert "DNS:api.example.com" in finding.evidence[1].values["names"]


def test_servers_sharing_a_certificate_give_one_finding_with_both_directives() -> None:
    f = facts((EXPIRED, INTER), None, server(line=1), server(("www.example.com",), ("8443 ssl",), line=20))
    (finding,) = [x for x in run(f) if x.id == "router-cert-expired"]
    assert [(e.file, e.line) for e in finding.evidence] == [(CONF, 4), (CONF, 23)]


def test_facts_without_certificate_data_give_no_certificate_findings() -> None:
    bare = replace(facts(), certificates=(), keys=())
    assert run(bare) == []


def test_plain_servers_are_ignored() -> None:
    plain = replace(server(), ssl=False)
    assert run(facts((EXPIRED,), WILD, plain)) == []


def test_check_router_runs_the_certificate_checks() -> None:
    found = check_router(facts((EXPIRED, INTER)), {}, {}, ANCHORS)
    assert "router-cert-expired" in ids(found)


# -- listener probe findings --------------------------------------------------------------------------------

def probe_fact(status: str = "ok", served: Issued | None = GOOD, compare: bool = True) -> ListenerProbe:
    return ListenerProbe(CONF, 1, "443 ssl", "10.0.0.5", 443, "api.example.com", status,
                         note="TLSv1.2: refused: [Errno 111] Connection refused" if status == "unreachable" else "",
                         protocols=("TLSv1.2", "TLSv1.3") if status == "ok" else (),
                         served_sha256=der_sha256(served.cert) if served and status == "ok" else None,
                         served_subject="CN=old" if status == "ok" else None, compare=compare)


def test_served_certificate_equal_to_the_file_is_fine() -> None:
    assert run(facts(listeners=(probe_fact(),))) == []


def test_served_certificate_differs_from_the_file() -> None:
    (finding,) = run(facts(listeners=(probe_fact(served=SELF),)))
    assert finding.id == "router-served-cert-differs" and finding.severity == "warning"
    file_ev, served_ev = finding.evidence
    assert file_ev.values["sha256"] == der_sha256(GOOD.cert)
    assert served_ev.values["served_sha256"] == der_sha256(SELF.cert)
    assert served_ev.values["accepted_protocols"] == "TLSv1.2 TLSv1.3"
    assert "reload" in finding.message


def test_served_certificate_of_another_block_is_not_compared() -> None:
    assert run(facts(listeners=(probe_fact(served=SELF, compare=False),))) == []


def test_unreachable_listener() -> None:
    (finding,) = run(facts(listeners=(probe_fact("unreachable"),)))
    assert finding.id == "router-listener-unreachable" and finding.severity == "warning"
    assert finding.evidence[0].values["probed"] == "10.0.0.5:443"
    assert "fixer_probe_listeners" in finding.remediation


def test_a_listener_that_answers_with_alerts_is_not_unreachable() -> None:
    assert run(facts(listeners=(probe_fact("no-handshake"),))) == []


# -- listener planning and probe results (fixer.facts.northbound) ----------------------------------------------

ROUTER_HOST = Host("rt1", ("routers",), {"ansible_host": "10.0.0.5"})


@pytest.mark.parametrize(("listen", "expected"), [
    ("443 ssl", ("", 443)),
    ("10.1.2.3:8443 ssl default_server", ("10.1.2.3", 8443)),
    ("*:443 ssl", ("*", 443)),
    ("[::]:443 ssl", ("::", 443)),
    ("[::1] ssl", ("::1", 80)),
    ("api.example.com:9443 ssl", ("api.example.com", 9443)),
    ("127.0.0.1", ("127.0.0.1", 80)),
    ("unix:/run/nginx.sock ssl", None),
    ("host:notaport", None),
])
def test_parse_listen(listen: str, expected: tuple[str, int] | None) -> None:
    assert parse_listen(listen) == expected


def test_plan_uses_ansible_host_skips_loopback_and_plain_listens() -> None:
    blocks = (
        server(("api.example.com",), ("443 ssl", "80", "[::]:443 ssl", "443 quic")),
        server(("_",), ("127.0.0.1:8443 ssl",), line=20),
        replace(server(("old.example.com",), ("9443",), line=40), ssl=True),  # `ssl on`: every listen
    )
    plan = plan_listeners(ROUTER_HOST, facts((GOOD, INTER), None, *blocks))
    got = [(t.address, t.port, t.servername, t.skip is None) for t in plan]
    assert got == [("10.0.0.5", 443, "api.example.com", True), ("10.0.0.5", 443, "api.example.com", True),
                   ("127.0.0.1", 8443, None, False), ("10.0.0.5", 9443, "old.example.com", True)]


def test_plan_compares_without_sni_only_on_the_default_server() -> None:
    first = server(("_",), ("443 ssl",), line=1)
    second = server(("",), ("443 ssl",), line=20)
    plan = plan_listeners(ROUTER_HOST, facts((GOOD, INTER), None, first, second))
    assert [t.compare for t in plan] == [True, False]
    flagged = server(("",), ("443 ssl default_server",), line=20)
    plan = plan_listeners(ROUTER_HOST, facts((GOOD, INTER), None, first, flagged))
    assert [t.compare for t in plan] == [False, True]


def _result(target: ProbeTarget, ok: bool, failure: Failure | None = None) -> ProbeResult:
    leaf = CertSummary.from_der(GOOD.cert.public_bytes(serialization.Encoding.DER))
    hs = [HandshakeResult(p, True, ok and p in ("TLSv1.2", "TLSv1.3"), negotiated_protocol=p if ok else None,
                          peer_chain=(leaf,) if ok else (), failure=None if ok else failure)
          for p in ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")]
    best = hs[3] if ok else None
    return ProbeResult(target, {h.protocol_offered: h.ok for h in hs}, None, None, (), (), best, tuple(hs))


def test_probe_listeners_fills_facts_and_can_be_disabled() -> None:
    seen: list[tuple[ProbeTarget, float]] = []

    def prober(target: ProbeTarget, timeout: float) -> ProbeResult:
        seen.append((target, timeout))
        return _result(target, True)

    f = facts((GOOD, INTER), None, server(("api.example.com",), ("443 ssl", "[::]:443 ssl")))
    probed = probe_listeners(ROUTER_HOST, f, prober)
    assert seen == [(ProbeTarget("10.0.0.5", 443, "api.example.com"), 3.0)]  # one probe per distinct target
    assert probed.listeners_probed and len(probed.listeners) == 2
    fact = probed.listeners[0]
    assert fact.status == "ok" and fact.protocols == ("TLSv1.2", "TLSv1.3")
    assert fact.served_sha256 == der_sha256(GOOD.cert)
    assert run(probed) == []
    off = Host("rt1", ("routers",), {"ansible_host": "10.0.0.5", "fixer_probe_listeners": False})
    assert probe_listeners(off, f, prober).listeners == () and len(seen) == 1
    off_text = Host("rt1", ("routers",), {"ansible_host": "10.0.0.5", "fixer_probe_listeners": "false"})
    assert not probe_listeners(off_text, f, prober).listeners_probed


@pytest.mark.parametrize(("failure", "status"), [
    (Failure("refused", message="[Errno 111] Connection refused"), "unreachable"),
    (Failure("timeout", message="timed out"), "unreachable"),
    (Failure("error", message="OSError: [Errno 113] No route to host"), "unreachable"),
    (Failure("alert", alert="handshake_failure", message="sslv3 alert handshake failure"), "no-handshake"),
])
def test_failed_probes(failure: Failure, status: str) -> None:
    (target,) = plan_listeners(ROUTER_HOST, facts())
    fact = listener_fact(target, _result(ProbeTarget("10.0.0.5", 443), False, failure))
    assert fact.status == status and fact.note and fact.protocols == ()


def test_router_anchors(tmp_path: Path) -> None:
    assert router_anchors({}) is None
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pem(ROOT.cert))
    anchors = router_anchors({"fixer_router_cafile": str(ca)})
    assert anchors is not None and anchors.error is None and anchors.certificates == (ROOT.cert,)
    missing = router_anchors({"fixer_router_cafile": str(tmp_path / "none.pem")})
    assert missing is not None and missing.error and not missing.certificates


# -- facts: the router script's sections, and the script itself run by a local sh --------------------------

def test_certificate_and_key_sections() -> None:
    body = f"size 1234\n{pem(GOOD.cert).decode()}"
    assert certificate_file(CRT, Section("cert.file", CRT, body, 0)) == CertificateFile(
        CRT, pem(GOOD.cert).decode(), None, 1234)
    assert certificate_file(CRT, Section("cert.file", CRT, "No such file or directory\n", 1)).error == "missing"
    big = certificate_file(CRT, Section("cert.file", CRT, "size 999999\ntoo large\n", 3))
    assert big.pem is None and big.size == 999999 and str(CERT_FILE_LIMIT) in (big.error or "")
    assert certificate_file(CRT, Section("cert.file", CRT, "size 3\n", 0)).error == \
        "no PEM CERTIFICATE block in the file"
    assert certificate_file("/ssl/$ssl_server_name.crt", None).error == "the path uses nginx variables: not read"
    digest = "ab" * 32
    assert key_file(KEY, Section("key.digest", KEY, digest + "\n", 0)) == KeyFile(KEY, digest)
    assert key_file(KEY, Section("key.digest", KEY, "No such file or directory\n", 1)).error == "missing"
    odd = key_file(KEY, Section("key.digest", KEY, "Could not read key from x\n", 1))
    assert odd.public_key_sha256 is None and "openssl" in (odd.error or "")


def test_directive_lines() -> None:
    text = ("# ssl_certificate /commented;\n"
            "ssl_certificate /top.crt;\n"
            "server {\n"
            "  listen 443 ssl; server_name a;\n"
            "  add_header X-Brace \"{\";\n"
            "  location / { ssl_certificate /not/a/server/level; }\n"
            "  ssl_certificate \"/with space.crt\";\n"
            "  ssl_certificate_key\n    /k.pem;\n"
            "}\n"
            "server { listen 8443 ssl; }\n")
    assert directive_lines(text) == {(None, "ssl_certificate"): 2, (3, "ssl_certificate"): 7,
                                     (3, "ssl_certificate_key"): 8}


def _sh(script: str) -> str:
    return subprocess.run(["sh", "-s"], input=script, capture_output=True, text=True, check=True,
                          timeout=60).stdout


def _key_pem(leaf: Issued) -> str:
    return leaf.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode()


def test_router_script_reads_certificates_and_only_a_digest_of_keys(tmp_path: Path) -> None:
    conf_d = tmp_path / "conf.d; $(touch pwned)"  # reaches the script through shlex.quote
    prefix = tmp_path / "it's the prefix"  # relative ssl_certificate paths are read against it
    ssl = prefix / "ssl"
    conf_d.mkdir(parents=True)
    ssl.mkdir(parents=True)
    combined = ssl / "combined.pem"  # certificate and private key in one file, a common setup
    combined.write_text(pem(GOOD.cert, INTER.cert).decode() + _key_pem(GOOD))
    (ssl / "other.key").write_text(_key_pem(WILD))
    (ssl / "huge.crt").write_text("x" * (CERT_FILE_LIMIT + 1))
    (conf_d / "0-default.conf").write_text(
        "server {\n  listen 443 ssl;\n  server_name api.example.com;\n"
        f'  ssl_certificate "{combined}";\n  ssl_certificate_key "{combined}";\n}}\n'
        "server { listen 8443 ssl; ssl_certificate ssl/combined.pem; ssl_certificate_key 'ssl/other.key'; }\n"
        "server { listen 9443 ssl; ssl_certificate /nonexistent.crt; ssl_certificate_key /nonexistent.key; }\n"
        f"server {{ listen 9444 ssl; ssl_certificate \"{ssl / 'huge.crt'}\"; ssl_certificate_key $x.key; }}\n"
    )
    host = Host("rt1", ("routers",), {"nginx_conf_dir": str(conf_d), "nginx_main_conf": str(prefix / "nginx.conf"),
                                      "apigee_root": str(tmp_path / "apigee")})
    boundary = new_boundary()
    output = _sh(router_script(host, boundary, "HIGH"))
    assert "PRIVATE KEY" not in output
    assert not (Path.cwd() / "pwned").exists() and not (tmp_path / "pwned").exists()
    sections = split_sections(output, boundary)
    got = router_facts(host, sections, lambda c: ())
    certs = {c.path: c for c in got.certificates}
    keys = {k.path: k for k in got.keys}
    assert certs[str(combined)].pem == pem(GOOD.cert, INTER.cert).decode()
    assert certs[str(combined)].size == combined.stat().st_size
    assert certs["ssl/combined.pem"].pem == certs[str(combined)].pem  # relative to the conf prefix
    assert certs["/nonexistent.crt"].error == "missing"
    assert certs[str(ssl / "huge.crt")].pem is None and "larger than" in (certs[str(ssl / "huge.crt")].error or "")
    assert keys[str(combined)].public_key_sha256 == key_digest(GOOD)
    assert keys["ssl/other.key"].public_key_sha256 == key_digest(WILD)
    assert keys["/nonexistent.key"].error == "missing"
    assert keys["$x.key"].error == "the path uses nginx variables: not read"
    assert [(d.server_line, d.line) for d in got.directive_lines if d.directive == "ssl_certificate"] == [
        (1, 4), (7, 7), (8, 8), (9, 9)]
    found = ids(check_router_certs(got, {}, SVC, TrustAnchors("ca", (ROOT.cert,)), now=NOW))
    # the missing and the oversized certificate; their keys are not judged on top of that
    assert found == ["router-cert-key-mismatch", "router-cert-unreadable", "router-cert-unreadable"]


def test_inline_private_key_never_reaches_the_facts() -> None:
    conf = (f"server {{ listen 443 ssl; ssl_certificate {CRT};\n"
            f"  ssl_certificate_key 'data:{_key_pem(GOOD)}'; }}\n")
    got = router_facts(Host("rt1", ("routers",), {}), [Section("conf.file", CONF, conf, 0)], lambda c: ())
    assert "PRIVATE" not in repr(got)
    assert got.servers[0].ssl_certificate_key == "data:(inline private key, not shown)"
    assert got.keys[0].public_key_sha256 is None


def test_expiry_is_judged_at_the_given_time() -> None:
    assert ids(check_router_certs(facts(), {}, SVC, None, now=NOW + 400 * DAY)) == ["router-cert-expired"]
    both = check_router_certs(facts(), {}, SVC, None, now=NOW + 2000 * DAY)  # the intermediate too
    assert [f.evidence[0].values["subject"] for f in both] == [
        "CN=api.example.com,O=fixer test", "CN=Router Intermediate CA,O=fixer test"]
    assert isinstance(NOW, dt.datetime)


def test_a_silent_port_is_probed_once_whatever_its_names() -> None:
    seen: list[ProbeTarget] = []
    refused = Failure("refused", message="[Errno 111] Connection refused")

    def prober(target: ProbeTarget, timeout: float) -> ProbeResult:
        seen.append(target)
        return _result(target, target.port == 8443, refused)

    blocks = (server(("a.example.com",), ("443 ssl",)), server(("b.example.com",), ("443 ssl",), line=20),
              server(("c.example.com",), ("8443 ssl",), line=40), server(("d.example.com",), ("8443 ssl",), line=60))
    probed = probe_listeners(ROUTER_HOST, facts((WILD, INTER), None, *blocks), prober)
    assert sorted((t.port, t.servername) for t in seen) == [(443, "a.example.com"), (8443, "c.example.com"),
                                                            (8443, "d.example.com")]
    assert [x.status for x in probed.listeners] == ["unreachable", "unreachable", "ok", "ok"]
    unreachable = [f for f in run(probed) if f.id == "router-listener-unreachable"]
    assert [f.evidence[0].values["sni"] for f in unreachable] == ["a.example.com", "b.example.com"]


def test_at_most_sixteen_targets_are_probed() -> None:
    blocks = tuple(server((f"n{i}.example.com",), ("443 ssl",), line=10 * i + 1) for i in range(20))
    probed = probe_listeners(ROUTER_HOST, facts((WILD, INTER), None, *blocks),
                             lambda target, timeout: _result(target, True))
    statuses = [x.status for x in probed.listeners]
    assert statuses.count("ok") == 16 and statuses.count("skipped") == 4


def test_a_partly_answering_listener_is_reachable() -> None:
    (target,) = plan_listeners(ROUTER_HOST, facts())
    ok = _result(ProbeTarget("10.0.0.5", 443), True)
    timed_out = tuple(h if h.ok else replace(h, failure=Failure("timeout", message="timed out"))
                      for h in ok.handshakes)
    assert listener_fact(target, replace(ok, handshakes=timed_out)).status == "ok"


def test_complete_file_whose_root_the_cafile_lacks() -> None:
    other_root = issue("Other Root", None, ca=True)
    (finding,) = run(facts((GOOD, INTER)), TrustAnchors("/x.pem", (other_root.cert,)))
    assert finding.id == "router-cert-chain-incomplete" and finding.severity == "error"
    assert finding.evidence[0].values["missing_issuer"] == "CN=Router Root CA,O=fixer test"
    assert "missing from fixer_router_cafile" in finding.message


def test_naive_now_is_utc() -> None:
    naive = (NOW + 400 * DAY).replace(tzinfo=None)
    assert ids(check_router_certs(facts(), {}, SVC, None, now=naive)) == ["router-cert-expired"]


def test_a_private_key_inside_a_certificate_block_never_leaves_the_node(tmp_path: Path) -> None:
    """A truncated certificate block (no END line) followed by the key: the node filters the key out."""
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    broken = tmp_path / "broken.pem"
    cert_lines = pem(GOOD.cert).decode().splitlines()
    broken.write_text("\n".join(cert_lines[:-1]) + "\n" + _key_pem(GOOD) + _key_pem(WILD).replace(
        "PRIVATE KEY", "EC PRIVATE KEY"))
    (conf_d / "a.conf").write_text(f"server {{ listen 443 ssl; ssl_certificate {broken}; "
                                   f"ssl_certificate_key {broken}; }}\n")
    host = Host("rt1", ("routers",), {"nginx_conf_dir": str(conf_d), "apigee_root": str(tmp_path)})
    boundary = new_boundary()
    output = _sh(router_script(host, boundary, "HIGH"))
    assert "PRIVATE" not in output
    for line in _key_pem(GOOD).splitlines()[1:-1]:
        assert line not in output
    got = router_facts(host, split_sections(output, boundary), lambda c: ())
    assert got.keys[0].public_key_sha256 == key_digest(GOOD)


def test_private_key_text_among_certificates_is_dropped_on_the_controller() -> None:
    body = "size 10\n-----BEGIN CERTIFICATE-----\nMIIB\n-----BEGIN PRIVATE KEY-----\nMIIE\n"
    dropped = certificate_file(CRT, Section("cert.file", CRT, body, 0))
    assert dropped.pem is None and "not kept" in (dropped.error or "")
    conf = f"server {{ listen 443 ssl; ssl_certificate 'data:{pem(GOOD.cert).decode()}{_key_pem(GOOD)}'; }}\n"
    got = router_facts(Host("rt1", ("routers",), {}), [Section("conf.file", CONF, conf, 0)], lambda c: ())
    assert "PRIVATE" not in repr(got)
    assert got.certificates[0].pem is None
