"""Southbound findings per backend (fixer.report.targets) and how the JSON, text and HTML reports show them."""

from __future__ import annotations

import copy
from typing import Any

import lxml.html  # type: ignore[import-untyped, unused-ignore]
import pytest

from fixer.bundles.parse import parse_target_endpoint
from fixer.checks.model import Evidence, Finding
from fixer.checks.southbound import TargetProbe, TargetSpec, check_targets, endpoint_targets
from fixer.probe.model import PROTOCOLS, Failure, HandshakeResult, ProbeResult, ProbeTarget
from fixer.report.html import render_html
from fixer.report.json_report import ReportSchemaError, run_to_dict, validate_report
from fixer.report.targets import TargetGroup, TargetIssue, group_targets
from fixer.report.text import render_text
from fixer.result import CheckRun, HostResult
from tests.unit.sample_run import healthy_mp, make_run, mp_facts, sample_run, sni_finding

PAY = "https://pay.example.com/v1"
LEGACY = "https://legacy.example.com:8443/"
BUNDLE_XML = b"""<TargetEndpoint name="legacy">
    <HTTPTargetConnection>
        <SSLInfo>
            <Enabled>true</Enabled>
        </SSLInfo>
        <URL>https://legacy.example.com:8443/</URL>
    </HTTPTargetConnection>
</TargetEndpoint>
"""


def finding(fid: str, url: str, severity: str = "error", cause: str = "protocol", text: str = "broken") -> Finding:
    return Finding(fid, severity, cause, f"{url}: {text}", (Evidence(None, None, {"target": url}),), "fix it",
                   target=url)


def mp_host(name: str, *findings: Finding) -> HostResult:
    return HostResult(name, f"10.0.1.{len(name)}", "message_processor", "findings" if findings else "ok",
                      facts=mp_facts(sni=True), findings=findings, duration_s=1.0)


# -- group_targets ------------------------------------------------------------------------------------

def test_group_targets_order_hosts_and_messages() -> None:
    run = make_run(
        mp_host("mp1", finding("target-sni-required", PAY, "info", "sni", "sni on mp1"), sni_finding(),
                finding("target-protocol-mismatch", LEGACY, text="TLSv1 only")),
        mp_host("mp0"),  # no finding: never listed
        mp_host("mp2", finding("target-protocol-mismatch", LEGACY, text="TLSv1 only (mp2)"),
                finding("target-sni-required", PAY, "error", "sni", "sni off on mp2"),
                finding("target-cert-expiring", PAY, "warning", "certificate", "leaf"),
                finding("target-cert-expiring", PAY, "warning", "certificate", "intermediate")),
        mp_host("mp3", finding("target-cert-expired", PAY, "error", "certificate", "expired")),
    )
    groups = group_targets(run)
    assert [g.url for g in groups] == [PAY, LEGACY]  # in the order first seen
    pay, legacy = groups
    assert pay.hosts == ("mp1", "mp2", "mp3")
    assert [(i.id, i.severity, i.hosts) for i in pay.issues] == [
        ("target-cert-expired", "error", ("mp3",)),  # errors first, then by id
        ("target-sni-required", "error", ("mp2",)),
        ("target-cert-expiring", "warning", ("mp2",)),  # two findings of one host: one issue, the host once
        ("target-sni-required", "info", ("mp1",)),  # same id, other severity: its own row
    ]
    assert [i.message for i in pay.issues] == ["expired", "sni off on mp2", "leaf", "sni on mp1"]
    assert [i.cause for i in pay.issues] == ["certificate", "sni", "certificate", "sni"]
    assert pay.worst == "error"
    assert legacy == TargetGroup(LEGACY, (TargetIssue("target-protocol-mismatch", "error", "protocol", "TLSv1 only",
                                                      ("mp1", "mp2")),), ("mp1", "mp2"))


def test_group_hosts_follow_the_run_order() -> None:
    run = make_run(mp_host("b", finding("target-cert-expiring", PAY, "warning", "certificate")),
                   mp_host("a", finding("target-sni-required", PAY, "info", "sni"),
                           finding("target-cert-expiring", PAY, "warning", "certificate")))
    (group,) = group_targets(run)
    assert group.hosts == ("b", "a")
    assert [i.hosts for i in group.issues] == [("b", "a"), ("a",)]
    assert group.worst == "warning"


def test_no_target_findings_no_groups() -> None:
    assert group_targets(sample_run()) == []
    assert group_targets(make_run()) == []
    untargeted = Finding("target-config-invalid", "warning", "config", "fixer_targets[0]: needs a url", (), "fix")
    assert group_targets(make_run(mp_host("mp1", untargeted))) == []


@pytest.mark.parametrize(("severities", "worst"), [((), "info"), (("info",), "info"), (("info", "warning"), "warning"),
                                                   (("warning", "error", "info"), "error")])
def test_worst(severities: tuple[str, ...], worst: str) -> None:
    issues = tuple(TargetIssue(f"id-{n}", s, "config", "m", ("mp1",)) for n, s in enumerate(severities))
    assert TargetGroup(PAY, issues, ("mp1",)).worst == worst


def test_message_keeps_a_prefix_that_is_not_the_url() -> None:
    odd = Finding("target-unreachable", "error", "config", "no connection", (), "r", target=PAY)
    (group,) = group_targets(make_run(mp_host("mp1", odd)))
    assert group.issues[0].message == "no connection"


# -- from real southbound findings --------------------------------------------------------------------

def _probe(accepted: tuple[str, ...], sni_required: bool | None = False) -> ProbeResult:
    hs = tuple(HandshakeResult(p, True, p in accepted, p if p in accepted else None,
                               failure=None if p in accepted else Failure("alert", "protocol_version"))
               for p in PROTOCOLS)
    ok = [h for h in hs if h.ok]
    return ProbeResult(ProbeTarget("x", 443), {p: p in accepted for p in PROTOCOLS}, sni_required, None, (), (),
                       ok[-1] if ok else None, hs, via="tunnel")


def southbound_findings(sni: bool) -> tuple[Finding, ...]:
    """What check_targets says of three backends: TLSv1 only (fixer_targets and a bundle), SNI needed, down."""
    facts = mp_facts(sni=sni)
    ep = parse_target_endpoint(BUNDLE_XML, "/srv/b/apiproxy/targets/legacy.xml", bundle="/srv/b")
    (bundle,), _ = endpoint_targets([(ep, BUNDLE_XML)])
    refused = HandshakeResult("TLSv1.2", True, False, failure=Failure("refused", message="Connection refused"))
    probes = [
        TargetProbe(TargetSpec(LEGACY, "legacy.example.com", 8443), _probe(("TLSv1",))),
        TargetProbe(bundle, _probe(("TLSv1",))),
        TargetProbe(TargetSpec(PAY, "pay.example.com", 443), _probe(("TLSv1.2", "TLSv1.3"), sni_required=True)),
        TargetProbe(TargetSpec("https://down.example.com/", "down.example.com", 443),
                    ProbeResult(ProbeTarget("down.example.com"), {}, None, None, (), (), None, (refused,))),
    ]
    findings = check_targets(facts, {}, probes, errors=["fixer_targets[4]: needs a url"])
    return tuple(findings)


def southbound_run() -> CheckRun:
    mp1 = HostResult("mp1", "10.0.1.11", "message_processor", "findings", facts=mp_facts(sni=False),
                     findings=(sni_finding(), *southbound_findings(sni=False)), duration_s=1.0)
    mp2 = HostResult("mp2", "10.0.1.12", "message_processor", "findings", facts=mp_facts(sni=True),
                     findings=southbound_findings(sni=True), duration_s=1.0)
    return make_run(mp1, healthy_mp("mp9", "10.0.1.19"), mp2)


def test_real_findings_group_per_backend() -> None:
    groups = group_targets(southbound_run())
    assert [(g.url, g.hosts) for g in groups] == [(LEGACY, ("mp1", "mp2")), (PAY, ("mp1", "mp2")),
                                                  ("https://down.example.com/", ("mp1", "mp2"))]
    legacy, pay, down = groups
    # the fixer_targets entry and the bundle TargetEndpoint are one backend
    assert [(i.id, i.hosts) for i in legacy.issues] == [("target-protocol-mismatch", ("mp1", "mp2"))]
    assert legacy.issues[0].message.startswith("the backend accepts only TLSv1; this MP offers TLSv1.2, TLSv1.3")
    assert [(i.id, i.severity, i.hosts) for i in pay.issues] == [("target-sni-required", "error", ("mp1",)),
                                                                 ("target-sni-required", "info", ("mp2",))]
    assert [(i.id, i.cause) for i in down.issues] == [("target-unreachable", "config")]


# -- JSON -----------------------------------------------------------------------------------------------

def test_json_targets_and_schema() -> None:
    run = southbound_run()
    doc = run_to_dict(run)
    validate_report(doc)
    targets = doc["targets"]
    assert [t["url"] for t in targets] == [LEGACY, PAY, "https://down.example.com/"]
    assert targets[0] == {"url": LEGACY, "hosts": ["mp1", "mp2"], "issues": [
        {"id": "target-protocol-mismatch", "severity": "error", "cause": "protocol",
         "message": group_targets(run)[0].issues[0].message, "hosts": ["mp1", "mp2"]}]}
    assert [i["hosts"] for i in targets[1]["issues"]] == [["mp1"], ["mp2"]]
    mp1 = doc["hosts"][0]["findings"]
    assert mp1[0]["target"] is None  # mp-sni-disabled is no southbound finding
    assert {f["target"] for f in mp1[1:] if f["id"] != "target-config-invalid"} == {
        LEGACY, PAY, "https://down.example.com/"}
    patched = [f for f in mp1 if f["playbook"] == "target-protocols.yml"]
    assert len(patched) == 1 and "<Protocol>TLSv1</Protocol>" in patched[0]["diff"]
    assert doc["summary"]["findings_by_id"]["target-protocol-mismatch"] == 4


def test_json_without_target_findings_has_an_empty_list() -> None:
    doc = run_to_dict(sample_run())
    assert doc["targets"] == []
    validate_report(doc)


@pytest.mark.parametrize(("path", "value"), [
    (("issues", 0, "hosts"), []),
    (("issues", 0, "severity"), "fatal"),
    (("issues", 0, "id"), "Target Bad"),
    (("hosts",), "mp1"),
])
def test_schema_refuses_a_bad_target_group(path: tuple[Any, ...], value: Any) -> None:
    doc = run_to_dict(southbound_run())
    bad = copy.deepcopy(doc)
    node: Any = bad["targets"][0]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ReportSchemaError, match="targets/0"):
        validate_report(bad)


def test_schema_refuses_an_extra_key_in_a_target_group() -> None:
    doc = run_to_dict(southbound_run())
    doc["targets"][0]["worst"] = "error"
    with pytest.raises(ReportSchemaError):
        validate_report(doc)


# -- text -----------------------------------------------------------------------------------------------

def backends_table(text: str) -> list[str]:
    """The lines of the Backends table, header first (up to the blank line after it)."""
    section = text.split("Backends (probed from the message processors)\n", 1)[1]
    return section.split("\n\n", 1)[0].splitlines()


def test_text_backends_section() -> None:
    lines = backends_table(render_text(southbound_run(), color=False))
    urls = [line.strip() for line in lines if line.startswith("  https://")]
    assert urls == [LEGACY, PAY, "https://down.example.com/"]  # whole, one line each, in order first seen
    rows = [line.strip() for line in lines if line.startswith("    [")]
    assert [r.split()[:2] for r in rows] == [
        ["[ERROR]", "target-protocol-mismatch"], ["[ERROR]", "target-sni-required"], ["[INFO]", "target-sni-required"],
        ["[ERROR]", "target-unreachable"]]
    assert rows[0].endswith("seen from all 2 MPs") and rows[3].endswith("seen from all 2 MPs")
    assert rows[1].endswith("seen from mp1") and rows[2].endswith("seen from mp2")
    assert "mp9" not in "\n".join(lines)
    assert any("the backend accepts only" in line for line in lines)


def test_text_backends_section_names_a_single_mp() -> None:
    run = make_run(mp_host("mp1", finding("target-cert-expired", PAY, cause="certificate", text="gone")),
                   mp_host("mp2"))
    text = render_text(run, color=False)
    row = next(r for r in text.splitlines() if "target-cert-expired" in r and "seen from" in r)
    assert row.endswith("seen from mp1") and "all 2 MPs" not in row
    assert "gone" in text


def test_text_without_target_findings_has_no_backends_section() -> None:
    assert "Backends" not in render_text(sample_run(), color=False)


# -- HTML -----------------------------------------------------------------------------------------------

def _target_rows(page: str) -> list[Any]:
    tree: Any = lxml.html.document_fromstring(page)
    tables = tree.xpath("//table[contains(concat(' ', @class, ' '), ' targets ')]")
    assert len(tables) == 1
    return list(tables[0].xpath("./tbody/tr"))


def test_html_groups_one_target_seen_from_two_mps() -> None:
    run = make_run(mp_host("mp1", finding("target-protocol-mismatch", LEGACY, text="only TLSv1")),
                   mp_host("mp2", finding("target-protocol-mismatch", LEGACY, text="only TLSv1")))
    page = render_html(run)
    assert "<h2>Backends</h2>" in page
    (row,) = _target_rows(page)
    cells = row.xpath("./td")
    assert cells[0].text_content() == LEGACY and cells[0].get("rowspan") == "1"
    assert cells[1].text_content() == "target-protocol-mismatch"
    assert cells[3].text_content() == "only TLSv1"
    links = cells[4].xpath(".//a")
    assert [(a.text_content(), a.get("href")) for a in links] == [("mp1", "#host-1"), ("mp2", "#host-2")]
    assert "sev-error" in row.get("class")


def test_html_backends_of_real_findings() -> None:
    rows = _target_rows(render_html(southbound_run()))
    assert len(rows) == 4  # legacy 1, pay 2 (error, info), down 1
    url_cells = [r.xpath("./td[@rowspan]") for r in rows]
    assert [[c.text_content() for c in cells] for cells in url_cells] == [[LEGACY], [PAY], [], [
        "https://down.example.com/"]]
    assert url_cells[1][0].get("rowspan") == "2"
    assert [a.get("href") for a in rows[0].xpath("./td[5]//a")] == ["#host-1", "#host-3"]  # mp9 is host-2


def test_html_escapes_target_text() -> None:
    url = "https://evil.example.com/?a=<script>x</script>"
    page = render_html(make_run(mp_host("mp1", finding("target-unreachable", url, cause="config",
                                                       text="<b>down</b>"))))
    assert "<script>x</script>" not in page and "<b>down</b>" not in page
    (row,) = _target_rows(page)
    assert row.xpath("./td")[0].text_content() == url
    assert row.xpath("./td")[3].text_content() == "<b>down</b>"


def test_html_without_target_findings_has_no_backends_section() -> None:
    page = render_html(sample_run())
    assert "<h2>Backends</h2>" not in page
