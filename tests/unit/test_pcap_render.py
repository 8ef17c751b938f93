"""fixer.pcap.analyze (summary, exit codes) and fixer.pcap.render (text, JSON + schema, HTML) on synthetic
connections: no capture file, no network."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from html.parser import HTMLParser
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest

import fixer
from fixer.pcap.analyze import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, FAILED_VERDICTS, exit_code, judge_all, summarize
from fixer.pcap.model import VERDICTS, Analysis, Endpoint
from fixer.pcap.render import (
    PcapSchemaError,
    analysis_to_dict,
    load_schema,
    render_html,
    render_json,
    render_text,
    validate,
)
from tests.unit.pki import Pki, build_pki
from tests.unit.test_pcap_verdicts import (
    APP,
    CCS,
    JAVA8_LIMITED,
    SERVER_FLIGHT_13,
    T0,
    alert,
    conn,
    hello,
    hello13,
    server_hello,
    server_hello13,
    summaries,
)

BACKEND = Endpoint("10.2.0.9", 8443)
ROUTER = Endpoint("fd00::1", 443)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return build_pki(tmp_path_factory.mktemp("pki"))


def sample(pki: Pki, partial: bool = False) -> Analysis:
    """Every verdict once, two servers (one IPv6), TLS 1.2 and 1.3."""
    obs = [
        conn(hello(), server_hello(), done=True, client_records=(CCS, "handshake", APP),
             server_records=(CCS, "handshake", APP), start=T0 + 1),
        conn(hello13(), server_hello13(), client_records=(CCS, APP), server_records=SERVER_FLIGHT_13,
             client_lengths=(1, 35), server_lengths=(1, 25, 900, 280, 69), closed_by="client", start=T0 + 2),
        conn(hello(sni=None, suites=JAVA8_LIMITED), alerts=(alert("server", "handshake_failure"),),
             closed_by="server", start=T0 + 3),
        conn(hello(sni="nope.example.com"), alerts=(alert("server", "unrecognized_name"),), start=T0 + 4),
        conn(hello("TLSv1"), alerts=(alert("server", "protocol_version"),), start=T0 + 5),
        conn(hello(suites=("TLS_RSA_WITH_AES_128_CBC_SHA",)), alerts=(alert("server", "handshake_failure"),),
             start=T0 + 6, server=ROUTER, client=Endpoint("fd00::5", 40000)),
        conn(hello(sni="leaf.example.com"), server_hello(), certificates=summaries(pki.leaves["good"].cert),
             alerts=(alert("client", "unknown_ca"),), closed_by="client", close_kind="rst", start=T0 + 7),
        conn(hello(), closed_by="server", close_kind="rst", start=T0 + 8, server=ROUTER),
        conn(hello(), start=T0 + 9, notes=("capture ends mid-connection",)),
        conn(start=T0 + 10, server=Endpoint("10.2.0.9", 22)),
    ]
    notes = ("a.pcap: truncated in the middle of packet 913",) if partial else ()
    return judge_all(["a.pcap", "b.pcapng"], reversed(obs), packets=1234, notes=notes, partial=partial)


# ---- analyze: order, summary, exit codes -------------------------------------------------------------------

def test_connections_by_start_time(pki: Pki) -> None:
    analysis = sample(pki)
    starts = [c.obs.start for c in analysis.connections]
    assert starts == sorted(starts)
    assert [c.verdict.kind for c in analysis.connections] == [
        "ok", "certificate-rejected", "sni-missing", "sni-unrecognized", "protocol-mismatch", "cipher-mismatch",
        "certificate-rejected", "server-closed", "incomplete", "not-tls"]


def test_summary_by_verdict_and_peer(pki: Pki) -> None:
    s = summarize(sample(pki))
    assert s.connections == 10 and list(s.by_verdict) == list(VERDICTS)
    assert s.by_verdict["certificate-rejected"] == 2 and s.by_verdict["ok"] == 1
    assert s.failed == 7 and s.inferred == 1 and s.exit_code == EXIT_FAILED
    assert [p.server for p in s.peers] == ["10.2.0.9:8443", "[fd00::1]:443", "10.2.0.9:22"]  # most failures first
    backend = s.peers[0]
    assert backend.connections == 7 and backend.failed == 5
    assert backend.server_names == ("backend.example.com", "leaf.example.com", "nope.example.com")
    assert backend.clients == ("10.1.0.5",)
    assert backend.by_verdict == {"ok": 1, "protocol-mismatch": 1, "sni-missing": 1, "sni-unrecognized": 1,
                                  "certificate-rejected": 2, "incomplete": 1}
    assert s.peers[1].by_verdict == {"cipher-mismatch": 1, "server-closed": 1}
    assert s.peers[1].clients == ("10.1.0.5", "fd00::5")


@pytest.mark.parametrize(("kinds", "partial", "code"), [
    ((), False, EXIT_OK),
    (("ok",), False, EXIT_OK),
    (("ok", "not-tls"), False, EXIT_OK),
    (("ok",), True, EXIT_PARTIAL),
    (("ok", "incomplete"), False, EXIT_PARTIAL),
    (("incomplete", "sni-missing"), True, EXIT_FAILED),
    (("server-closed",), False, EXIT_FAILED),
])
def test_exit_codes(kinds: tuple[str, ...], partial: bool, code: int) -> None:
    builders = {
        "ok": conn(hello(), server_hello(), done=True),
        "not-tls": conn(),
        "incomplete": conn(hello()),
        "sni-missing": conn(hello(sni=None), alerts=(alert("server", "unrecognized_name"),)),
        "server-closed": conn(hello(), closed_by="server"),
    }
    analysis = judge_all(["x.pcap"], [builders[k] for k in kinds], packets=3, partial=partial)
    assert sorted(c.verdict.kind for c in analysis.connections) == sorted(kinds)
    assert exit_code(analysis) == code == summarize(analysis).exit_code


def test_a_tls_connection_without_usable_records_is_incomplete_not_non_tls() -> None:
    bare = conn(syn=False)
    assert judge_all(["x"], [bare], packets=1).connections[0].verdict.kind == "not-tls"
    only_tls = judge_all(["x"], [bare], packets=1, all_tls=True).connections[0].verdict
    assert only_tls.kind == "incomplete" and only_tls.remediation


def test_failed_verdicts() -> None:
    assert set(FAILED_VERDICTS) == set(VERDICTS) - {"ok", "incomplete", "not-tls"}


# ---- JSON ------------------------------------------------------------------------------------------------

def test_schema_is_valid_draft_2020_12() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$defs"]["verdict_kind"]["enum"] == list(VERDICTS)


@pytest.mark.parametrize("partial", [False, True])
def test_json_validates_against_the_shipped_schema(pki: Pki, partial: bool) -> None:
    text = render_json(sample(pki, partial))
    doc = json.loads(text)
    validate(doc)
    jsonschema.Draft202012Validator(load_schema(), format_checker=jsonschema.FormatChecker()).validate(doc)
    assert doc["partial"] is partial and doc["summary"]["exit_code"] == 1


def test_encrypted_alert_with_length_validates_and_renders() -> None:
    enc = dataclasses.replace(alert("server", None, encrypted=True), length=26)
    analysis = judge_all(["x.pcap"], [conn(hello(), server_hello(), client_records=(CCS, "handshake"),
                                           client_lengths=(1, 40), alerts=(enc,))], packets=7)
    doc = analysis_to_dict(analysis)
    validate(doc)
    assert doc["connections"][0]["alerts"][0]["length"] == 26
    assert "server → client: encrypted alert (26-byte record, level and description hidden)" in render_text(analysis)


def test_empty_analysis_validates() -> None:
    doc = analysis_to_dict(judge_all(["empty.pcap"], [], packets=0))
    validate(doc)
    assert doc["connections"] == [] and doc["summary"]["exit_code"] == 0


def test_json_shape(pki: Pki) -> None:
    doc = analysis_to_dict(sample(pki))
    assert doc["schema_version"] == "1.0" and doc["tool"] == {"name": "fixer", "version": fixer.__version__}
    assert doc["files"] == ["a.pcap", "b.pcapng"] and doc["packets"] == 1234
    first, java13, _, _, _, v6 = doc["connections"][:6]
    assert first["index"] == 1 and first["client"] == {"ip": "10.1.0.5", "port": 51514}
    assert first["client_hello"]["server_name"] == "backend.example.com"
    assert first["client_hello"]["cipher_suites"][0] == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    assert first["server_hello"]["version"] == "TLSv1.2" and first["verdict"]["kind"] == "ok"
    assert first["start_utc"].endswith("Z") and first["close"] is None
    assert java13["verdict"]["inferred"] is True
    assert java13["records_after_hello"] == {"client": [CCS, APP], "server": list(SERVER_FLIGHT_13),
                                             "client_lengths": [1, 35], "server_lengths": [1, 25, 900, 280, 69]}
    assert java13["close"] == {"by": "client", "kind": "fin", "time": java13["start"] + 0.01}
    assert v6["server"] == {"ip": "fd00::1", "port": 443}
    cert = doc["connections"][6]
    assert cert["certificates"][0]["subject"] == "CN=leaf.example.com,O=fixer test"
    assert cert["certificates"][0]["not_after"].endswith("Z") and "der" not in cert["certificates"][0]
    assert cert["alerts"] == [{"time": T0 + 0.005, "sender": "client", "encrypted": False,
                               "level": "fatal", "description": "unknown_ca", "inferred": None, "length": None}]
    assert cert["verdict"]["finding"] == "target-cert-chain-incomplete" and "sent only its leaf" in cert[
        "verdict"]["chain_check"]
    assert doc["summary"]["by_verdict"]["not-tls"] == 1 and len(doc["summary"]["peers"]) == 3


@pytest.mark.parametrize(("path", "value"), [
    (("connections", 0, "verdict", "kind"), "weird"),
    (("connections", 0, "client", "port"), 70000),
    (("summary", "exit_code"), 3),
    (("schema_version",), "9.9"),
    (("connections", 0, "alerts"), [{"time": 1.0}]),
])
def test_schema_rejects_broken_documents(pki: Pki, path: tuple[Any, ...], value: Any) -> None:
    doc = copy.deepcopy(analysis_to_dict(sample(pki)))
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(PcapSchemaError, match="does not match its schema"):
        validate(doc)


def test_schema_rejects_unknown_keys(pki: Pki) -> None:
    doc = analysis_to_dict(sample(pki))
    doc["connections"][0]["extra"] = 1
    with pytest.raises(PcapSchemaError):
        validate(doc)


# ---- text ------------------------------------------------------------------------------------------------

def test_text_report(pki: Pki) -> None:
    text = render_text(sample(pki, partial=True))
    assert "\x1b[" not in text
    assert text.startswith("fixer pcap: a.pcap, b.pcapng: 1234 packets, 10 connections")
    assert "note: a.pcap: truncated in the middle of packet 913" in text
    assert "#1 10.1.0.5:51514 → 10.2.0.9:8443" in text and "[fd00::5]:40000 → [fd00::1]:443" in text
    assert "SNI backend.example.com" in text and "no SNI (no server_name extension)" in text
    assert "4 suites (+1 signalling value): TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" in text
    assert "... (+1 more)" in text
    assert "max TLSv1.3 (legacy TLSv1.2; record TLSv1; supported_versions TLSv1.3, TLSv1.2)" in text
    assert "client → server: fatal unknown_ca (plaintext)" in text
    assert "server → client: fatal handshake_failure (plaintext)" in text
    assert "by the client (RST)" in text
    assert "CERTIFICATE-REJECTED  (inferred)" in text and "Java" in text
    assert "SNI-MISSING" in text and "fixer check finding target-sni-required; playbook enable-sni.yml" in text
    assert "Chain check" in text and "sent only its leaf" in text
    assert "encrypted (TLS 1.3)" in text
    assert "subject CN=leaf.example.com,O=fixer test" in text
    assert "Notes" in text and "capture ends mid-connection" in text
    peers = text[text.index("server "):]
    assert re.search(r"^\[fd00::1\]:443 +2 +1 cipher-mismatch +backend.example.com +10.1.0.5$", peers, re.MULTILINE)
    assert re.search(r"^ +1 server-closed +fd00::5$", peers, re.MULTILINE)
    assert "exit code 1: some TLS handshake failed" in text
    assert not re.search(r"[ \t]+$", text, re.MULTILINE)


def test_text_report_in_color_and_empty() -> None:
    analysis = judge_all(["x.pcap"], [conn(hello(), server_hello(), done=True)], packets=9)
    colored = render_text(analysis, color=True)
    assert "\x1b[" in colored and "exit code 0" in colored
    empty = render_text(judge_all(["y.pcap"], [], packets=0))
    assert "No TLS connection found" in empty and "exit code 0" in empty


# ---- HTML ------------------------------------------------------------------------------------------------

class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        d = dict(attrs)
        if d.get("id"):
            self.ids.append(str(d["id"]))
        if d.get("href"):
            self.hrefs.append(str(d["href"]))
        if d.get("src"):
            self.srcs.append(str(d["src"]))


def test_html_report_is_one_self_contained_page(pki: Pki) -> None:
    page = render_html(sample(pki, partial=True))
    parsed = _Collector()
    parsed.feed(page)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "script" not in parsed.tags and not parsed.srcs and "link" not in parsed.tags
    assert all(h.startswith("#") for h in parsed.hrefs)
    anchors = {h[1:] for h in parsed.hrefs if h != "#"}
    assert anchors <= set(parsed.ids) and {f"c{i}" for i in range(1, 11)} <= set(parsed.ids)
    assert "exit code 1: some TLS handshake failed" in page and "truncated in the middle" in page
    assert "certificate-rejected" in page and "inferred" in page and "sent only its leaf" in page
    assert "playbook enable-sni.yml" in page and "[fd00::1]:443" in page
    assert "10.1.0.5:51514 → 10.2.0.9:8443" in page
    card = page[page.index('id="c7"'):page.index('id="c8"')]  # the TLS 1.2 unknown_ca connection
    assert card.index("client → server: fatal unknown_ca (plaintext)") < card.index("by the client (RST)")
    assert "certificate 0" in card and "CN=leaf.example.com,O=fixer test" in card


def test_html_escapes_capture_text(pki: Pki) -> None:
    evil = conn(hello(sni="<script>alert(1)</script>"), alerts=(alert("server", "unrecognized_name"),))
    page = render_html(judge_all(["<b>.pcap"], [evil], packets=1))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "<b>.pcap" not in page


def test_html_empty() -> None:
    page = render_html(judge_all(["y.pcap"], [], packets=0))
    assert "No TLS connection found" in page and "exit code 0" in page
