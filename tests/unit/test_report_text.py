"""The terminal report: summary rows, per-host findings and failures, totals, plain text when piped."""

from __future__ import annotations

import re

import pytest

from fixer.checks.model import Evidence, Finding
from fixer.report.text import WIDTH, render_text, totals_line
from fixer.result import HostResult
from tests.unit.sample_run import SECRET_VALUE, clean_run, findings_run, make_run, sample_run

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
