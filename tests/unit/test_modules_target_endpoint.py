"""`target_endpoint`: SSLInfo edits of TargetEndpoint XML, planned over a virtual file state."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from fixer.bundles.edit import SSLSettings, edit_ssl_info
from fixer.bundles.parse import parse_target_endpoint
from fixer.errors import PlaybookError, UsageError
from fixer.inventory.model import Host
from fixer.modules import PlanError
from fixer.plan.diff import render_diff
from fixer.plan.model import FileState, HostPlan
from fixer.plan.planner import paths_to_read, plan_host
from fixer.playbook import Play, parse_playbook

GOOD = Path(__file__).parent / "data" / "bundles" / "good"
ORDERS = (GOOD / "orders-v1/apiproxy/targets/default.xml").read_bytes()
LEGACY = (GOOD / "orders-v1/apiproxy/targets/legacy.xml").read_bytes()  # CRLF, no declaration, no SSLInfo
PAYMENTS = (GOOD / "payments-lb/apiproxy/targets/default.xml").read_bytes()  # ISO-8859-1, single quotes
LOCAL = (GOOD / "mock-local/apiproxy/targets/local.xml").read_bytes()
PATH = "/srv/bundles/orders-v1/apiproxy/targets/default.xml"
CI = Host("ci1", ("bundle_hosts",), {"ansible_host": "10.0.0.5"})


def one_task(args: str) -> Play:
    body = textwrap.indent(textwrap.dedent(args).strip("\n"), " " * 8)
    text = f"- hosts: all\n  tasks:\n    - name: tls\n      target_endpoint:\n{body}\n"
    return parse_playbook(text, "t.yml").plays[0]


def plan(play: Play, content: bytes, **extra: Any) -> HostPlan:
    assert paths_to_read(play, CI, extra) == [PATH]
    return plan_host(play, CI, {PATH: FileState(True, content, "apigee", "apigee", 0o640)}, extra)


def edit(data: bytes, **settings: Any) -> bytes:
    return edit_ssl_info(data, "t.xml", SSLSettings(**settings))


def diff_lines(before: bytes, after: bytes, codec: str = "utf-8") -> list[str]:
    import difflib

    return [line for line in difflib.unified_diff(before.decode(codec).splitlines(), after.decode(codec).splitlines(),
                                                  lineterm="", n=0) if line[:1] in "+-" and line[:3] not in "---+++"]


# -- the editor -----------------------------------------------------------------------------------

def test_replace_the_protocol_list_changes_only_those_lines() -> None:
    after = edit(ORDERS, protocols=("TLSv1.2", "TLSv1.3"))
    assert diff_lines(ORDERS, after) == [
        "-                <Protocol>TLSv1</Protocol>", "-                <Protocol>TLSv1.1</Protocol>",
        "+                <Protocol>TLSv1.2</Protocol>", "+                <Protocol>TLSv1.3</Protocol>"]
    ssl = parse_target_endpoint(after, "t.xml").ssl
    assert ssl is not None and ssl.protocols == ("TLSv1.2", "TLSv1.3") and ssl.trust_store == "ref://orders-truststore-ref"
    assert edit(after, protocols=("TLSv1.2", "TLSv1.3")) is after  # idempotent: the same bytes object back


def test_add_protocols_and_ciphers_to_an_existing_sslinfo_in_apigee_order() -> None:
    before = ORDERS.replace(ORDERS[ORDERS.index(b"            <Protocols>"):ORDERS.index(b"        </SSLInfo>")], b"")
    after = edit(before, protocols=["TLSv1.2"], ciphers=("TLS_AES_128_GCM_SHA256",))  # list or tuple
    assert diff_lines(before, after) == [
        "+            <Ciphers>", "+                <Cipher>TLS_AES_128_GCM_SHA256</Cipher>", "+            </Ciphers>",
        "+            <Protocols>", "+                <Protocol>TLSv1.2</Protocol>", "+            </Protocols>"]


def test_flags_replace_in_place_and_insert_before_later_children() -> None:
    after = edit(PAYMENTS, enabled=False, ignore_validation_errors=False)
    assert diff_lines(PAYMENTS, after, "latin-1") == [
        "-            <Enabled>TRUE</Enabled>", "+            <Enabled>false</Enabled>",
        "+            <IgnoreValidationErrors>false</IgnoreValidationErrors>"]
    assert after.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>\n")
    assert "équipe Zürich".encode("latin-1") in after  # the encoding is kept
    assert edit(PAYMENTS, enabled=True) is PAYMENTS  # TRUE is true already: untouched


def test_create_sslinfo_keeps_crlf_and_the_rest() -> None:
    after = edit(LEGACY, enabled=True, protocols=("TLSv1.2",))
    assert after == LEGACY.replace(b"  <HTTPTargetConnection>\r\n", (
        b"  <HTTPTargetConnection>\r\n    <SSLInfo>\r\n      <Enabled>true</Enabled>\r\n      <Protocols>\r\n"
        b"        <Protocol>TLSv1.2</Protocol>\r\n      </Protocols>\r\n    </SSLInfo>\r\n"))
    assert edit(after, enabled=True, protocols=("TLSv1.2",)) is after


def test_remove_a_list_and_nothing_to_create() -> None:
    after = edit(PAYMENTS, ciphers=())
    assert b"<Ciphers>" not in after and b"<Protocols>" in after
    assert len(diff_lines(PAYMENTS, after, "latin-1")) == 4
    assert edit(LEGACY, protocols=()) is LEGACY  # no SSLInfo, nothing to remove: no empty SSLInfo made


@pytest.mark.parametrize("data", [ORDERS, LEGACY, PAYMENTS])
def test_noop_edit_is_byte_identical(data: bytes) -> None:
    ep = parse_target_endpoint(data, "t.xml")
    ssl = ep.ssl
    if ssl is None:
        assert edit(data) == data
        return
    out = edit(data, enabled=ssl.enabled, protocols=ssl.protocols, ciphers=ssl.ciphers,
               ignore_validation_errors=ssl.ignore_validation_errors)
    assert out == data


def test_single_line_and_namespaced_documents() -> None:
    flat = b'<TargetEndpoint name="x"><HTTPTargetConnection><URL>https://h</URL></HTTPTargetConnection></TargetEndpoint>'
    assert edit(flat, protocols=("TLSv1.3",)) == flat.replace(
        b"<HTTPTargetConnection>", b"<HTTPTargetConnection><SSLInfo><Protocols><Protocol>TLSv1.3</Protocol>"
        b"</Protocols></SSLInfo>")
    spaced = flat.replace(b"<TargetEndpoint ", b'<TargetEndpoint xmlns="urn:x" ')
    after = edit(spaced, protocols=("TLSv1.3",))
    ssl = parse_target_endpoint(after, "t.xml").ssl
    assert ssl is not None and ssl.protocols == ("TLSv1.3",) and after.count(b"xmlns") == 1


@pytest.mark.parametrize(("data", "target", "message"), [
    (LOCAL, None, r"no <HTTPTargetConnection> \(a LocalTargetConnection"),
    (ORDERS, "legacy", r"named 'default', not 'legacy'"),
    ((GOOD.parent / "evil" / "xxe.xml").read_bytes(), None, r"t\.xml:2: XML with a DOCTYPE declaration refused"),
])
def test_editor_refuses(data: bytes, target: str | None, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        edit_ssl_info(data, "t.xml", SSLSettings(enabled=True), target)


# -- the module -----------------------------------------------------------------------------------

def test_module_plans_a_diff_of_only_the_sslinfo_lines() -> None:
    play = one_task(f"""
        path: {PATH}
        target: default
        protocols: [TLSv1.2, TLSv1.3]
    """)
    result = plan(play, ORDERS)
    (change,) = result.changes
    assert (change.after.owner, change.after.group, change.after.mode) == ("apigee", "apigee", 0o640)
    assert change.tasks == ("tls",) and not result.services
    diff = render_diff(change, "ci1")
    assert [line for line in diff.splitlines() if line[:1] in "+-"] == [
        f"--- ci1:{PATH} (before)", f"+++ ci1:{PATH} (after)",
        "-                <Protocol>TLSv1</Protocol>", "-                <Protocol>TLSv1.1</Protocol>",
        "+                <Protocol>TLSv1.2</Protocol>", "+                <Protocol>TLSv1.3</Protocol>"]
    again = plan(play, change.after.content)
    assert not again.changed


def test_module_templated_protocols_string_and_nulls() -> None:
    play = one_task(f"""
        path: {PATH}
        enabled: "{{{{ ssl_on | default(None) }}}}"
        protocols: "{{{{ protos }}}}"
    """)
    result = plan(play, LEGACY, protos="TLSv1.2, TLSv1.3")
    assert b"<Protocol>TLSv1.3</Protocol>" in result.changes[0].after.content
    assert b"<Enabled>" not in result.changes[0].after.content
    assert not plan(play, ORDERS, protos=["TLSv1", "TLSv1.1"]).changed


@pytest.mark.parametrize(("args", "message"), [
    ("path: /x.xml", r"t\.yml:4: task 'tls': target_endpoint: nothing to do"),
    ("path: /x.xml\nprotocols: [TLSv1.2, TLS1.3]", r"t\.yml:6: .*'TLS1\.3' is not one of .*did you mean 'TLSv1\.3'"),
    ("path: /x.xml\nprotocols: [TLSv1.2, TLSv1.2]", r"t\.yml:6: .*listed twice"),
    ("path: /x.xml\nciphers: ['AES;rm -rf']", r"t\.yml:6: .*not a cipher suite name"),
    ("path: x.xml\nenabled: true", r"t\.yml:5: .*must be an absolute path"),
    ("path: /x.xml\nenabled: maybe", r"t\.yml:6: .*must be true or false"),
    ("path: /x.xml\nprotcols: [TLSv1.2]", r"t\.yml:6: task 'tls': unknown argument 'protcols'.*'protocols'"),
])
def test_module_arg_errors_at_load_time(args: str, message: str) -> None:
    with pytest.raises(PlaybookError, match=message):
        one_task(args)


@pytest.mark.parametrize(("content", "message"), [
    (LOCAL, "no <HTTPTargetConnection>"),
    (b"<TargetEndpoint><HTTPTargetConnection>", "not well-formed XML"),
])
def test_module_plan_errors(content: bytes, message: str) -> None:
    play = one_task(f"path: {PATH}\nenabled: true")
    with pytest.raises(PlanError, match=message):
        plan(play, content)


def test_module_missing_file() -> None:
    play = one_task(f"path: {PATH}\nenabled: true")
    with pytest.raises(PlanError, match="does not exist"):
        plan_host(play, CI, {PATH: FileState(False)}, {})


def test_layout_the_splice_cannot_follow_falls_back_to_lxml() -> None:
    data = (b'<?xml version="1.0"?>\n<TargetEndpoint name="x">\n  <HTTPTargetConnection>\n'
            b"    <!-- <SSLInfo> was --><SSLInfo><Enabled>false</Enabled></SSLInfo>\n"
            b"    <URL>https://h</URL>\n  </HTTPTargetConnection>\n</TargetEndpoint>\n")
    after = edit(data, enabled=True)
    assert after == data.replace(b"<Enabled>false", b"<Enabled>true")  # whole-tree serialisation, same bytes here
    assert b"<!-- <SSLInfo> was -->" in after
