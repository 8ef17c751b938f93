"""The terminal report: summary rows, per-host findings and failures, totals, plain text when piped."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from fixer.checks.model import Evidence, Finding
from fixer.report.text import WIDTH, render_text, totals_line
from fixer.result import HostResult
from tests.unit.sample_run import (
    MP_RESTART,
    ROUTER_DIFF,
    ROUTER_RESTART,
    SECRET_VALUE,
    SNI_DIFF,
    clean_run,
    findings_run,
    make_run,
    sample_run,
)

ANSI = re.compile(r"\x1b\[")


@pytest.fixture
def plain() -> str:
    return render_text(sample_run(), color=False)


def test_no_ansi_without_color(plain: str) -> None:
    assert not ANSI.search(plain)
    assert "\x1b" not in plain


def test_ansi_with_color() -> None:
    colored = render_text(sample_run(), color=True)
    assert ANSI.search(colored)
    # same words, only styled
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == render_text(sample_run(), color=False)


def test_deterministic(plain: str) -> None:
    assert render_text(sample_run(), color=False) == plain
    assert render_text(sample_run(), color=True) == render_text(sample_run(), color=True)


def test_header(plain: str) -> None:
    first = plain.splitlines()[0]
    assert first.startswith("fixer ")
    assert "inventory/prod.yml" in first
    assert "2024-05-14T09:30:00Z" in first


@pytest.mark.parametrize("row", [
    r"mp1\s+message_processor\s+10\.0\.1\.11\s+ok\s+0\s+0\s+0",
    r"mp2\s+message_processor\s+10\.0\.1\.12\s+findings\s+2\s+0\s+0",
    r"r1\s+router\s+10\.0\.2\.21\s+findings\s+0\s+1\s+0",
    r"mp3\s+message_processor\s+10\.0\.1\.13\s+unreachable\s+0\s+0\s+0",
    r"r2\s+router\s+10\.0\.2\.22\s+error\s+0\s+0\s+0",
])
def test_summary_table_rows(plain: str, row: str) -> None:
    assert re.search(rf"^{row}$", plain, re.MULTILINE), plain


def test_summary_table_header(plain: str) -> None:
    assert re.search(r"^host\s+role\s+address\s+status\s+errors\s+warnings\s+info$", plain, re.MULTILINE)


def test_findings_with_evidence_and_fix(plain: str) -> None:
    assert "mp2 (10.0.1.12, message_processor): findings" in plain
    assert "  [ERROR] mp-sni-disabled (sni) SNI is disabled on this message processor" in plain
    assert "  [ERROR] properties-owner (config) " in plain
    assert "/opt/apigee/edge-message-processor/conf/system.properties:12  jsse.enableSNIExtension=false" in plain
    assert "message-processor.properties  owner=root  group=root  mode=0600" in plain  # no line: file only
    assert "      fix: set conf_system_jsse.enableSNIExtension=true in" in plain
    assert "r1 (10.0.2.21, router): findings" in plain
    assert "  [WARNING] router-weak-protocol (protocol) " in plain
    assert '0-default.conf:10  ssl_protocols="TLSv1 TLSv1.1 TLSv1.2"  source=server' in plain


def test_failures_show_category_and_message(plain: str) -> None:
    assert "mp3 (10.0.1.13, message_processor): unreachable" in plain
    assert "  unreachable: cannot connect to 10.0.1.13:22: [Errno 113] No route to host" in plain
    assert "r2 (10.0.2.22, router): error" in plain
    assert "  become: sudo: a password is required (set ansible_become_password)" in plain


def test_healthy_hosts_have_no_detail_section(plain: str) -> None:
    assert "mp1 (" not in plain


def test_order_follows_the_run(plain: str) -> None:
    positions = [plain.index(f"{name} (") for name in ("mp2", "r1", "mp3", "r2")]
    assert positions == sorted(positions)
    assert plain.index("[ERROR] properties-owner") < plain.index("[ERROR] mp-sni-disabled")


def test_totals_line_is_last_and_explains_the_exit_code(plain: str) -> None:
    last = plain.rstrip("\n").splitlines()[-1]
    assert last == (
        "5 hosts: 1 ok, 2 findings, 1 unreachable, 1 error; 2 errors, 1 warning, 0 info; "
        "exit 3: a host could not be inspected"
    )
    assert totals_line(sample_run()) == last


def test_totals_of_other_runs() -> None:
    assert totals_line(clean_run()).endswith("exit 0: clean: no error findings")
    assert totals_line(findings_run()).endswith("exit 1: error findings")
    assert totals_line(make_run(*clean_run().hosts[:1])).startswith("1 host: 1 ok, ")


def test_clean_run_has_no_sections() -> None:
    text = render_text(clean_run(), color=False)
    assert "[ERROR]" not in text
    assert "fix:" not in text


def test_empty_run() -> None:
    text = render_text(make_run(), color=False)
    assert "no hosts" in text
    assert text.rstrip().endswith("exit 0: clean: no error findings")


def test_lines_fit_the_width_and_have_no_trailing_blanks(plain: str) -> None:
    lines = plain.splitlines()
    for line in lines[:-1]:  # the totals line is never wrapped, however long
        assert len(line) <= WIDTH, line
    assert any(len(line) > WIDTH - 10 for line in lines)  # long text is wrapped near the width
    for line in lines:
        assert line == line.rstrip(), repr(line)
    assert plain.endswith("\n")


def _host_with(message: str, values: dict[str, str]) -> HostResult:
    finding = Finding(
        id="mp-restart-pending", severity="warning", cause="config", message=message,
        evidence=(Evidence(None, None, values), Evidence(None, 7, {})), remediation="[red]restart[/red]",
    )
    return HostResult("mp9", "10.0.0.9", "message_processor", "findings", findings=(finding,))


def test_markup_in_data_is_printed_literally() -> None:
    text = render_text(make_run(_host_with("[bold]not markup[/bold] :smile:", {"k": "[x]"})), color=True)
    assert "[bold]not markup[/bold] :smile:" in text
    assert "fix: \x1b[0m[red]restart[/red]" in text or "fix: [red]restart[/red]" in text
    assert "k\x1b[0m=[x]" in text


def test_evidence_without_file_and_quoting() -> None:
    text = render_text(make_run(_host_with("m", {"empty": "", "spaced": 'a "b"'})), color=False)
    assert '(no file)  empty=""  spaced="a \\"b\\""' in text
    assert "      (line 7)\n" in text


def test_secrets_never_shown() -> None:
    host = _host_with("m", {"conf_http_client.keystore.password": SECRET_VALUE})
    for color in (False, True):
        text = render_text(make_run(host, *sample_run().hosts), color=color)
        assert SECRET_VALUE not in text
        assert "conf_http_client.keystore.password" in text


# -- the dry run: playbook, actions and diff per finding -------------------------------------------------


def test_each_fixable_finding_shows_its_playbook_command_and_diff(plain: str) -> None:
    assert "      playbook: fixer apply enable-sni.yml -i inventory/prod.yml -l mp2\n" in plain
    assert "      playbook: fixer apply fix-ownership.yml -i inventory/prod.yml -l mp2\n" in plain
    assert "      playbook: fixer apply router-tls.yml -i inventory/prod.yml -l r1\n" in plain
    assert "      would run: /opt/apigee/apigee-service/bin/apigee-service edge-message-processor restart" in plain
    sni = plain[plain.index("[ERROR] mp-sni-disabled"):plain.index("r1 (10.0.2.21")]
    assert "      diff:\n" in sni
    for line in SNI_DIFF.splitlines():  # indented under the finding, whole, in order
        assert f"        {line}".rstrip() + "\n" in sni
    assert sni.index("-conf_system_jsse.enableSNIExtension=false") < sni.index("+conf_system_jsse")
    assert "        # owner root:root -> apigee:apigee\n" in plain


def test_diff_lines_are_coloured_and_never_wrapped() -> None:
    long_line = "+conf_x=" + "y" * 300
    finding = Finding(id="mp-sni-disabled", severity="error", cause="sni", message="m", evidence=(),
                      remediation="r", playbook="enable-sni.yml", diff=f"@@ -1 +1 @@\n-old\n{long_line}\n")
    host = HostResult("mp9", "10.0.0.9", "message_processor", "findings", findings=(finding,))
    plain = render_text(make_run(host), color=False)
    assert f"        {long_line}\n" in plain
    colored = render_text(make_run(host), color=True)
    assert re.search(r"\x1b\[32m\+conf_x=y+\x1b\[0m", colored)  # green additions
    assert re.search(r"\x1b\[31m-old\x1b\[0m", colored)  # red removals


def _fixable(fid: str, **kw: object) -> Finding:
    base = Finding(id=fid, severity="warning", cause="protocol", message="m", evidence=(), remediation="r")
    return replace(base, **kw)  # type: ignore[arg-type]


def test_same_plan_is_shown_once_per_host() -> None:
    plan = {"playbook": "router-tls.yml", "diff": ROUTER_DIFF, "actions": (ROUTER_RESTART,)}
    host = HostResult("r1", "10.0.2.21", "router", "findings",
                      findings=(_fixable("router-weak-protocol", **plan), _fixable("router-config-drift", **plan)))
    text = render_text(make_run(host), color=False)
    assert text.count("+conf_load_balancing_load.balancing.driver.server.ssl.protocols=TLSv1.2 TLSv1.3") == 1
    assert "-l r1 (same plan as for router-weak-protocol above)" in text


def test_restart_only_plan_notes_and_planning_failures() -> None:
    host = HostResult("mp9", "10.0.0.9", "message_processor", "findings", findings=(
        _fixable("mp-restart-pending", playbook="restart-pending.yml", diff="", actions=(MP_RESTART,)),
        _fixable("jce-limited", playbook="jce-unlimited.yml", diff="",
                 actions=("note: jce-unlimited: no unlimited policy in this Java: install JCE",)),
        _fixable("mp-sni-disabled", playbook="enable-sni.yml", diff="could not plan: no play targets mp9"),
        _fixable("mp-https-protocols"),  # no playbook: nothing more than the fix line
    ))
    text = render_text(make_run(host), color=False)
    assert "      would run: /opt/apigee/apigee-service/bin/apigee-service edge-message-processor restart" in text
    assert text.count("      diff: none (no file changes)\n") == 2
    assert "      note: jce-unlimited: no unlimited policy in this Java: install JCE\n" in text
    assert "      could not plan: no play targets mp9\n" in text
    assert text.count("playbook: ") == 3
