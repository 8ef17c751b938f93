"""The HTML report: one self-contained, escaped page with every host, finding and key fact."""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path

import jinja2
import lxml.html  # type: ignore[import-untyped, unused-ignore]
import pytest

import fixer
from fixer.checks.model import Evidence, Finding
from fixer.errors import FixerError
from fixer.report import html as html_report
from fixer.report.html import TEMPLATE, environment, render_html, template_dir, template_dirs
from fixer.result import HostFailure, HostResult
from tests.unit.sample_run import (
    MP_CUSTOMER,
    MP_RESTART,
    SECRET_VALUE,
    SNI_DIFF,
    clean_run,
    make_run,
    sample_run,
)

EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(sample_run())


@pytest.fixture(scope="module")
def tree(page: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(page)


def _q(root: lxml.html.HtmlElement, selector: str) -> list[lxml.html.HtmlElement]:
    """A tiny CSS subset over XPath (cssselect is not a dependency): "tag.class tag, tag"."""
    found: list[lxml.html.HtmlElement] = []
    for alternative in selector.split(","):
        current = [root]
        for part in alternative.split():
            tag, _, cls = part.partition(".")
            predicate = f"[contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')]" if cls else ""
            current = [m for el in current for m in el.xpath(f".//{tag or '*'}{predicate}")]
        found += [el for el in current if el not in found]
    return found


def _text(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _card(tree: lxml.html.HtmlElement, name: str) -> lxml.html.HtmlElement:
    cards = [c for c in _q(tree, "article.card") if _text(_q(c, "h3")[0]) == name]
    assert len(cards) == 1, name
    return cards[0]


def test_parses_as_one_html_document(page: str, tree: lxml.html.HtmlElement) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert tree.tag == "html"
    assert tree.get("lang") == "en"
    assert len(_q(tree, "head style")) == 1
    assert tree.findtext(".//title") == "fixer TLS report: inventory/prod.yml"
    ids = [e.get("id") for e in tree.iter() if e.get("id")]
    assert len(ids) == len(set(ids))  # unique anchors


def test_no_external_references(page: str, tree: lxml.html.HtmlElement) -> None:
    for element in tree.iter():
        for attr in ("src", "href", "action", "data", "poster", "srcset", "formaction"):
            value = element.get(attr)
            if value is not None:
                assert value.startswith("#"), (element.tag, attr, value)
                assert not EXTERNAL.match(value)
    assert not _q(tree, "script, link, img, iframe, object, embed, base")
    assert "url(" not in page
    assert "@import" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.IGNORECASE)


def test_every_host_has_a_card_coloured_by_status(tree: lxml.html.HtmlElement) -> None:
    run = sample_run()
    for host in run.hosts:
        card = _card(tree, host.name)
        assert f"st-{host.status}" in card.get("class", "").split()
        text = _text(card)
        assert host.address in text
        assert host.status in text
        assert (host.role or "") in text
    assert len(_q(tree, "article.card")) == len(run.hosts)
    chips = [_text(a) for a in _q(tree, "nav.hostmap a")]
    assert chips == [f"{h.name} · {h.status}" for h in run.hosts]


def test_every_finding_with_severity_evidence_and_fix(tree: lxml.html.HtmlElement) -> None:
    for host in sample_run().hosts:
        card = _card(tree, host.name)
        sections = _q(card, "section.finding")
        assert len(sections) == len(host.findings)
        for section, finding in zip(sections, host.findings, strict=True):
            assert f"sev-{finding.severity}" in section.get("class", "").split()
            assert _text(_q(section, "h4 code")[0]) == finding.id
            assert _text(_q(section, "h4 .badge")[0]) == finding.severity
            assert _text(_q(section, "p.msg")[0]) == " ".join(finding.message.split())
            assert _text(_q(section, "p.fix")[0]) == "Fix: " + " ".join(finding.remediation.split())
            rows = _q(section, "table.evidence tbody tr")
            assert len(rows) == len(finding.evidence)
            for row, evidence in zip(rows, finding.evidence, strict=True):
                cells = [_text(td) for td in _q(row, "td")]
                assert cells[0] == (evidence.file or "—")
                assert cells[1] == (str(evidence.line) if evidence.line is not None else "—")
                for key, value in evidence.values.items():
                    assert f"{key} = {value}" in cells[2]


def test_overview_counts(tree: lxml.html.HtmlElement) -> None:
    tiles = {_text(_q(t, ".label")[0]): _text(_q(t, ".num")[0]) for t in _q(tree, ".tile")}
    assert tiles == {
        "hosts": "5", "ok": "1", "findings": "2", "unreachable": "1", "error": "1",
        "error findings": "2", "warning finding": "1", "info findings": "0",
    }
    rows = [[_text(td) for td in _q(tr, "td")] for tr in _q(tree, "table.ids tbody tr")]
    assert rows == [
        ["mp-sni-disabled", "error", "sni", "1", "mp2"],
        ["properties-owner", "error", "config", "1", "mp2"],
        ["router-weak-protocol", "warning", "protocol", "1", "r1"],
    ]
    verdict = _text(_q(tree, ".verdict")[0])
    assert verdict == "exit code 3: a host could not be inspected"


def test_links_point_at_existing_anchors(tree: lxml.html.HtmlElement) -> None:
    ids = {e.get("id") for e in tree.iter() if e.get("id")}
    hrefs = [a.get("href") for a in _q(tree, "a")]
    assert hrefs
    for href in hrefs:
        assert href[1:] in ids


def test_failures_show_category(tree: lxml.html.HtmlElement) -> None:
    assert _text(_q(_card(tree, "mp3"), ".failure")[0]).startswith("unreachable: cannot connect")
    assert _text(_q(_card(tree, "r2"), ".failure")[0]) == (
        "become: sudo: a password is required (set ansible_become_password)"
    )
    assert not _q(_card(tree, "mp3"), "details.keyfacts")  # no facts gathered


def test_mp_key_facts(tree: lxml.html.HtmlElement) -> None:
    details = _q(_card(tree, "mp2"), "details.keyfacts")[0]
    assert details.get("open") is None  # collapsed
    facts = {_text(_q(tr, "th")[0]): _text(_q(tr, "td")[0]) for tr in _q(details, "tr")}
    assert facts["SNI (jsse.enableSNIExtension)"].startswith("disabled — ")
    assert facts["customer file owner / mode"] == "root:root 0600"
    assert facts["Java version"] == "1.8.0_292"
    assert facts["JAVA_HOME"] == "/usr/lib/jvm/java-1.8.0-openjdk (from process)"
    assert facts["JCE crypto policy"] == "unlimited (crypto.policy=unlimited)"
    assert _text(_q(_card(tree, "mp1"), "p.allclear")[0]) == "No findings."


def test_router_key_facts(tree: lxml.html.HtmlElement) -> None:
    details = _q(_card(tree, "r1"), "details.keyfacts")[0]
    servers = _q(details, "table.server")
    assert len(servers) == 2
    first = {_text(_q(tr, "th")[0]): _text(_q(tr, "td")[0]) for tr in _q(servers[0], "tr")}
    assert first["listen"] == "9443 ssl"
    assert first["server_name"] == "api.example.com"
    assert first["ssl_protocols"] == "TLSv1 TLSv1.1 TLSv1.2 (from server)"
    assert first["ssl_ciphers"].startswith("HIGH:!aNULL:!MD5 (3 suites")
    assert first["certificate"] == "/opt/nginx/conf.d/api.example.com.crt"
    assert "/opt/nginx/conf.d/0-default.conf:4" in _text(_q(servers[0], "caption")[0])
    second = {_text(_q(tr, "th")[0]): _text(_q(tr, "td")[0]) for tr in _q(servers[1], "tr")}
    assert second["listen"] == "9001 (no TLS)"
    assert second["certificate"] == "—"


def _evil_host() -> HostResult:
    finding = Finding(
        id="mp-sni-disabled", severity="error", cause="sni",
        message='<script>alert("x")</script> & <b>bold</b>',
        evidence=(Evidence('/tmp/"><img src=x>', 3, {"<k>": "</td></tr><script>", "pw": "'\"&"}),),
        remediation="<a href='http://evil.example'>click</a>",
    )
    return HostResult(
        name="<i>mp</i>", address="10.0.0.1\"><script>", role="message_processor", status="findings",
        findings=(finding,), error=None,
    )


def test_everything_is_escaped() -> None:
    failed = HostResult("r9", "10.0.0.2", "router", "error", error=HostFailure("command", "<script>x</script>"))
    page = render_html(make_run(_evil_host(), failed, inventory="<inv>.yml"))
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "&lt;i&gt;mp&lt;/i&gt;" in page
    assert "&lt;inv&gt;.yml" in page
    tree = lxml.html.document_fromstring(page)
    assert not _q(tree, "script, img, b, i")
    assert all(a.get("href", "").startswith("#") for a in _q(tree, "a"))
    message = _text(_q(tree, "p.msg")[0])
    assert message == '<script>alert("x")</script> & <b>bold</b>'  # shown to the reader as written


def test_secrets_never_shown(page: str) -> None:
    assert SECRET_VALUE not in page
    host = HostResult("mp9", "10.0.0.9", "message_processor", "findings", findings=(Finding(
        id="mp-restart-pending", severity="warning", cause="config", message="m",
        evidence=(Evidence("/f", 1, {"conf_http_client.keystore.password": "hunter2"}),), remediation="r",
    ),))
    assert "hunter2" not in render_html(make_run(host))


def test_deterministic(page: str) -> None:
    assert render_html(sample_run()) == page


def test_clean_and_empty_runs() -> None:
    clean = lxml.html.document_fromstring(render_html(clean_run()))
    assert _text(_q(clean, ".verdict")[0]) == "exit code 0: clean: no error findings"
    assert "No findings." in _text(next(e for e in clean.iter() if e.get("id") == "overview"))
    empty = render_html(make_run())
    assert "No hosts in this run." in empty
    lxml.html.document_fromstring(empty)


def test_print_and_filter_styles(page: str) -> None:
    assert "@media print" in page
    assert "body:has(#f-problems:checked) .card.st-ok" in page
    assert "<script" not in page  # works without JavaScript


def test_environment_is_strict_and_escaping() -> None:
    env = environment()
    assert env.autoescape is True
    assert env.undefined is jinja2.StrictUndefined
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing }}").render()


def test_template_found_in_the_source_tree() -> None:
    repo = Path(fixer.__file__).resolve().parent.parent
    assert template_dirs()[0] == repo / "templates"
    assert template_dir() == repo / "templates"
    assert (template_dir() / TEMPLATE).is_file()


def test_template_falls_back_to_share(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    share = tmp_path / "prefix" / "share" / "fixer" / "templates"
    share.mkdir(parents=True)
    (share / TEMPLATE).write_text("<p>{{ inventory }}</p>\n")
    monkeypatch.setattr(fixer, "__file__", str(tmp_path / "site" / "fixer" / "__init__.py"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    assert template_dir() == share
    assert html_report.render_html(make_run(inventory="<x>")) == "<p>&lt;x&gt;</p>\n"


def test_missing_template_is_a_fixer_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fixer, "__file__", str(tmp_path / "site" / "fixer" / "__init__.py"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    with pytest.raises(FixerError, match=r"report\.html\.j2 not found"):
        render_html(sample_run())


# -- the dry run: playbook, actions and a collapsible, coloured diff per finding -------------------------


def _finding_section(tree: lxml.html.HtmlElement, host: str, fid: str) -> lxml.html.HtmlElement:
    return next(s for s in _q(_card(tree, host), "section.finding") if _text(_q(s, "h4 code")[0]) == fid)


def test_fixable_findings_show_playbook_actions_and_diff(tree: lxml.html.HtmlElement) -> None:
    sni = _finding_section(tree, "mp2", "mp-sni-disabled")
    remedy = _q(sni, "div.remedy")[0]
    assert _text(_q(remedy, "p.playbook")[0]) == (
        "Playbook: enable-sni.yml · fixer apply enable-sni.yml -i inventory/prod.yml -l mp2"
    )
    assert [_text(li) for li in _q(remedy, "ul.actions li")] == [MP_RESTART]
    details = _q(remedy, "details.diff")[0]
    assert details.get("open") is not None  # shown, and collapsible
    assert _text(_q(details, "summary")[0]) == f"Diff on mp2 ({len(SNI_DIFF.splitlines())} lines)"
    (pre,) = _q(details, "pre.diff")
    assert pre.text_content() == SNI_DIFF  # exact, line breaks kept
    classes = {span.text_content().rstrip("\n"): span.get("class") for span in _q(pre, "span")}
    assert classes["-conf_system_jsse.enableSNIExtension=false"] == "d-del"
    assert classes["+conf_system_jsse.enableSNIExtension=true"] == "d-add"
    assert classes["@@ -1,5 +1,5 @@"] == "d-hunk"
    assert classes["# mode 0600 -> 0644"] == "d-meta"
    assert classes[f"--- mp2:{MP_CUSTOMER} (before)"] == "d-head"
    assert classes[" # Customer overrides for the Message Processor"] == "d-ctx"
    weak = _finding_section(tree, "r1", "router-weak-protocol")
    assert "fixer apply router-tls.yml -i inventory/prod.yml -l r1" in _text(weak)


def test_restart_only_failed_and_unfixable_findings() -> None:
    base = Finding(id="mp-restart-pending", severity="warning", cause="config", message="m", evidence=(),
                   remediation="r")
    host = HostResult("mp9", "10.0.0.9", "message_processor", "findings", findings=(
        replace(base, playbook="restart-pending.yml", diff="", actions=(MP_RESTART,)),
        replace(base, id="mp-sni-disabled", playbook="enable-sni.yml", diff="could not plan: <no play>"),
        replace(base, id="mp-https-protocols"),
    ))
    tree = lxml.html.document_fromstring(render_html(make_run(host)))
    restart, failed, plain = _q(_card(tree, "mp9"), "section.finding")
    assert _text(_q(restart, "div.remedy p.empty")[0]) == "No file changes."
    assert not _q(restart, "pre.diff")
    assert _text(_q(failed, "p.planerr")[0]) == "could not plan: <no play>"  # escaped, shown as written
    assert not _q(failed, "pre.diff")
    assert not _q(plain, "div.remedy")


def test_diff_content_is_escaped() -> None:
    finding = Finding(id="mp-sni-disabled", severity="error", cause="sni", message="m", evidence=(),
                      remediation="r", playbook="enable-sni.yml", diff="@@ -1 +1 @@\n-a\n+<script>x</script>\n")
    page = render_html(make_run(HostResult("mp9", "10.0.0.9", "message_processor", "findings",
                                           findings=(finding,))))
    assert "<script" not in page.lower()
    assert "+&lt;script&gt;x&lt;/script&gt;" in page
