"""`fixer pcap` reports: text (rich, for people), JSON (for tools, described by schema.json) and HTML (one
self-contained page from templates/pcap.html.j2).

JSON schema version 1.0 (`fixer/pcap/schema.json`, draft 2020-12). Times are seconds since the epoch as the
capture recorded them (floats); `start_utc` repeats a connection's start in ISO 8601 for people. Every key is
always present (null when unknown); `summary.by_verdict` lists every verdict, zeros included.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from io import StringIO
from pathlib import Path
from typing import Any

import fixer
from fixer.errors import FixerError
from fixer.pcap.analyze import EXIT_CODE_MEANINGS, FAILED_VERDICTS, Summary, summarize
from fixer.pcap.model import Alert, Analysis, ClientHello, Connection, ServerHello
from fixer.probe.model import CertSummary

SCHEMA_VERSION = "1.0"
TEMPLATE = "pcap.html.j2"
WIDTH = 120
SHOWN_SUITES = 4
SHOWN_ANCHORS = 12  # links from a server of the HTML summary to its connections
SHOWN_PEER_ITEMS = 6  # SNI names and clients per server in the text and HTML summaries
_TRAILING_BLANKS = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)


class PcapSchemaError(FixerError):
    """A `fixer pcap` JSON document that does not match schema.json."""


def verdict_class(kind: str) -> str:
    """ok | failed | unknown: how a verdict is coloured."""
    if kind == "ok":
        return "ok"
    return "failed" if kind in FAILED_VERDICTS else "unknown"


def utc(ts: float | None, ms: bool = True) -> str:
    if ts is None:
        return "-"
    when = dt.datetime.fromtimestamp(ts, dt.UTC)
    text = when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if ms else when.strftime("%Y-%m-%d %H:%M:%S")
    return text + " UTC"


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def rel(ts: float | None, start: float) -> str:
    return "-" if ts is None else f"+{max(ts - start, 0.0):.3f} s"


def suites_line(ch: ClientHello, shown: int = SHOWN_SUITES) -> str:
    """`17 suites (+1 signalling value): A, B, C, D, ... (+14 more)`: SCSVs are listed, not counted."""
    suites = ch.cipher_suites
    if not suites:
        return "0 suites"
    signalling = sum(1 for s in suites if s.endswith("_SCSV"))
    real = len(suites) - signalling
    count = f"{real} suite{'s' if real != 1 else ''}"
    if signalling:
        count += f" (+{signalling} signalling value{'s' if signalling != 1 else ''})"
    more = f", ... (+{len(suites) - shown} more)" if len(suites) > shown else ""
    return f"{count}: {', '.join(suites[:shown])}{more}"


def versions_line(ch: ClientHello) -> str:
    parts = [f"legacy {ch.legacy_version}", f"record {ch.record_version}"]
    if ch.supported_versions:
        parts.append("supported_versions " + ", ".join(ch.supported_versions))
    return f"max {ch.max_version} ({'; '.join(parts)})"


def sni_line(ch: ClientHello) -> str:
    if ch.server_name:
        return f"SNI {ch.server_name}"
    return "SNI extension without a host name" if ch.sni_present else "no SNI (no server_name extension)"


def alert_line(alert: Alert) -> str:
    peer = "server" if alert.sender == "client" else "client"
    if alert.encrypted:
        size = f"{alert.length}-byte record, " if alert.length else ""
        what = f"encrypted alert ({size}level and description hidden)"
        if alert.inferred:
            what += f"; inferred: {alert.inferred}"
    else:
        what = f"{alert.level or '?'} {alert.description or '?'} (plaintext)"
    return f"{alert.sender} → {peer}: {what}"


def cert_lines(cert: CertSummary) -> list[str]:
    if cert.parse_error:
        return [f"<unparseable: {cert.parse_error}> sha256={cert.sha256}"]
    lines = [f"subject {cert.subject}", f"issuer  {cert.issuer}"]
    if cert.sans:
        lines.append("SANs    " + ", ".join(cert.sans))
    nb = cert.not_before.strftime("%Y-%m-%d") if cert.not_before else "?"
    na = cert.not_after.strftime("%Y-%m-%d") if cert.not_after else "?"
    lines.append(f"valid   {nb} .. {na}")
    return lines


def shortlist(items: Sequence[str], keep: int = SHOWN_PEER_ITEMS) -> list[str]:
    """At most `keep` items, the last one saying how many more there are."""
    if len(items) <= keep:
        return list(items)
    return [*items[:keep - 1], f"(+{len(items) - keep + 1} more)"]


def fix_refs(finding: str | None, playbook: str | None) -> str:
    parts = []
    if finding:
        parts.append(f"fixer check finding {finding}")
    if playbook:
        parts.append(f"playbook {playbook}")
    return "; ".join(parts)


# ---- JSON ----------------------------------------------------------------------------------------------

def _dt(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _client_hello(ch: ClientHello | None) -> dict[str, Any] | None:
    if ch is None:
        return None
    return {
        "time": ch.time, "record_version": ch.record_version, "legacy_version": ch.legacy_version,
        "supported_versions": list(ch.supported_versions), "max_version": ch.max_version,
        "cipher_suites": list(ch.cipher_suites), "server_name": ch.server_name, "sni_present": ch.sni_present,
        "extensions": list(ch.extensions), "alpn": list(ch.alpn),
    }


def _server_hello(sh: ServerHello | None) -> dict[str, Any] | None:
    if sh is None:
        return None
    return {"time": sh.time, "legacy_version": sh.legacy_version, "version": sh.version,
            "cipher_suite": sh.cipher_suite, "hello_retry_request": sh.hello_retry_request}


def _cert(cert: CertSummary) -> dict[str, Any]:
    return {"subject": cert.subject, "issuer": cert.issuer, "sans": list(cert.sans),
            "not_before": _dt(cert.not_before), "not_after": _dt(cert.not_after), "sha256": cert.sha256,
            "serial": cert.serial, "parse_error": cert.parse_error}


def _alert(alert: Alert) -> dict[str, Any]:
    return {"time": alert.time, "sender": alert.sender, "encrypted": alert.encrypted, "level": alert.level,
            "description": alert.description, "inferred": alert.inferred, "length": alert.length}


def connection_to_dict(index: int, conn: Connection) -> dict[str, Any]:
    obs, v = conn.obs, conn.verdict
    close = None if obs.closed_by is None else {"by": obs.closed_by, "kind": obs.close_kind, "time": obs.close_time}
    return {
        "index": index,
        "client": {"ip": obs.client.ip, "port": obs.client.port},
        "server": {"ip": obs.server.ip, "port": obs.server.port},
        "start": obs.start, "end": obs.end, "start_utc": iso(obs.start), "duration_s": max(obs.end - obs.start, 0.0),
        "packets": obs.packets, "bytes_client": obs.bytes_client, "bytes_server": obs.bytes_server,
        "syn_seen": obs.syn_seen, "handshake_done": obs.handshake_done,
        "client_hello": _client_hello(obs.client_hello),
        "server_hello": _server_hello(obs.server_hello),
        "certificates": [_cert(c) for c in obs.certificates],
        "alerts": [_alert(a) for a in obs.alerts],
        "records_after_hello": {"client": list(obs.client_records_after_hello),
                                "server": list(obs.server_records_after_hello),
                                "client_lengths": list(obs.client_record_lengths_after_hello),
                                "server_lengths": list(obs.server_record_lengths_after_hello)},
        "close": close,
        "notes": list(obs.notes),
        "verdict": {"kind": v.kind, "reason": v.reason, "inferred": v.inferred, "remediation": v.remediation,
                    "finding": v.finding, "playbook": v.playbook, "chain_check": v.chain_check},
    }


def summary_to_dict(summary: Summary) -> dict[str, Any]:
    return {
        "connections": summary.connections, "by_verdict": dict(summary.by_verdict), "failed": summary.failed,
        "inferred": summary.inferred,
        "peers": [{"server": p.server, "connections": p.connections, "by_verdict": dict(p.by_verdict),
                   "server_names": list(p.server_names), "clients": list(p.clients), "failed": p.failed}
                  for p in summary.peers],
        "exit_code": summary.exit_code,
    }


def analysis_to_dict(analysis: Analysis) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "fixer", "version": fixer.__version__},
        "files": list(analysis.files),
        "packets": analysis.packets,
        "partial": analysis.partial,
        "notes": list(analysis.notes),
        "connections": [connection_to_dict(i, c) for i, c in enumerate(analysis.connections, start=1)],
        "summary": summary_to_dict(summarize(analysis)),
    }


def render_json(analysis: Analysis) -> str:
    """One line of JSON (pipe it to `jq .` to read it): a capture can hold thousands of connections, and
    `indent` makes Python's encoder pure Python, 3x slower."""
    return json.dumps(analysis_to_dict(analysis), ensure_ascii=False) + "\n"


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `fixer pcap --format json`, shipped as package data."""
    text = resources.files("fixer.pcap").joinpath("schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate(doc: dict[str, Any]) -> None:
    """Raise PcapSchemaError naming where and why `doc` breaks the schema."""
    import jsonschema  # slow to import; rendering never needs it

    validator = jsonschema.Draft202012Validator(load_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(document)"
        raise PcapSchemaError(f"pcap report does not match its schema at {where}: {error.message}")


# ---- text ----------------------------------------------------------------------------------------------

VERDICT_STYLE = {"ok": "green", "failed": "bold red", "unknown": "yellow"}


def _console(color: bool) -> Any:
    from rich.console import Console

    return Console(file=StringIO(), width=WIDTH, force_terminal=color, no_color=not color,
                   color_system="standard" if color else None, force_jupyter=False, force_interactive=False,
                   legacy_windows=False, highlight=False, emoji=False, markup=False, soft_wrap=False)


INDENT = " " * 4
LABEL_WIDTH = 14  # "Certificates" and two blanks
BODY_WIDTH = WIDTH - len(INDENT) - LABEL_WIDTH


def _wrap(line: str) -> list[str]:
    return textwrap.wrap(line, BODY_WIDTH, break_on_hyphens=False, replace_whitespace=False) or [""]


def _row(out: Any, label: str, *lines: str, style: str = "", lead: tuple[tuple[str, str], ...] = ()) -> None:
    """One labelled block of wrapped lines (plain textwrap: rich's table layout costs ~2 ms a connection).
    `lead`: (text, style) pieces the first line starts with, styled apart from the rest."""
    first = True
    for line in lines:
        for piece in _wrap(line):
            out.append(INDENT)
            out.append(f"{label if first else '':<{LABEL_WIDTH}}", style="bold")
            rest = piece
            if first:
                for text, lead_style in lead:
                    if rest.startswith(text):
                        out.append(text, style=lead_style)
                        rest = rest[len(text):]
            out.append(rest, style=style)
            out.append("\n")
            first = False


def _connection_text(index: int, conn: Connection) -> Any:
    from rich.text import Text

    obs, v = conn.obs, conn.verdict
    out = Text()
    out.append(f"#{index} {obs.client} → {obs.server}", style="bold")
    out.append(f"  {utc(obs.start)}, {max(obs.end - obs.start, 0.0):.3f} s, {obs.packets} packets, "
               f"{obs.bytes_client}/{obs.bytes_server} bytes client/server\n", style="dim")
    ch, sh = obs.client_hello, obs.server_hello
    if ch is not None:
        alpn = [f"ALPN {', '.join(ch.alpn)}"] if ch.alpn else []
        _row(out, "ClientHello", f"{rel(ch.time, obs.start)}  {versions_line(ch)}", sni_line(ch), suites_line(ch),
             f"extensions: {', '.join(ch.extensions) or 'none'}", *alpn)
    elif v.kind != "not-tls":
        _row(out, "ClientHello", "not captured")
    if sh is not None:
        hrr = "  (HelloRetryRequest)" if sh.hello_retry_request else ""
        _row(out, "ServerHello", f"{rel(sh.time, obs.start)}  {sh.version} {sh.cipher_suite}{hrr}")
    if obs.certificates:
        lines: list[str] = []
        for depth, cert in enumerate(obs.certificates):
            for j, line in enumerate(cert_lines(cert)):
                lines.append(f"{depth}: {line}" if j == 0 else f"   {line}")
        _row(out, "Certificates", *lines)
    elif sh is not None and sh.version == "TLSv1.3":
        _row(out, "Certificates", "encrypted (TLS 1.3)", style="dim")
    for alert in obs.alerts:
        _row(out, "Alert", f"{rel(alert.time, obs.start)}  {alert_line(alert)}")
    if obs.closed_by is not None:
        _row(out, "Closed", f"{rel(obs.close_time, obs.start)}  by the {obs.closed_by} "
                            f"({(obs.close_kind or '?').upper()})")
    kind = v.kind.upper()
    marker = "  (inferred)" if v.inferred else ""
    _row(out, "Verdict", f"{kind}{marker}  {v.reason}",
         lead=((kind, VERDICT_STYLE[verdict_class(v.kind)]), (marker, "yellow")))
    if v.chain_check:
        _row(out, "Chain check", v.chain_check)
    if v.remediation:
        refs = fix_refs(v.finding, v.playbook)
        _row(out, "Fix", v.remediation + (f"  [{refs}]" if refs else ""))
    if obs.notes:
        _row(out, "Notes", *obs.notes)
    return out


def _summary_text(console: Any, summary: Summary) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    console.print(Text("Summary", style="bold"))
    counts = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    counts.add_column("verdict")
    counts.add_column("connections", justify="right")
    for kind, n in summary.by_verdict.items():
        if n:
            counts.add_row(Text(kind, style=VERDICT_STYLE[verdict_class(kind)]), str(n))
    console.print(counts)
    console.print()
    peers = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    peers.add_column("server", overflow="fold")
    peers.add_column("connections", justify="right")
    peers.add_column("verdicts", overflow="fold")
    peers.add_column("SNI names", overflow="fold")
    peers.add_column("clients", overflow="fold")
    for p in summary.peers:
        verdicts = Text()
        for i, (kind, n) in enumerate(p.by_verdict.items()):
            if i:
                verdicts.append("\n")
            verdicts.append(f"{n} {kind}", style=VERDICT_STYLE[verdict_class(kind)])
        peers.add_row(p.server, str(p.connections), verdicts, "\n".join(shortlist(p.server_names)) or "-",
                      "\n".join(shortlist(p.clients)))
    if summary.peers:
        console.print(peers)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def render_text(analysis: Analysis, color: bool = False) -> str:
    from rich.text import Text

    summary = summarize(analysis)
    console = _console(color)
    files = ", ".join(analysis.files)
    console.print(Text(f"fixer pcap: {files}: {_n(analysis.packets, 'packet')}, "
                       f"{_n(summary.connections, 'connection')}", style="bold"))
    for note in analysis.notes:
        console.print(Text(f"note: {note}", style="yellow"))
    console.print()
    if not analysis.connections:
        console.print(Text("No TLS connection found (--all lists every TCP connection).", style="yellow"))
        console.print()
    for index, conn in enumerate(analysis.connections, start=1):
        console.print(_connection_text(index, conn), soft_wrap=True)
    _summary_text(console, summary)
    tail = Text()
    tail.append(f"{_n(summary.connections, 'connection')}: {summary.failed} failed, "
                f"{_n(summary.inferred, 'verdict')} inferred. ")
    tail.append(f"exit code {summary.exit_code}: {EXIT_CODE_MEANINGS[summary.exit_code]}",
                style="bold " + ("green" if summary.exit_code == 0 else "red" if summary.exit_code == 1 else "yellow"))
    console.print(tail)
    out: str = console.file.getvalue()
    return _TRAILING_BLANKS.sub(r"\1", out)


# ---- HTML ----------------------------------------------------------------------------------------------

def template_dirs() -> list[Path]:
    """Where pcap.html.j2 is looked for: the source tree, then an installed share/ directory."""
    return [Path(fixer.__file__).resolve().parent.parent / "templates",
            Path(sys.prefix) / "share" / "fixer" / "templates"]


def template_dir() -> Path:
    for candidate in template_dirs():
        if (candidate / TEMPLATE).is_file():
            return candidate
    tried = ", ".join(str(d) for d in template_dirs())
    raise FixerError(f"HTML template {TEMPLATE} not found (looked in {tried})")


@dataclass(frozen=True)
class ConnectionView:
    anchor: str
    index: int
    title: str
    when: str
    facts: str
    verdict: str
    css: str  # ok | failed | unknown
    inferred: bool
    reason: str
    remediation: str
    refs: str
    chain_check: str | None
    rows: list[tuple[str, list[str]]]  # label, lines (hellos, certificates, alerts, close)
    notes: list[str]


def _view(index: int, conn: Connection) -> ConnectionView:
    obs, v = conn.obs, conn.verdict
    rows: list[tuple[str, list[str]]] = []
    ch, sh = obs.client_hello, obs.server_hello
    if ch is not None:
        rows.append(("ClientHello", [f"{rel(ch.time, obs.start)}  {versions_line(ch)}", sni_line(ch),
                                     suites_line(ch), "extensions: " + (", ".join(ch.extensions) or "none")]
                     + ([f"ALPN {', '.join(ch.alpn)}"] if ch.alpn else [])))
    elif v.kind != "not-tls":
        rows.append(("ClientHello", ["not captured"]))
    if sh is not None:
        hrr = " (HelloRetryRequest)" if sh.hello_retry_request else ""
        rows.append(("ServerHello", [f"{rel(sh.time, obs.start)}  {sh.version} {sh.cipher_suite}{hrr}"]))
    for depth, cert in enumerate(obs.certificates):
        rows.append((f"certificate {depth}", cert_lines(cert)))
    if not obs.certificates and sh is not None and sh.version == "TLSv1.3":
        rows.append(("certificates", ["encrypted (TLS 1.3)"]))
    for alert in obs.alerts:
        rows.append(("alert", [f"{rel(alert.time, obs.start)}  {alert_line(alert)}"]))
    if obs.closed_by is not None:
        rows.append(("closed", [f"{rel(obs.close_time, obs.start)}  by the {obs.closed_by} "
                                f"({(obs.close_kind or '?').upper()})"]))
    return ConnectionView(
        anchor=f"c{index}", index=index, title=f"{obs.client} → {obs.server}", when=utc(obs.start),
        facts=f"{max(obs.end - obs.start, 0.0):.3f} s · {obs.packets} packets · "
              f"{obs.bytes_client}/{obs.bytes_server} bytes client/server",
        verdict=v.kind, css=verdict_class(v.kind), inferred=v.inferred, reason=v.reason,
        remediation=v.remediation, refs=fix_refs(v.finding, v.playbook), chain_check=v.chain_check, rows=rows,
        notes=list(obs.notes),
    )


def environment() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir())), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def render_html(analysis: Analysis) -> str:
    summary = summarize(analysis)
    views = [_view(i, c) for i, c in enumerate(analysis.connections, start=1)]
    rendered: str = environment().get_template(TEMPLATE).render(
        version=fixer.__version__,
        files=list(analysis.files),
        packets=analysis.packets,
        notes=list(analysis.notes),
        summary=summary,
        verdict_classes={k: verdict_class(k) for k in summary.by_verdict},
        exit_meaning=EXIT_CODE_MEANINGS[summary.exit_code],
        connections=views,
        anchors=_anchors_by_peer(views, analysis.connections),
        shortlist=shortlist,
    )
    return rendered


def _anchors_by_peer(views: Sequence[ConnectionView], conns: Sequence[Connection]) -> dict[str, list[str]]:
    """Per server, links to its first connections (failures first), at most SHOWN_ANCHORS."""
    out: dict[str, list[str]] = {}
    ranked = sorted(zip(views, conns, strict=True), key=lambda vc: (vc[0].css != "failed", vc[0].index))
    for view, conn in ranked:
        links = out.setdefault(str(conn.obs.server), [])
        if len(links) < SHOWN_ANCHORS:
            links.append(view.anchor)
    return out
