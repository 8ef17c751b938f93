"""Which cipher suites a server accepts, per protocol, in few handshakes (`fixer probe --ciphers`).

For each protocol: offer every suite the local client can offer for it, note the one the server picks, take it
out of the offer and repeat until the handshake fails: N+1 handshakes for N accepted suites. The order of the
picks is the server's preference when the server imposes its own order, else just the client's order; one more
handshake (the accepted suites offered in reverse) tells which (`SuiteScan.server_order`).

- TLSv1..TLSv1.2: Python's `ssl` (the system OpenSSL), offering `ALL:COMPLEMENTOFALL:@SECLEVEL=0` by explicit
  names, i.e. everything this OpenSSL implements for that protocol except PSK and SRP suites (they need
  credentials a probe does not have). Names are reported as IANA names via `openssl ciphers -stdname`.
- TLSv1.3: Python's `ssl` cannot restrict TLS 1.3 suites (it has no `SSL_CTX_set_ciphersuites`). pyOpenSSL
  (already a dependency; `Context.set_tls13_ciphersuites` since 25.2) can, so the TLS 1.3 scan runs a pyOpenSSL
  handshake over the same byte stream (a socket or a node's tunnel). It can only find the suites pyOpenSSL's
  own OpenSSL implements (`TLS13_SUITES` that it knows). With an older pyOpenSSL only the suite negotiated by a
  default offer is reported and the scan is marked incomplete (`SuiteScan.stopped`, `notes`).

The elimination loop (`eliminate`) is pure: it drives an `Offer` function, so it is unit-tested with fakes.
"""

from __future__ import annotations

import contextlib
import functools
import re
import ssl
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fixer.errors import ParseError
from fixer.facts.openssl import normalize_cipher_names, parse_openssl_ciphers_stdname, protocol_rank
from fixer.probe.handshake import (
    Stream,
    failure_from_exception,
    failure_from_reason,
    handshake,
    make_context,
    tcp_connect,
)
from fixer.probe.model import PROTOCOLS, Failure, ProbeTarget, SuiteScan

__all__ = [
    "OFFER_ALL",
    "TLS13_SUITES",
    "Offer",
    "Pick",
    "ProtocolScan",
    "candidates",
    "combine",
    "eliminate",
    "is_refusal",
    "scan_protocol",
    "scan_suites",
    "submit_scans",
    "tls13_restrictable",
    "to_iana",
    "unavailable",
]

Connect = Callable[[str, int, float], Stream]

OFFER_ALL = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"
"""Every TLS <= 1.2 suite the local OpenSSL implements, at security level 0 (TLSv1/1.1, NULL, anonymous)."""

TLS13_SUITES = (
    "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256",  # RFC 8446
    "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256",
    "TLS_SHA384_SHA384", "TLS_SHA256_SHA256",  # RFC 9150 integrity-only (OpenSSL 3.4+)
)
"""TLS 1.3 suites the scan tries; those the TLS 1.3 client's OpenSSL does not know are left out."""

_ALERT_REASON = re.compile(r"^(?:SSLV3|TLSV1|TLSV13|TLS)_ALERT_(?P<name>[A-Z_]+)$")
_UNOFFERABLE_KX = ("psk", "srp")  # need a pre-shared key / SRP password: OpenSSL drops them from a ClientHello

TLS13_LIMIT_NOTE = ("TLSv1.3: Python's ssl cannot restrict TLS 1.3 suites; they are enumerated with pyOpenSSL "
                    "(its own OpenSSL), among the suites that OpenSSL implements")
TLS13_NEGOTIATED_ONLY_NOTE = ("TLSv1.3: Python's ssl cannot restrict TLS 1.3 suites and this pyOpenSSL has no "
                              "set_tls13_ciphersuites (needs >= 25.2): only the negotiated suite is shown")


@dataclass(frozen=True)
class Pick:
    """What one offer got: the suite the server chose, or the failure of the handshake."""

    suite: str | None
    failure: Failure | None = None


Offer = Callable[[tuple[str, ...]], Pick]
"""Run one handshake offering exactly these suites (in this order); never raises."""


@dataclass(frozen=True)
class ProtocolScan:
    protocol: str
    accepted: tuple[str, ...]  # names as the client reports them, in the order picked
    server_order: bool | None
    stopped: Failure | None  # a failure that is not the server's refusal ended the scan early
    handshakes: int
    note: str | None = None


def is_refusal(failure: Failure | None) -> bool:
    """The server (or our client, having nothing left to offer) said no: the end of a protocol's scan.

    An alert or a closed connection is the server's answer; a timeout, reset, refused connection or another error
    is not, and leaves the scan incomplete.
    """
    if failure is None:
        return False
    if failure.kind in ("alert", "closed"):
        return True
    text = failure.message.upper().replace(" ", "_")
    return failure.kind == "error" and "NO_CIPHERS_AVAILABLE" in text


def eliminate(protocol: str, offered: Sequence[str], offer: Offer) -> ProtocolScan:
    """Offer `offered`, drop the suite the server picks, repeat until it refuses or nothing is left.

    Then, with two or more accepted suites, one handshake offering them in reverse: the server picking the same
    first suite again imposes its own order (`server_order` True: `accepted` is its preference order); picking
    the reversed offer's first follows the client (False: `accepted` is in the client's order); else None.
    """
    remaining = list(dict.fromkeys(offered))
    accepted: list[str] = []
    stopped: Failure | None = None
    handshakes = 0
    while remaining:
        handshakes += 1
        pick = offer(tuple(remaining))
        if pick.suite is None:
            if not is_refusal(pick.failure):
                stopped = pick.failure or Failure("error", message="handshake failed without a reason")
            break
        if pick.suite not in remaining:  # OpenSSL aborts on a suite it did not offer; a fake might not
            stopped = Failure("error", message=f"the server picked {pick.suite}, which was not offered")
            break
        accepted.append(pick.suite)
        remaining.remove(pick.suite)
    order: bool | None = None
    if len(accepted) >= 2 and stopped is None:
        handshakes += 1
        pick = offer(tuple(reversed(accepted)))
        if pick.suite == accepted[0]:
            order = True
        elif pick.suite == accepted[-1]:
            order = False
    return ProtocolScan(protocol, tuple(accepted), order, stopped, handshakes)


# --- what the local clients can offer ---------------------------------------------------------------------


@functools.cache
def candidates(protocol: str) -> tuple[str, ...]:
    """OpenSSL names of the TLS <= 1.2 suites Python's ssl can offer for `protocol`, in OpenSSL's order."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers(OFFER_ALL)
    rank = protocol_rank(protocol)
    names: list[str] = []
    for c in ctx.get_ciphers():
        if c.get("protocol") == "TLSv1.3" or any(k in str(c.get("kea", "")) for k in _UNOFFERABLE_KX):
            continue
        try:
            usable = protocol_rank(str(c.get("protocol"))) <= rank  # the suite's minimum version
        except ParseError:
            usable = True
        if usable:
            names.append(str(c["name"]))
    return tuple(names)


def _tls13_module() -> Any:
    """pyOpenSSL's SSL module when it can restrict TLS 1.3 suites (>= 25.2), else None."""
    try:
        from OpenSSL import SSL
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    return SSL if hasattr(SSL.Context, "set_tls13_ciphersuites") else None


def tls13_restrictable() -> bool:
    return _tls13_module() is not None


@functools.cache
def tls13_candidates() -> tuple[str, ...]:
    """The `TLS13_SUITES` pyOpenSSL's OpenSSL implements (it ignores names it does not know)."""
    SSL = _tls13_module()
    if SSL is None:
        return ()
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_tls13_ciphersuites(":".join(TLS13_SUITES).encode())
    known = set(SSL.Connection(ctx, None).get_cipher_list())
    return tuple(s for s in TLS13_SUITES if s in known)


@functools.lru_cache(maxsize=1)
def _iana_table() -> tuple[tuple[tuple[str, str], ...], str | None]:
    """(OpenSSL name -> IANA name pairs, problem): from the local `openssl ciphers -stdname -v`."""
    try:
        done = subprocess.run(["openssl", "ciphers", "-stdname", "-v", OFFER_ALL], capture_output=True, text=True,
                              timeout=10, check=False)
        if done.returncode != 0:
            return (), f"openssl ciphers -stdname failed: {' '.join(done.stderr.split())[:200]}"
        return tuple((o, i) for i, o in parse_openssl_ciphers_stdname(done.stdout)), None
    except (OSError, subprocess.SubprocessError, ParseError) as exc:
        return (), f"cannot map names with openssl ciphers -stdname: {exc}"


def to_iana(names: Sequence[str]) -> tuple[str, ...]:
    """IANA names for OpenSSL suite names (names the local openssl cannot map are kept as they are)."""
    pairs, _ = _iana_table()
    return normalize_cipher_names(names, dict(pairs))


# --- one handshake per offer ------------------------------------------------------------------------------


def _connected(target: ProbeTarget, timeout: float, connect: Connect, run: Callable[[Stream, float], Pick]) -> Pick:
    """Connect, run one handshake within what is left of `timeout`, close. Never raises."""
    start = time.monotonic()
    try:
        stream = connect(target.host, target.port, timeout)
    except Exception as exc:
        return Pick(None, failure_from_exception(exc))
    try:
        return run(stream, max(0.001, timeout - (time.monotonic() - start)))
    except Exception as exc:  # pragma: no cover - the handshakes below catch their own
        return Pick(None, failure_from_exception(exc))
    finally:
        with contextlib.suppress(Exception):
            stream.close()


def offer_tls12(target: ProbeTarget, protocol: str, servername: str | None, timeout: float,
                connect: Connect) -> Offer:
    """An `Offer` for TLSv1..TLSv1.2 through Python's ssl: exactly the given suites, in order."""

    def offer(suites: tuple[str, ...]) -> Pick:
        try:
            ctx = make_context(protocol, ciphers=":".join(suites) + ":@SECLEVEL=0")
        except ssl.SSLError as exc:  # none of the names is usable here
            return Pick(None, failure_from_exception(exc))

        def run(stream: Stream, left: float) -> Pick:
            h = handshake(stream, protocol, servername, left, ctx)
            return Pick(h.cipher, None) if h.ok and h.cipher else Pick(None, h.failure)

        return _connected(target, timeout, connect, run)

    return offer


def _pyopenssl_failure(exc: BaseException) -> Failure:
    """A pyOpenSSL exception as the engine's `Failure` (OpenSSL reason strings name the alert)."""
    SSL = _tls13_module()
    if SSL is not None and isinstance(exc, SSL.ZeroReturnError | SSL.SysCallError):
        return Failure("closed", message=str(exc) or "connection closed")
    if SSL is not None and isinstance(exc, SSL.Error) and exc.args and isinstance(exc.args[0], list):
        for entry in exc.args[0]:
            if isinstance(entry, tuple) and len(entry) == 3 and entry[2]:
                reason = str(entry[2])  # e.g. "sslv3 alert handshake failure"; OpenSSL 3.2+: "tls alert ..."
                key = reason.upper().replace(" ", "_")
                alert = _ALERT_REASON.match(key)
                if alert:
                    return Failure("alert", alert=alert.group("name").lower(), message=reason)
                return failure_from_reason(key, reason)
    return failure_from_exception(exc)


def handshake13(stream: Stream, servername: str | None, suites: Sequence[str], timeout: float) -> Pick:
    """One TLS 1.3 client handshake with pyOpenSSL over `stream`, offering exactly `suites`. Never raises."""
    SSL = _tls13_module()
    if SSL is None:
        return Pick(None, Failure("error", message="pyOpenSSL cannot restrict TLS 1.3 suites (needs >= 25.2)"))
    deadline = time.monotonic() + timeout
    conn: Any = None

    def flush() -> None:
        while True:
            try:
                data = conn.bio_read(65536)
            except SSL.WantReadError:
                return
            if not data:
                return
            stream.send(data)

    try:
        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
        ctx.set_max_proto_version(SSL.TLS1_3_VERSION)
        ctx.set_verify(SSL.VERIFY_NONE)
        ctx.set_cipher_list(b"ALL:@SECLEVEL=0")  # the security level also covers TLS 1.3 (integrity-only suites)
        ctx.set_tls13_ciphersuites(":".join(suites).encode())
        conn = SSL.Connection(ctx, None)
        conn.set_connect_state()
        if servername is not None:
            conn.set_tlsext_host_name(servername.encode("idna"))
        while True:
            try:
                conn.do_handshake()
                flush()
                break
            except SSL.WantReadError:
                flush()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"handshake not done after {timeout:g}s") from None
                stream.settimeout(remaining)
                data = stream.recv(16384)
                if data:
                    conn.bio_write(data)
                else:
                    conn.bio_shutdown()
        name = conn.get_cipher_name()
        return Pick(str(name), None) if name else Pick(None, Failure("error", message="no cipher negotiated"))
    except Exception as exc:
        if conn is not None:  # an alert of ours (e.g. illegal_parameter) sits in the BIO: tell the server
            with contextlib.suppress(Exception):
                flush()
        return Pick(None, _pyopenssl_failure(exc))


def offer_tls13(target: ProbeTarget, servername: str | None, timeout: float, connect: Connect) -> Offer:
    def offer(suites: tuple[str, ...]) -> Pick:
        return _connected(target, timeout, connect, lambda stream, left: handshake13(stream, servername, suites, left))

    return offer


def _negotiated13(target: ProbeTarget, servername: str | None, timeout: float, connect: Connect) -> ProtocolScan:
    """Without pyOpenSSL >= 25.2: the one suite a default TLS 1.3 offer negotiates (Python's ssl)."""
    ctx = make_context("TLSv1.3")

    def run(stream: Stream, left: float) -> Pick:
        h = handshake(stream, "TLSv1.3", servername, left, ctx)
        return Pick(h.cipher, None) if h.ok and h.cipher else Pick(None, h.failure)

    pick = _connected(target, timeout, connect, run)
    if pick.suite is None:
        stopped = None if is_refusal(pick.failure) else pick.failure
        return ProtocolScan("TLSv1.3", (), None, stopped, 1, TLS13_NEGOTIATED_ONLY_NOTE)
    incomplete = Failure("error", message="only the negotiated TLS 1.3 suite is known (see notes)")
    return ProtocolScan("TLSv1.3", (pick.suite,), None, incomplete, 1, TLS13_NEGOTIATED_ONLY_NOTE)


# --- a whole scan -----------------------------------------------------------------------------------------


def scan_protocol(target: ProbeTarget, protocol: str, servername: str | None, timeout: float = 5.0,
                  connect: Connect | None = None) -> ProtocolScan:
    """Every suite `target` accepts for `protocol` (names as the client reports them). Never raises for I/O."""
    conn = connect or tcp_connect
    if protocol == "TLSv1.3":
        if not tls13_restrictable():
            return _negotiated13(target, servername, timeout, conn)
        scan = eliminate(protocol, tls13_candidates(), offer_tls13(target, servername, timeout, conn))
        note = TLS13_LIMIT_NOTE if scan.accepted else None  # the method's limit matters where suites were found
        return ProtocolScan(scan.protocol, scan.accepted, scan.server_order, scan.stopped, scan.handshakes, note)
    return eliminate(protocol, candidates(protocol), offer_tls12(target, protocol, servername, timeout, conn))


def submit_scans(pool: ThreadPoolExecutor, target: ProbeTarget, servername: str | None, timeout: float,
                 connect: Connect | None = None, protocols: Sequence[str] = PROTOCOLS) -> list[Future[ProtocolScan]]:
    """One task per protocol on `pool` (each a sequential elimination loop; protocols run concurrently)."""
    for p in protocols:  # build what the workers need here: get_ciphers and openssl once, not per thread
        if p == "TLSv1.3":
            tls13_candidates()
        else:
            candidates(p)
    _iana_table()
    return [pool.submit(scan_protocol, target, p, servername, timeout, connect) for p in protocols]


def combine(scans: Sequence[ProtocolScan]) -> SuiteScan:
    """Per-protocol scans as one `SuiteScan` with IANA names (protocols with no accepted suite are left out)."""
    accepted: dict[str, tuple[str, ...]] = {}
    order: dict[str, bool | None] = {}
    stopped: dict[str, Failure] = {}
    notes: list[str] = []
    for s in sorted(scans, key=lambda s: PROTOCOLS.index(s.protocol) if s.protocol in PROTOCOLS else 99):
        if s.accepted:
            accepted[s.protocol] = to_iana(s.accepted) if s.protocol != "TLSv1.3" else s.accepted
            order[s.protocol] = s.server_order
        if s.stopped is not None:
            stopped[s.protocol] = s.stopped
        if s.note and s.note not in notes:
            notes.append(s.note)
    _, problem = _iana_table()
    if problem and any(p != "TLSv1.3" for p in accepted):
        notes.append(f"OpenSSL names kept: {problem}")
    return SuiteScan(accepted=accepted, server_order=order, stopped=stopped, notes=tuple(notes),
                     handshakes=sum(s.handshakes for s in scans))


def scan_suites(target: ProbeTarget, timeout: float = 5.0, connect: Connect | None = None, max_parallel: int = 4,
                protocols: Sequence[str] = PROTOCOLS, servername: str | None = None) -> SuiteScan:
    """The suites `target` accepts for each of `protocols` (run concurrently, at most `max_parallel` at once).

    `servername` is the SNI to send (None: none). Never raises for I/O: failures are in `stopped`.
    """
    with ThreadPoolExecutor(max_workers=max(1, min(max_parallel, len(protocols) or 1)),
                            thread_name_prefix="suites") as pool:
        futures = submit_scans(pool, target, servername, timeout, connect, protocols)
        return combine([f.result() for f in futures])


def unavailable(reason: str) -> SuiteScan:
    """A scan that could not run (e.g. `openssl s_client` on a node that forbids forwarding)."""
    return SuiteScan(accepted={}, notes=(reason,), available=False)
