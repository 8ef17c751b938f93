"""Mapping of ssl/socket errors to probe `Failure`s, target parsing, SNI name choice: no network."""

from __future__ import annotations

import socket
import ssl

import pytest

from fixer.cli.probe import parse_target
from fixer.probe.engine import attempt, sni_name
from fixer.probe.handshake import failure_from_exception, failure_from_reason, handshake, make_context
from fixer.probe.model import ProbeTarget


@pytest.mark.parametrize(
    ("reason", "kind", "alert"),
    [
        ("TLSV1_ALERT_PROTOCOL_VERSION", "alert", "protocol_version"),
        ("SSLV3_ALERT_HANDSHAKE_FAILURE", "alert", "handshake_failure"),
        ("TLSV1_UNRECOGNIZED_NAME", "alert", "unrecognized_name"),
        ("TLSV1_ALERT_INTERNAL_ERROR", "alert", "internal_error"),
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "alert", "certificate_required"),
        ("SSLV3_ALERT_BAD_CERTIFICATE", "alert", "bad_certificate"),
        ("TLSV1_ALERT_UNKNOWN_CA", "alert", "unknown_ca"),
        ("UNSUPPORTED_PROTOCOL", "alert", "protocol_version"),
        ("unexpected_eof_while_reading", "closed", None),
        ("WRONG_VERSION_NUMBER", "error", None),
        ("NO_PROTOCOLS_AVAILABLE", "error", None),
        (None, "error", None),
    ],
)
def test_reason_table(reason: str | None, kind: str, alert: str | None) -> None:
    f = failure_from_reason(reason, "msg")
    assert (f.kind, f.alert, f.message) == (kind, alert, "msg")


def test_verify_reason_keeps_code() -> None:
    f = failure_from_reason("CERTIFICATE_VERIFY_FAILED", "m", verify_code=20)
    assert (f.kind, f.verify_code) == ("verify", 20)


def _ssl_error(reason: str) -> ssl.SSLError:
    exc = ssl.SSLError(1, f"[SSL: {reason}] something (_ssl.c:1006)")
    exc.reason = reason
    return exc


def test_exception_table() -> None:
    verify = ssl.SSLCertVerificationError(1, "x")
    verify.verify_code, verify.verify_message = 10, "certificate has expired"
    cases: list[tuple[BaseException, str]] = [
        (socket.gaierror(-2, "Name or service not known"), "dns"),
        (TimeoutError("timed out"), "timeout"),
        (ConnectionRefusedError(111, "Connection refused"), "refused"),
        (ConnectionResetError(104, "Connection reset by peer"), "reset"),
        (BrokenPipeError(32, "Broken pipe"), "reset"),
        (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), "closed"),
        (ssl.SSLZeroReturnError(6, "TLS/SSL connection has been closed"), "closed"),
        (EOFError(), "closed"),
        (OSError(113, "No route to host"), "error"),
        (ValueError("boom"), "error"),
        (verify, "verify"),
        (_ssl_error("SSLV3_ALERT_HANDSHAKE_FAILURE"), "alert"),
    ]
    for exc, kind in cases:
        assert failure_from_exception(exc).kind == kind, exc
    assert failure_from_exception(verify).verify_code == 10
    assert failure_from_exception(_ssl_error("SSLV3_ALERT_HANDSHAKE_FAILURE")).alert == "handshake_failure"


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [("api.example.com", "api.example.com", 443), ("h:8443", "h", 8443), ("10.0.0.1:9001", "10.0.0.1", 9001),
     ("[::1]:8443", "::1", 8443), ("[::1]", "::1", 443), ("fe80::1", "fe80::1", 443)],
)
def test_parse_target(text: str, host: str, port: int) -> None:
    t = parse_target(text, "sni.example")
    assert (t.host, t.port, t.servername) == (host, port, "sni.example")


@pytest.mark.parametrize("text", ["", "h:0", "h:70000", "h:x", ":443", "[::1", "[::1]x"])
def test_parse_target_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_target(text)


def test_sni_name() -> None:
    assert sni_name(ProbeTarget("10.1.2.3", 443)) is None
    assert sni_name(ProbeTarget("::1", 443)) is None
    assert sni_name(ProbeTarget("10.1.2.3", 443, "b.example")) == "b.example"
    assert sni_name(ProbeTarget("a.example.", 443)) == "a.example"


class _ScriptedStream:
    """A Stream that answers with fixed bytes, then EOF (or raises)."""

    def __init__(self, replies: list[bytes | BaseException]) -> None:
        self.replies, self.sent, self.closed, self.timeouts = replies, bytearray(), False, list[float | None]()

    def send(self, data: bytes) -> None:
        self.sent += data

    def recv(self, n: int) -> bytes:
        item = self.replies.pop(0) if self.replies else b""
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self.closed = True

    def settimeout(self, timeout: float | None) -> None:
        self.timeouts.append(timeout)


def test_handshake_over_a_scripted_stream_is_data() -> None:
    # a fatal alert record: handshake_failure (40)
    s = _ScriptedStream([bytes([21, 3, 3, 0, 2, 2, 40])])
    r = handshake(s, "TLSv1.2", "x.example", timeout=2)
    assert s.sent[:1] == b"\x16"  # a ClientHello went out
    assert (r.ok, r.failure and r.failure.kind, r.failure and r.failure.alert) == (False, "alert", "handshake_failure")
    assert r.sni and r.servername == "x.example"
    assert handshake(_ScriptedStream([]), "TLSv1.3", None).failure.kind == "closed"  # type: ignore[union-attr]
    assert handshake(_ScriptedStream([TimeoutError("t")]), "TLSv1", None).failure.kind == "timeout"  # type: ignore[union-attr]
    assert handshake(_ScriptedStream([b"HTTP/1.1 400 Bad Request\r\n\r\n"]), "TLSv1.2", None).failure.kind == "error"  # type: ignore[union-attr]


def test_attempt_connect_failure_and_close() -> None:
    def refuse(host: str, port: int, timeout: float) -> _ScriptedStream:
        raise ConnectionRefusedError(111, "Connection refused")

    r = attempt(ProbeTarget("h", 1), "TLSv1.2", "h", 1.0, connect=refuse)
    assert (r.ok, r.failure and r.failure.kind, r.protocol_offered) == (False, "refused", "TLSv1.2")
    stream = _ScriptedStream([])
    attempt(ProbeTarget("h", 1), ("TLSv1", "TLSv1.3"), None, 1.0, connect=lambda h, p, t: stream)
    assert stream.closed


def test_make_context_bounds() -> None:
    ctx = make_context("TLSv1")
    assert ctx.minimum_version == ctx.maximum_version == ssl.TLSVersion.TLSv1
    assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname
    ctx = make_context(("TLSv1.2", "TLSv1.3"))
    assert (ctx.minimum_version, ctx.maximum_version) == (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)
