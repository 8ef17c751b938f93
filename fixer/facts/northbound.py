"""Controller-side facts of a router: its TLS listeners probed from the control machine, and the trust anchors
(`fixer_router_cafile`) its certificate chains are judged against.

The batched read (fixer.facts.gather) says what nginx is configured to serve; these probes say what it does
serve. Each TLS `listen` of a server block becomes one target (the host's `ansible_host` when the listen names
no address), probed with fixer.probe.engine (TLSv1..TLSv1.3, with and without SNI), several at once, with a
short timeout. `fixer_probe_listeners: false` turns the probes off for a host.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from cryptography import x509

from fixer.errors import UsageError
from fixer.facts.model import ListenerProbe, NginxServer, RouterFacts
from fixer.inventory.model import Host
from fixer.probe.engine import probe
from fixer.probe.model import ProbeResult, ProbeTarget

CAFILE_VAR = "fixer_router_cafile"
PROBE_VAR = "fixer_probe_listeners"
LISTENER_TIMEOUT = 3.0  # seconds per handshake (connect included)
MAX_TARGETS = 16  # distinct (address, port, SNI) probed per router; the rest are reported as skipped
MAX_AT_ONCE = 8  # targets probed concurrently (each runs its handshakes concurrently too)
_WILDCARDS = ("", "*", "0.0.0.0", "::")
_NOT_ANSWERING = ("refused", "timeout", "dns")

Prober = Callable[[ProbeTarget, float], ProbeResult]


@dataclass(frozen=True)
class TrustAnchors:
    """The certificates of `fixer_router_cafile` (a file on the control machine), or why it could not be used."""

    path: str
    certificates: tuple[x509.Certificate, ...] = ()
    error: str | None = None


def iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ListenerTarget:
    server: NginxServer
    listen: str
    address: str
    port: int
    servername: str | None
    compare: bool  # the served leaf must be this block's ssl_certificate
    skip: str | None = None  # why it is not probed


def _disabled(value: Any) -> bool:
    return value is False or str(value).strip().lower() in ("false", "no", "off", "0")


def parse_listen(listen: str) -> tuple[str, int] | None:
    """(address, port) of a `listen` directive's arguments ("" address: every address); None for unix:."""
    first = listen.split()[0] if listen.split() else ""
    if not first or first.startswith("unix:"):
        return None
    if first.startswith("["):
        address, _, rest = first[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else "80"
    elif first.isdigit():
        address, port = "", first
    elif ":" in first:
        address, _, port = first.rpartition(":")
    else:
        address, port = first, "80"
    try:
        number = int(port)
    except ValueError:
        return None
    return address, number


def _tls_listens(server: NginxServer) -> list[str]:
    with_ssl = [item for item in server.listen if "ssl" in item.split()[1:]]
    chosen = with_ssl or (list(server.listen) if server.ssl else [])
    return [item for item in chosen if "quic" not in item.split()[1:]]  # QUIC is UDP: not probed here


def _sni(server: NginxServer) -> str | None:
    """The first server_name a client would send as SNI (no wildcard, regex or catch-all name)."""
    for name in server.server_name:
        n = name.strip()
        if n and n not in ("_", "default", "default_server", "localhost") and not n.startswith(("~", "$", ".")) \
                and "*" not in n:
            try:
                ipaddress.ip_address(n)
            except ValueError:
                return n
    return None


def _is_default(server: NginxServer, port: int, servers: Sequence[NginxServer]) -> bool:
    """Whether nginx picks this block for a handshake without a matching SNI name on `port`."""
    def on_port(s: NginxServer) -> list[str]:
        return [item for item in _tls_listens(s) if (parse_listen(item) or ("", -1))[1] == port]

    flagged = [s for s in servers if any("default_server" in item.split()[1:] for item in on_port(s))]
    if flagged:
        return flagged[0] is server
    first = next((s for s in servers if on_port(s)), None)
    return first is server


def plan_listeners(host: Host, facts: RouterFacts) -> list[ListenerTarget]:
    """Pure: what to probe for each TLS listen of the router's server blocks."""
    targets: list[ListenerTarget] = []
    tls = [s for s in facts.servers if s.ssl]
    for server in tls:
        name = _sni(server)
        for listen in _tls_listens(server):
            parsed = parse_listen(listen)
            if parsed is None:
                continue
            address, port = parsed
            if address in _WILDCARDS:
                address = host.address
            skip = None
            if address != host.address and _loopback(address):
                skip = "bound to a loopback address of the node: not reachable from the control machine"
            compare = name is not None or _is_default(server, port, tls)
            targets.append(ListenerTarget(server, listen, address, port, name, compare, skip))
    return targets


def _loopback(address: str) -> bool:
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _first_failure(result: ProbeResult) -> str:
    for h in result.handshakes:
        if h.failure is not None:
            what = f"alert {h.failure.alert}" if h.failure.alert else h.failure.kind
            return f"{h.protocol_offered}: {what}: {h.failure.message}"[:300]
    return "no handshake"


def _not_answering(result: ProbeResult) -> bool:
    failures = [h.failure for h in result.handshakes if h.failure is not None]
    return not result.reachable and bool(failures) and all(
        f.kind in _NOT_ANSWERING or (f.kind == "error" and f.message.startswith("OSError")) for f in failures
    )


def listener_fact(target: ListenerTarget, result: ProbeResult | None, skip: str | None = None) -> ListenerProbe:
    base = ListenerProbe(file=target.server.file, line=target.server.line, listen=target.listen,
                         address=target.address, port=target.port, servername=target.servername,
                         status="skipped", compare=target.compare)
    why = skip or target.skip
    if why is not None or result is None:
        return replace(base, note=why or "not probed")
    accepted = tuple(p for p, ok in result.protocols.items() if ok)
    leaf = result.negotiated.leaf if result.negotiated is not None else None
    if leaf is not None:
        return replace(base, status="ok", protocols=accepted, served_sha256=leaf.sha256,
                       served_subject=leaf.subject or None,
                       served_not_after=iso(leaf.not_after) if leaf.not_after else None)
    status = "unreachable" if _not_answering(result) else ("ok" if result.reachable else "no-handshake")
    return replace(base, status=status, note=_first_failure(result), protocols=accepted)


def _default_prober(target: ProbeTarget, timeout: float) -> ProbeResult:
    return probe(target, timeout=timeout)


Key = tuple[str, int, str | None]  # (address, port, SNI)


def _probe_all(prober: Prober, keys: Sequence[Key], timeout: float) -> dict[Key, ProbeResult]:
    if not keys:
        return {}
    with ThreadPoolExecutor(max_workers=min(MAX_AT_ONCE, len(keys)), thread_name_prefix="listener") as pool:
        found = pool.map(lambda k: prober(ProbeTarget(*k), timeout), keys)
        return dict(zip(keys, found, strict=True))


def probe_listeners(host: Host, facts: RouterFacts, prober: Prober = _default_prober,
                    timeout: float = LISTENER_TIMEOUT) -> RouterFacts:
    """`facts` with `listeners` filled in (unless `fixer_probe_listeners` is false for the host).

    One probe per distinct (address, port, SNI), at most MAX_TARGETS. First one per (address, port): a port
    that does not answer is not probed again for its other names, so a firewalled router costs one timeout.
    """
    if _disabled(host.vars.get(PROBE_VAR, True)):
        return facts
    targets = plan_listeners(host, facts)
    keys: list[Key] = []
    for t in targets:
        key = (t.address, t.port, t.servername)
        if t.skip is None and key not in keys:
            keys.append(key)
    chosen, dropped = keys[:MAX_TARGETS], set(keys[MAX_TARGETS:])
    first: dict[tuple[str, int], Key] = {}
    for key in chosen:
        first.setdefault(key[:2], key)
    results = _probe_all(prober, list(first.values()), timeout)
    silent = {key[:2] for key, result in results.items() if _not_answering(result)}
    results |= _probe_all(prober, [k for k in chosen if k not in results and k[:2] not in silent], timeout)
    for key in chosen:
        if key not in results:  # its port did not answer the first probe: the same verdict
            results[key] = results[first[key[:2]]]
    listeners = []
    for t in targets:
        key = (t.address, t.port, t.servername)
        skip = f"more than {MAX_TARGETS} listeners: not probed" if key in dropped else None
        listeners.append(listener_fact(t, results.get(key), skip))
    return replace(facts, listeners=tuple(listeners), listeners_probed=True)


def load_anchors(path: str) -> TrustAnchors:
    from fixer.certs.load import load_certificates

    try:
        return TrustAnchors(path, load_certificates(path).certificates)
    except (UsageError, OSError) as exc:
        return TrustAnchors(path, (), str(exc))


@functools.lru_cache(maxsize=16)
def _anchors_cached(path: str, _stamp: tuple[int, int]) -> TrustAnchors:
    return load_anchors(path)


def router_anchors(host_vars: Mapping[str, Any]) -> TrustAnchors | None:
    """The certificates of the host's `fixer_router_cafile` (on the control machine), or None when unset."""
    value = host_vars.get(CAFILE_VAR)
    if value in (None, ""):
        return None
    path = os.path.expanduser(str(value))
    try:
        st = os.stat(path)
    except OSError as exc:
        return TrustAnchors(path, (), f"cannot read: {exc.strerror or exc}")
    return _anchors_cached(path, (st.st_mtime_ns, st.st_size))
