"""One TLS handshake over any byte stream (a socket now, a paramiko direct-tcpip channel later).

`ssl.SSLContext.wrap_bio()` with two MemoryBIOs keeps OpenSSL away from the transport: we shuttle bytes
between the BIOs and a `Stream`. Certificates are not verified here; the chain is collected and checked
separately. Every outcome is a `HandshakeResult`; network and TLS errors become a `Failure`.
"""

from __future__ import annotations

import contextlib
import errno
import re
import socket
import ssl
import threading
import time
import warnings
from typing import Any, Protocol

from fixer.probe.model import CertSummary, Failure, HandshakeResult

_VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
# Offer every suite OpenSSL still knows for TLS <= 1.2: a probe asks "does the server speak this protocol",
# so the client's cipher list must not be the reason for a "no" (Python's default drops RSA key exchange,
# OpenSSL's DEFAULT drops CAMELLIA/ARIA, and TLSv1.0/1.1 need security level 0 on OpenSSL 3). PSK and SRP
# suites need credentials a probe does not have. TLS 1.3 suites are not affected by this string.
PROBE_CIPHERS = "ALL:COMPLEMENTOFALL:!PSK:!SRP:!aNULL:!eNULL:@SECLEVEL=0"
_READ_SIZE = 16384
_WARNINGS_LOCK = threading.Lock()  # catch_warnings swaps process-wide state


class Stream(Protocol):
    """The byte stream a handshake runs over. `recv` returns b"" at EOF; timeouts raise `TimeoutError`."""

    def send(self, data: bytes) -> None: ...

    def recv(self, n: int) -> bytes: ...

    def close(self) -> None: ...

    def settimeout(self, timeout: float | None) -> None: ...


class SocketStream:
    """A connected TCP socket as a `Stream`."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self, n: int) -> bytes:
        return self.sock.recv(n)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def settimeout(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout)


def tcp_connect(host: str, port: int, timeout: float) -> Stream:
    """Connect from this machine; raises OSError (gaierror, refused, timeout...) like `socket`."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return SocketStream(sock)


def make_context(protocol: str | tuple[str, str], ciphers: str | None = PROBE_CIPHERS) -> ssl.SSLContext:
    """A client context offering exactly `protocol` (or a (min, max) range), without any verification.

    Setting TLSv1/TLSv1.1 bounds warns (DeprecationWarning) on Python 3.11+; that is the point of a probe, so
    the warning is silenced here. `warnings.catch_warnings` is not thread-safe: callers build contexts before
    starting worker threads, and concurrent callers are serialised by a lock.
    """
    low, high = (protocol, protocol) if isinstance(protocol, str) else protocol
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = _VERSIONS[low]
        ctx.maximum_version = _VERSIONS[high]
    if ciphers and _VERSIONS[low] <= ssl.TLSVersion.TLSv1_2:
        ctx.set_ciphers(ciphers)
    return ctx


def protocol_label(protocol: str | tuple[str, str]) -> str:
    if isinstance(protocol, str):
        return protocol
    return protocol[0] if protocol[0] == protocol[1] else f"{protocol[0]}..{protocol[1]}"


# --- failure mapping -------------------------------------------------------------------------------------

# OpenSSL reason codes that name a received alert without the usual *_ALERT_* prefix
_ALERT_REASONS = {
    "TLSV1_UNRECOGNIZED_NAME": "unrecognized_name",
    "TLSV1_CERTIFICATE_UNOBTAINABLE": "certificate_unobtainable",
    "TLSV1_BAD_CERTIFICATE_STATUS_RESPONSE": "bad_certificate_status_response",
    "TLSV1_BAD_CERTIFICATE_HASH_VALUE": "bad_certificate_hash_value",
    "TLSV1_UNSUPPORTED_EXTENSION": "unsupported_extension",
}
# Problems OpenSSL detects itself, named by the alert it sends to the server
_LOCAL_ALERTS = {
    "UNSUPPORTED_PROTOCOL": "protocol_version",  # server chose a version we did not offer
    "WRONG_SSL_VERSION": "protocol_version",
    "TLSV1_ALERT_INAPPROPRIATE_FALLBACK": "inappropriate_fallback",
    "NO_SHARED_CIPHER": "handshake_failure",
    "WRONG_CIPHER_RETURNED": "illegal_parameter",
}
_ALERT_PREFIX = re.compile(r"^(?:SSLV3|TLSV1|TLSV13)_ALERT_(?P<name>[A-Z_]+)$")
_CLOSED_REASONS = {"UNEXPECTED_EOF_WHILE_READING", "EOF"}


def failure_from_reason(reason: str | None, message: str, verify_code: int | None = None) -> Failure:
    """Map an OpenSSL reason code (`SSLError.reason`) to a `Failure`; the tables are unit-tested."""
    r = (reason or "").upper()
    if r == "CERTIFICATE_VERIFY_FAILED":
        return Failure("verify", verify_code=verify_code, message=message)
    if r in _ALERT_REASONS:
        return Failure("alert", alert=_ALERT_REASONS[r], message=message)
    if r in _LOCAL_ALERTS:
        return Failure("alert", alert=_LOCAL_ALERTS[r], message=message)
    m = _ALERT_PREFIX.match(r)
    if m:
        return Failure("alert", alert=m.group("name").lower(), message=message)
    if r in _CLOSED_REASONS:
        return Failure("closed", message=message)
    return Failure("error", message=message)


def failure_from_exception(exc: BaseException) -> Failure:
    """Any exception from connecting or handshaking, as data."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Failure("verify", verify_code=exc.verify_code, message=exc.verify_message or text)
    if isinstance(exc, ssl.SSLZeroReturnError | ssl.SSLEOFError):
        return Failure("closed", message=text)
    if isinstance(exc, ssl.SSLError):
        return failure_from_reason(exc.reason, text)
    if isinstance(exc, socket.gaierror):
        return Failure("dns", message=text)
    if isinstance(exc, TimeoutError):
        return Failure("timeout", message=text or "timed out")
    if isinstance(exc, ConnectionRefusedError):
        return Failure("refused", message=text)
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return Failure("reset", message=text)
    if isinstance(exc, ConnectionAbortedError | EOFError):
        return Failure("closed", message=text)
    if isinstance(exc, OSError) and exc.errno == errno.ETIMEDOUT:
        return Failure("timeout", message=text)
    return Failure("error", message=f"{type(exc).__name__}: {text}")


# --- the handshake ---------------------------------------------------------------------------------------


def _peer_chain(obj: ssl.SSLObject) -> tuple[tuple[CertSummary, ...], bool]:
    """(chain, complete): the whole presented chain where Python exposes it, else the leaf only."""
    ders: list[bytes] = []
    public = getattr(obj, "get_unverified_chain", None)  # Python 3.13+
    private = getattr(getattr(obj, "_sslobj", None), "get_unverified_chain", None)  # 3.10-3.12, undocumented
    getter: Any = public or private
    if getter is not None:
        try:
            for cert in getter() or ():
                ders.append(cert if isinstance(cert, bytes) else cert.public_bytes(ssl._ssl.ENCODING_DER))  # type: ignore[attr-defined]
            return tuple(CertSummary.from_der(d) for d in ders), True
        except Exception:  # pragma: no cover - an interpreter without the private API's shape
            ders = []
    leaf = obj.getpeercert(binary_form=True)
    return ((CertSummary.from_der(leaf),) if leaf else ()), False


def handshake(
    stream: Stream,
    protocol: str | tuple[str, str],
    servername: str | None,
    timeout: float = 5.0,
    context: ssl.SSLContext | None = None,
) -> HandshakeResult:
    """Run one client handshake over `stream` (already connected), within `timeout` seconds overall.

    `servername=None` sends no SNI. The stream is not closed here. Never raises for network/TLS failures.
    """
    label = protocol_label(protocol)
    start = time.monotonic()
    deadline = start + timeout

    def result(**kw: Any) -> HandshakeResult:
        return HandshakeResult(protocol_offered=label, sni=servername is not None, servername=servername,
                               elapsed=round(time.monotonic() - start, 4), **kw)

    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    try:
        ctx = context or make_context(protocol)
        obj = ctx.wrap_bio(incoming, outgoing, server_side=False, server_hostname=servername)
        while True:
            try:
                obj.do_handshake()
                _flush(outgoing, stream)
                break
            except ssl.SSLWantReadError:
                _flush(outgoing, stream)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"handshake not done after {timeout:g}s") from None
                stream.settimeout(remaining)
                data = stream.recv(_READ_SIZE)
                if data:
                    incoming.write(data)
                else:
                    incoming.write_eof()
        chain, complete = _peer_chain(obj)
        cipher = obj.cipher()
        return result(ok=True, negotiated_protocol=obj.version(), cipher=cipher[0] if cipher else None,
                      peer_chain=chain, chain_complete=complete)
    except Exception as exc:
        if isinstance(exc, ssl.SSLError):
            # an alert we send (e.g. protocol_version) sits in the outgoing BIO: tell the server, best effort
            with contextlib.suppress(Exception):
                _flush(outgoing, stream)
        return result(ok=False, failure=failure_from_exception(exc))


def _flush(outgoing: ssl.MemoryBIO, stream: Stream) -> None:
    data = outgoing.read()
    if data:
        stream.send(data)

