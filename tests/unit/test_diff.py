"""Unified diffs of planned changes: headers, attribute lines, binary notes, and secrets redacted."""

from __future__ import annotations

import pytest

from fixer.plan.diff import render_diff, render_plan
from fixer.plan.model import FileChange, FileState, HostPlan, Readiness, ServiceAction, Verify

P = "/opt/apigee/customer/application/message-processor.properties"


def change(before: bytes | None, after: bytes | None, b_attrs: tuple[str | None, str | None, int | None] = (
        "apigee", "apigee", 0o644), a_attrs: tuple[str | None, str | None, int | None] | None = None) -> FileChange:
    a_attrs = a_attrs or b_attrs
    return FileChange(
        P,
        FileState(False) if before is None else FileState(True, before, *b_attrs),
        FileState(False) if after is None else FileState(True, after, *a_attrs),
        ("t",),
    )


def test_content_diff() -> None:
    text = render_diff(change(b"# c\na=1\nb=2\n", b"# c\na=1\nb=3\n"), "mp1")
    assert text == (
        f"--- mp1:{P} (before)\n"
        f"+++ mp1:{P} (after)\n"
        "@@ -1,3 +1,3 @@\n"
        " # c\n"
        " a=1\n"
        "-b=2\n"
        "+b=3\n"
    )


def test_attribute_lines() -> None:
    text = render_diff(change(b"a=1\n", b"a=1\n", ("root", "root", 0o600), ("apigee", "apigee", 0o644)), "mp1")
    assert text == "# owner root:root -> apigee:apigee\n# mode 0600 -> 0644\n"


def test_owner_only_and_unknown_before() -> None:
    text = render_diff(change(b"a\n", b"a\n", (None, None, None), ("apigee", None, 0o644)), "h")
    assert text == "# owner ?:? -> apigee:?\n# mode ? -> 0644\n"


def test_new_file() -> None:
    text = render_diff(change(None, b"a=1\n", a_attrs=("apigee", "apigee", 0o644)), "mp1")
    assert text.splitlines() == [
        "# new file (owner apigee:apigee, mode 0644)",
        f"--- mp1:{P} (before)",
        f"+++ mp1:{P} (after)",
        "@@ -0,0 +1 @@",
        "+a=1",
    ]


def test_new_file_without_attrs() -> None:
    assert render_diff(change(None, b"a=1\n", a_attrs=(None, None, None)), "h").startswith("# new file\n---")


def test_removed_file() -> None:
    text = render_diff(change(b"a=1\n", None), "mp1")
    assert text.splitlines()[0] == "# file removed" and "-a=1" in text.splitlines()


def test_missing_final_newline_is_marked() -> None:
    text = render_diff(change(b"a=1", b"a=1\nb=2\n"), "h")
    assert text.endswith("-a=1\n\\ No newline at end of file\n+a=1\n+b=2\n")


def test_crlf_and_form_feed_do_not_split_lines_wrongly() -> None:
    text = render_diff(change(b"a=1\r\nb=x\x0cy\r\n", b"a=2\r\nb=x\x0cy\r\n"), "h")
    assert "-a=1\r\n+a=2\r\n b=x\x0cy\r\n" in text


def test_binary_content_is_one_line() -> None:
    text = render_diff(change(b"\xff\xfe\x00binary", b"\xff\xfe\x00binary!"), "mp1")
    assert text.count("\n") == 1
    assert text.startswith(f"# mp1:{P}: binary or non-UTF-8 content, 9 -> 10 bytes (sha256 ")


def test_nothing_changed_is_empty() -> None:
    assert render_diff(change(b"a=1\n", b"a=1\n"), "h") == ""


SECRET_LINES = [
    # (before line, after line, shown -, shown +)
    ("mgmt.password=old", "mgmt.password=new", "-mgmt.password=********", "+mgmt.password=********"),
    ("keystore.pass = s3cret", "keystore.pass = other", "-keystore.pass = ********", "+keystore.pass = ********"),
    ("conf_system_javax.net.ssl.keyStorePassword: Q1w2", "conf_system_javax.net.ssl.keyStorePassword: E3r4",
     "-conf_system_javax.net.ssl.keyStorePassword: ********", "+conf_system_javax.net.ssl.keyStorePassword: ********"),
    ("client_secret x", "client_secret y", "-client_secret ********", "+client_secret ********"),
    ("#db.passwd=commented", "#db.passwd=changed", "-#db.passwd=********", "+#db.passwd=********"),
    ("api_key=k1", "api_key=k2", "-api_key=********", "+api_key=********"),
    ("  private.key.passphrase=Zx9", "  private.key.passphrase=Yw8", "-  private.key.passphrase=********",
     "+  private.key.passphrase=********"),
]


@pytest.mark.parametrize(("old", "new", "minus", "plus"), SECRET_LINES)
def test_secrets_redacted_on_both_sides(old: str, new: str, minus: str, plus: str) -> None:
    text = render_diff(change(f"{old}\n".encode(), f"{new}\n".encode()), "h")
    assert minus in text.splitlines() and plus in text.splitlines()
    for secret in (old.split()[-1].split("=")[-1], new.split()[-1].split("=")[-1]):
        assert secret not in text.split("@@")[-1]


@pytest.mark.parametrize("line", [
    "conf_system_jsse.enableSNIExtension=true", "passenger.count=3", "bypass=1", "compass.heading=north",
    "conf_router_token.ttl=20", "password=", "ssl_protocols TLSv1.2;",
])
def test_non_secret_lines_shown(line: str) -> None:
    text = render_diff(change(b"", f"{line}\n".encode()), "h")
    assert f"+{line}" in text.splitlines()


def test_secret_in_context_and_continuation_lines() -> None:
    before = b"a=1\nstore.password=abc\\\n    def\nz=1\n"
    after = b"a=2\nstore.password=abc\\\n    def\nz=1\n"
    text = render_diff(change(before, after), "h")
    assert "abc" not in text and "def" not in text
    assert " store.password=********" in text.splitlines() and " ********" in text.splitlines()
    assert " z=1" in text.splitlines()


def test_render_plan() -> None:
    plan = HostPlan(
        "mp1", "10.0.0.11",
        files=(change(b"a=1\n", b"a=2\n"), change(b"same\n", b"same\n")),
        services=(ServiceAction("edge-message-processor", "restart", "/opt/apigee/apigee-service/bin/apigee-service",
                                Readiness(8082, True, 300.0), "restart mp"),),
        verifies=(Verify("properties", "sni", path="/s", key="k", value="true"), Verify("nginx_test", "ngx"),
                  Verify("file_contains", "fc", path="/c", pattern="x")),
        notes=("install JCE",),
    )
    lines = render_plan(plan).splitlines()
    assert lines[-5:] == [
        "# mp1: /opt/apigee/apigee-service/bin/apigee-service edge-message-processor restart then wait_for_ready "
        "and GET http://localhost:8082/v1/servers/self/up (timeout 300s) [restart mp]",
        "# mp1: verify: /s holds k=true [sni]",
        "# mp1: verify: nginx -t passes [ngx]",
        "# mp1: verify: /c matches /x/ [fc]",
        "# mp1: note: install JCE",
    ]
    assert lines.count(f"--- mp1:{P} (before)") == 1  # the unchanged file has no diff
