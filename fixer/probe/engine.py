"""Probe one target: four protocol handshakes with SNI plus one without, concurrently within a bound."""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from fixer.probe.handshake import (
    Stream,
    failure_from_exception,
    handshake,
    make_context,
    protocol_label,
    tcp_connect,
)
from fixer.probe.model import PROTOCOLS, CertSummary, HandshakeResult, ProbeResult, ProbeTarget
from fixer.probe.suites import combine, submit_scans

Connect = Callable[[str, int, float], Stream]

__all__ = ["Connect", "attempt", "probe", "sni_name", "summarize", "tcp_connect"]


def sni_name(target: ProbeTarget) -> str | None:
    """The name sent as SNI: `servername`, else the host when it is a name (never an IP literal)."""
    if target.servername:
        return target.servername
    try:
        ipaddress.ip_address(target.host.strip("[]"))
    except ValueError:
        return target.host.rstrip(".") or None
    return None


def attempt(
    target: ProbeTarget,
    protocol: str | tuple[str, str],
    servername: str | None,
    timeout: float,
    connect: Connect = tcp_connect,
    context: ssl.SSLContext | None = None,
) -> HandshakeResult:
    """Connect and handshake once; `timeout` bounds both together. Never raises."""
    start = time.monotonic()
    try:
        stream = connect(target.host, target.port, timeout)
    except Exception as exc:
        return HandshakeResult(protocol_offered=protocol_label(protocol), sni=servername is not None, ok=False,
                               servername=servername, failure=failure_from_exception(exc),
                               elapsed=round(time.monotonic() - start, 4))
    try:
        remaining = max(0.001, timeout - (time.monotonic() - start))
        return handshake(stream, protocol, servername, remaining, context)
    finally:
        with contextlib.suppress(Exception):
            stream.close()


def _rank(h: HandshakeResult) -> int:
    return PROTOCOLS.index(h.negotiated_protocol) if h.negotiated_protocol in PROTOCOLS else -1


def probe(
    target: ProbeTarget,
    timeout: float = 5.0,
    connect: Connect = tcp_connect,
    max_parallel: int = 4,
    ciphers: bool = False,
) -> ProbeResult:
    """Which protocols `target` accepts, whether it needs SNI, the chains it shows. Never raises for I/O.

    Phase 1 (concurrent): one handshake per protocol with SNI (when there is a name to send) and one without
    SNI offering the whole TLSv1..TLSv1.3 range, so the server picks its best protocol as it would with SNI.
    Phase 2, only when the no-SNI handshake failed while an SNI one worked: one confirming no-SNI handshake
    pinned to the best SNI protocol with the same cipher offer, so "SNI required" is not an artefact of the
    wider offer.
    `ciphers=True` also finds the cipher suites accepted per protocol (`ProbeResult.suites`, fixer.probe.suites):
    one elimination loop per protocol, sharing the same pool (so the same bound) with phase 1.
    """
    name = sni_name(target)
    # contexts are built here, in the caller's thread: make_context silences a DeprecationWarning
    contexts = {p: make_context(p) for p in PROTOCOLS}
    range_ctx = make_context((PROTOCOLS[0], PROTOCOLS[-1]))
    with ThreadPoolExecutor(max_workers=max(1, max_parallel), thread_name_prefix="probe") as pool:
        sni_futs = [pool.submit(attempt, target, p, name, timeout, connect, contexts[p]) for p in PROTOCOLS]
        nosni_fut = (pool.submit(attempt, target, (PROTOCOLS[0], PROTOCOLS[-1]), None, timeout, connect, range_ctx)
                     if name is not None else None)
        suite_futs = submit_scans(pool, target, name, timeout, connect) if ciphers else []
        with_sni = [f.result() for f in sni_futs]
        nosni = [nosni_fut.result()] if nosni_fut is not None else []
        scans = [f.result() for f in suite_futs]

    result = summarize(target, name, with_sni, nosni, lambda proto: attempt(
        target, proto, None, timeout, connect, contexts.get(proto)))
    return dataclasses.replace(result, suites=combine(scans)) if ciphers else result


def summarize(
    target: ProbeTarget,
    name: str | None,
    with_sni: list[HandshakeResult],
    nosni: list[HandshakeResult],
    confirm: Callable[[str], HandshakeResult] | None = None,
) -> ProbeResult:
    """The verdicts from phase 1 handshakes (`confirm(protocol)` runs phase 2's no-SNI handshake)."""
    ok_sni = [h for h in with_sni if h.ok]
    best = max(ok_sni, key=_rank, default=None)
    if best is not None and nosni and not nosni[0].ok and confirm is not None:
        proto = best.negotiated_protocol if best.negotiated_protocol in PROTOCOLS else best.protocol_offered
        nosni = [*nosni, confirm(proto)]
    nosni_ok = next((h for h in nosni if h.ok), None)
    sni_required: bool | None = None
    changes: bool | None = None
    if name is not None and best is not None and nosni:
        sni_required = nosni_ok is None
        if nosni_ok is not None and best.leaf is not None and nosni_ok.leaf is not None:
            changes = best.leaf.sha256 != nosni_ok.leaf.sha256

    chain_with: tuple[CertSummary, ...] = ()
    if name is None:  # an IP without --servername: the per-protocol handshakes are the no-SNI ones
        chain_without = best.peer_chain if best else ()
    else:
        chain_with = best.peer_chain if best else ()
        chain_without = nosni_ok.peer_chain if nosni_ok else ()
    return ProbeResult(
        target=target,
        protocols={h.protocol_offered: h.ok for h in with_sni},
        sni_required=sni_required,
        sni_changes_certificate=changes,
        chain_with_sni=chain_with,
        chain_without_sni=chain_without,
        negotiated=best,
        handshakes=tuple(with_sni + nosni),
    )
