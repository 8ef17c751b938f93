"""`fixer pcap FILE...`: read packet captures and name what went wrong in each TLS handshake (issue 5).

Exit codes: 0 every TLS connection completed its handshake (or none was found); 1 some connection failed
(a verdict other than ok, incomplete and not-tls); 2 bad input (a missing file, not a capture, bad option);
4 partial result (a truncated or damaged file, skipped packets, a handshake the capture does not show whole)
and nothing failed.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import click

from fixer.cli.common import fail_usage, write_output
from fixer.errors import FixerError

if TYPE_CHECKING:
    from fixer.pcap.model import Analysis

log = logging.getLogger(__name__)


def _render(analysis: Analysis, fmt: str, color: bool) -> str:
    from fixer.pcap.render import render_html, render_json, render_text

    if fmt == "json":
        return render_json(analysis)
    if fmt == "html":
        return render_html(analysis)
    return render_text(analysis, color=color)


@click.command()
@click.argument("files", metavar="FILE...", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True,
              help="text for people, json (schema: fixer/pcap/schema.json), html (one self-contained page).")
@click.option("--port", type=click.IntRange(1, 65535), metavar="P",
              help="Only connections with port P at either end (without it, TLS is found on any port).")
@click.option("--all", "include_non_tls", is_flag=True,
              help="Also list TCP connections on which no TLS was seen (verdict not-tls).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write the report to FILE (atomically) instead of stdout.")
def pcap(files: tuple[str, ...], fmt: str, port: int | None, include_non_tls: bool, output: str | None) -> None:
    """Diagnose the TLS handshakes in packet captures (pcap or pcapng, e.g. `tcpdump -i any -s 0 -w FILE`).

    Per connection: endpoints and times, ClientHello (versions, suites, SNI), ServerHello, certificates,
    alerts (sender, plaintext or encrypted), and a verdict: ok, protocol-mismatch, cipher-mismatch,
    sni-missing, sni-unrecognized, certificate-rejected, server-closed, incomplete, connection-refused
    (not-tls with --all), with the remediation and the matching `fixer check` finding and playbook. Verdicts
    drawn from patterns (TLS 1.3 hides alerts) are marked inferred. A summary groups connections by verdict
    and by server.

    \b
    Exit status:
      0  every TLS connection completed its handshake (or the captures hold none)
      1  some connection failed (a verdict other than ok, incomplete, not-tls)
      2  bad input: a missing or unreadable file, not a capture, a bad option
      4  partial result, no failure: truncated or damaged file, skipped packets,
         or a handshake the capture does not show whole (incomplete)
    """
    from fixer.pcap.analyze import analyze

    try:
        analysis = analyze(list(files), port=port, include_non_tls=include_non_tls)
    except (FixerError, OSError) as exc:
        fail_usage(exc)
    except Exception as exc:  # never a traceback for a bad capture; -vv logs it
        log.debug("reading %s failed", ", ".join(files), exc_info=True)
        fail_usage(f"cannot read {', '.join(files)}: {type(exc).__name__}: {exc}")
    color = fmt == "text" and output in (None, "-") and sys.stdout.isatty()
    try:
        report = _render(analysis, fmt, color)
        write_output(report, output)
    except (FixerError, OSError) as exc:
        fail_usage(exc)
    from fixer.pcap.analyze import exit_code

    sys.exit(exit_code(analysis))
