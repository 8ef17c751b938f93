"""Probe results as text (for people) and JSON (for tools)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from fixer.probe.model import (
    PROTOCOLS,
    CertSummary,
    Failure,
    HandshakeResult,
    ProbeResult,
    SuiteScan,
    to_jsonable,
)

# 1.1: `via` and `vantage` per result; `suites` (null unless --ciphers) is an additive, optional member
JSON_SCHEMA_VERSION = "1.1"


def describe_failure(f: Failure | None) -> str:
    if f is None:
        return "ok"
    if f.kind == "alert":
        return f"alert {f.alert}"
    if f.kind == "verify":
        return f"verify error {f.verify_code}: {f.message}"
    detail = f.message.strip()
    return f"{f.kind}: {detail}" if detail and detail != f.kind else f.kind


def _tri(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _chain_lines(chain: Sequence[CertSummary], indent: str = "    ") -> list[str]:
    lines: list[str] = []
    for depth, cert in enumerate(chain):
        if cert.parse_error:
            lines.append(f"{indent}{depth}: <unparseable: {cert.parse_error}> sha256={cert.sha256}")
            continue
        lines.append(f"{indent}{depth}: subject={cert.subject}")
        lines.append(f"{indent}   issuer={cert.issuer}")
        if cert.sans:
            lines.append(f"{indent}   SANs={', '.join(cert.sans)}")
        nb = cert.not_before.isoformat() if cert.not_before else "?"
        na = cert.not_after.isoformat() if cert.not_after else "?"
        lines.append(f"{indent}   valid {nb} .. {na}")
        lines.append(f"{indent}   sha256={cert.sha256}")
    return lines


def _handshake_line(h: HandshakeResult) -> str:
    sni = f"SNI {h.servername}" if h.sni else "no SNI"
    outcome = f"ok {h.negotiated_protocol} {h.cipher}" if h.ok else describe_failure(h.failure)
    return f"    {h.protocol_offered:<16} {sni:<28} {outcome}  ({h.elapsed * 1000:.0f} ms)"


def describe_via(r: ProbeResult) -> str:
    if r.via == "tunnel":
        return f"tunnel (direct-tcpip through {r.vantage}'s SSH connection)"
    if r.via == "node-openssl":
        return f"node-openssl (openssl s_client run on {r.vantage}: it forbids TCP forwarding)"
    return "control (this machine)"


def _order_label(order: bool | None, count: int) -> str:
    if count < 2:
        return ""
    if order is True:
        return " (in the server's preference order)"
    if order is False:
        return " (the server follows the client's order; listed in the order offered)"
    return " (order undecided: the server neither kept its first pick nor followed the client)"


def _suite_lines(scan: SuiteScan) -> list[str]:
    if not scan.available:
        return [f"  cipher suites: {'; '.join(scan.notes) or 'not available'}"]
    lines = [f"  cipher suites accepted ({scan.handshakes} handshakes):"]
    if not scan.accepted and not scan.stopped:
        lines.append("    none")
    for p in PROTOCOLS:
        suites = scan.accepted.get(p, ())
        stopped = scan.stopped.get(p)
        if not suites and stopped is None:
            continue
        lines.append(f"    {p}{_order_label(scan.server_order.get(p), len(suites))}:")
        lines.extend(f"      {name}" for name in suites)
        if stopped is not None:
            lines.append(f"      (incomplete: {describe_failure(stopped)})")
    lines.extend(f"    note: {note}" for note in scan.notes)
    return lines


def render_text(results: Sequence[ProbeResult], verbose: bool = True) -> str:
    out: list[str] = []
    for r in results:
        out.append(f"{r.target}: {'reachable' if r.reachable else 'NO HANDSHAKE COMPLETED'}")
        out.append(f"  via: {describe_via(r)}")
        accepted = [p for p in PROTOCOLS if r.protocols.get(p)]
        out.append(f"  protocols accepted: {', '.join(accepted) if accepted else 'none'}")
        for p in PROTOCOLS:
            h = next((x for x in r.handshakes if x.protocol_offered == p), None)  # the per-protocol one
            if h is not None and not h.ok:
                out.append(f"    {p}: {describe_failure(h.failure)}")
        if r.negotiated is not None:
            out.append(f"  negotiated: {r.negotiated.negotiated_protocol} {r.negotiated.cipher}")
        out.append(f"  SNI required: {_tri(r.sni_required)}; certificate differs without SNI: "
                   f"{_tri(r.sni_changes_certificate)}")
        if r.chain_with_sni:
            out.append("  chain with SNI:")
            out.extend(_chain_lines(r.chain_with_sni))
        if r.chain_without_sni and (r.sni_changes_certificate or not r.chain_with_sni):
            out.append("  chain without SNI:")
            out.extend(_chain_lines(r.chain_without_sni))
        if r.suites is not None:
            out.extend(_suite_lines(r.suites))
        if any(not h.chain_complete for h in r.handshakes if h.ok):
            out.append("  note: this Python exposes only the leaf certificate of the presented chain")
        if verbose:
            out.append("  handshakes:")
            out.extend(_handshake_line(h) for h in r.handshakes)
    return "\n".join(out) + "\n"


def render_json(results: Sequence[ProbeResult]) -> str:
    doc = {
        "schema_version": JSON_SCHEMA_VERSION,
        "results": [dict(to_jsonable(r), reachable=r.reachable) for r in results],
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"
