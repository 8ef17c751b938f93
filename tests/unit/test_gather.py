"""The batched fact script and its framing, run by a local POSIX sh against a fake node tree."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fixer.errors import ParseError
from fixer.facts.gather import Section, mp_script, new_boundary, router_script, split_sections
from fixer.inventory.model import Host


def _frame(boundary: str, *parts: tuple[str, str, str, int]) -> str:
    out = f"noise before\n{boundary} START\n"
    for name, arg, body, rc in parts:
        out += f"\n{boundary} BEGIN {name}{' ' + arg if arg else ''}\n{body}\n{boundary} END {rc}\n"
    return out


@pytest.mark.parametrize(
    "body",
    ["a=1\n", "no trailing newline", "", "\n\n", "FIXER-deadbeef BEGIN fake\nx", "line\r\nwith crlf\r\n"],
)
def test_split_keeps_bodies_exactly(body: str) -> None:
    b = new_boundary()
    sections = split_sections(_frame(b, ("x.content", "", body, 0), ("y", "/p a/t h", "z", 3)), b)
    assert sections == [Section("x.content", "", body, 0), Section("y", "/p a/t h", "z", 3)]


def test_split_without_start_is_an_error() -> None:
    with pytest.raises(ParseError):
        split_sections("sh: 1: syntax error\n", new_boundary())


def test_split_truncated_output_keeps_partial_section() -> None:
    b = new_boundary()
    text = f"{b} START\n\n{b} BEGIN a\npartial"
    assert split_sections(text, b) == [Section("a", "", "partial", None)]


def test_boundary_is_random() -> None:
    assert new_boundary() != new_boundary()


def _run_local(script: str) -> str:
    return subprocess.run(["sh", "-s"], input=script, capture_output=True, text=True, check=True,
                          timeout=30).stdout


def test_mp_script_reads_a_node_tree(tmp_path: Path) -> None:
    root = tmp_path / "apigee root; $(touch pwned)"
    (root / "customer/application").mkdir(parents=True)
    (root / "edge-message-processor/conf").mkdir(parents=True)
    (root / "customer/application/message-processor.properties").write_text("conf_system_a.b=1\n")
    java = tmp_path / "jdk"
    (java / "jre/lib/security/policy/unlimited").mkdir(parents=True)
    (java / "jre/lib/security/policy/limited").mkdir(parents=True)
    (java / "release").write_text('JAVA_VERSION="1.8.0_202"\n')
    (java / "jre/lib/security/java.security").write_text("crypto.policy=unlimited\n")
    host = Host("mp1", ("message_processors",), {"apigee_root": str(root), "fixer_java_home": str(java)})
    b = new_boundary()
    sections = {s.name: s for s in split_sections(_run_local(mp_script(host, b)), b)}
    assert not (Path.cwd() / "pwned").exists()
    assert sections["customer.content"].body == "conf_system_a.b=1\n"
    assert sections["customer.content"].rc == 0
    owner = sections["customer.stat"].body.split()
    assert len(owner) == 5 and owner[2] == "644"
    assert sections["generated.content"].rc != 0
    assert "No such file" in sections["generated.content"].body
    assert sections["java.home"].body.strip() == f"inventory {java}"
    assert sections["java.release"].body == 'JAVA_VERSION="1.8.0_202"\n'
    assert sections["java.security"].arg == f"{java}/jre/lib/security/java.security"
    assert sorted(sections["java.policydirs"].body.split()) == ["limited", "unlimited"]


def test_router_script_lists_conf_files_and_expands_ciphers(tmp_path: Path) -> None:
    conf = tmp_path / "conf.d"
    conf.mkdir()
    (conf / "0-default.conf").write_text(
        "server {\n  listen 443 ssl;\n  ssl_ciphers 'ECDHE-RSA-AES256-GCM-SHA384';\n}\n"
    )
    (conf / "notes.txt").write_text("ignored")
    host = Host("rt1", ("routers",), {"apigee_root": str(tmp_path / "none"), "nginx_conf_dir": str(conf)})
    b = new_boundary()
    sections = split_sections(_run_local(router_script(host, b, "HIGH:!aNULL:!MD5")), b)
    files = [s.arg for s in sections if s.name == "conf.file"]
    assert files == [f"{conf}/0-default.conf"]
    expanded = {s.arg: s.body for s in sections if s.name == "openssl.ciphers"}
    assert "ECDHE-RSA-AES256-GCM-SHA384" in expanded
    assert "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" in expanded["ECDHE-RSA-AES256-GCM-SHA384"]
    assert "HIGH:!aNULL:!MD5" in expanded
    customer = next(s for s in sections if s.name == "customer.stat")
    assert customer.rc != 0


def test_env_is_not_needed() -> None:
    # the script must not depend on the login environment's locale
    assert "LC_ALL=C" in mp_script(Host("x", (), {}), "B")
