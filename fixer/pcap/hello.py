"""Parsers of TLS handshake message bodies (after the 4-byte handshake header): ClientHello (and the
SSLv2-format CLIENT-HELLO), ServerHello (a HelloRetryRequest too), Certificate (TLS <= 1.2), their extensions.

Each takes the bytes of one message and returns model values (fixer.pcap.model); a body that cannot be read
raises Malformed, a cut or damaged extension or certificate list keeps what came before the damage and says so.
No I/O and no state but two bounded caches (repeated name tuples, certificates seen before).
"""

from __future__ import annotations

import struct

from fixer.pcap import names
from fixer.pcap.model import ClientHello, ServerHello
from fixer.probe.model import CertSummary

HS_CLIENT_HELLO, HS_SERVER_HELLO, HS_CERTIFICATE = 1, 2, 11
# SHA-256("HelloRetryRequest"): the random of a ServerHello that is a HelloRetryRequest (RFC 8446 4.1.3)
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
CERTS_KEPT = 16

_U16 = struct.Struct("!H")

# identical tuples (suites, extensions) of many ClientHellos share memory; certificates are parsed once
_interned: dict[tuple[str, ...], tuple[str, ...]] = {}
_cert_cache: dict[bytes, CertSummary] = {}


def intern_tuple(value: tuple[str, ...]) -> tuple[str, ...]:
    """`value`, or an equal tuple seen before (the same names repeat in every connection of a capture)."""
    if len(_interned) > 4096:
        _interned.clear()
    return _interned.setdefault(value, value)


def cert_summary(der: bytes) -> CertSummary:
    """CertSummary.from_der, cached (a capture repeats the same server chain in every connection)."""
    cached = _cert_cache.get(der)
    if cached is None:
        if len(_cert_cache) > 512:
            _cert_cache.clear()
        cached = _cert_cache[der] = CertSummary.from_der(der)
    return cached


class Malformed(ValueError):
    """A handshake message that does not parse."""


def _u16s(data: bytes) -> list[int]:
    return [(data[i] << 8) | data[i + 1] for i in range(0, len(data) - 1, 2)]


def _need(data: bytes, end: int) -> None:
    if end > len(data):
        raise Malformed(f"{len(data)} bytes where {end} are needed")


def _extensions(msg: bytes, pos: int) -> tuple[list[tuple[int, bytes]], bool]:
    """The extension list starting at `pos` (absent: empty); True when it is cut or malformed."""
    if pos + 2 > len(msg):
        return [], pos != len(msg)
    total = _U16.unpack_from(msg, pos)[0]
    pos += 2
    end = pos + total
    damaged = end != len(msg)
    end = min(end, len(msg))
    out: list[tuple[int, bytes]] = []
    while pos + 4 <= end:
        ext_type, length = struct.unpack_from("!HH", msg, pos)
        pos += 4
        if pos + length > end:
            return out, True
        out.append((ext_type, msg[pos:pos + length]))
        pos += length
    return out, damaged or pos != end


def parse_client_hello(msg: bytes, time: float, record_version: int) -> tuple[ClientHello, bool]:
    """A ClientHello body (after the 4-byte handshake header); True when its extensions were damaged."""
    _need(msg, 35)
    legacy = _U16.unpack_from(msg, 0)[0]
    pos = 34
    pos += 1 + msg[pos]
    _need(msg, pos + 2)
    suites_len = _U16.unpack_from(msg, pos)[0]
    pos += 2
    _need(msg, pos + suites_len + 1)
    suites = [c for c in _u16s(msg[pos:pos + suites_len]) if not names.is_grease(c)]
    pos += suites_len
    pos += 1 + msg[pos]
    _need(msg, pos)
    exts, damaged = _extensions(msg, pos)
    versions: list[int] = []
    server_name: str | None = None
    sni = False
    alpn: list[str] = []
    ext_names: list[str] = []
    for ext_type, data in exts:
        if names.is_grease(ext_type):
            continue
        ext_names.append(names.extension_name(ext_type))
        if ext_type == 0:
            sni = True
            server_name = _server_name(data) if server_name is None else server_name
        elif ext_type == 43 and data:
            versions = [v for v in _u16s(data[1:1 + data[0]]) if not names.is_grease(v)]
        elif ext_type == 16 and len(data) >= 2:
            alpn = _alpn(data[2:2 + _U16.unpack_from(data, 0)[0]])
    hello = ClientHello(
        time=time,
        record_version=names.version_name(record_version),
        legacy_version=names.version_name(legacy),
        supported_versions=intern_tuple(tuple(names.version_name(v) for v in versions)),
        cipher_suites=intern_tuple(tuple(names.suite_name(c) for c in suites)),
        server_name=server_name,
        sni_present=sni,
        extensions=intern_tuple(tuple(ext_names)),
        alpn=intern_tuple(tuple(alpn)),
    )
    return hello, damaged


def _server_name(data: bytes) -> str | None:
    """The first host_name of a server_name extension."""
    if len(data) < 2:
        return None
    end = min(len(data), 2 + _U16.unpack_from(data, 0)[0])
    pos = 2
    while pos + 3 <= end:
        kind, length = data[pos], _U16.unpack_from(data, pos + 1)[0]
        pos += 3
        if kind == 0:
            return data[pos:pos + length].decode("ascii", "replace")
        pos += length
    return None


def _alpn(data: bytes) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(data):
        length = data[pos]
        out.append(data[pos + 1:pos + 1 + length].decode("ascii", "replace"))
        pos += 1 + length
    return out


def parse_sslv2_client_hello(msg: bytes, time: float) -> ClientHello:
    """An SSLv2-format CLIENT-HELLO record body (old Java and OpenSSL clients), starting at its msg_type."""
    _need(msg, 9)
    version, spec_len, _sid_len, _challenge_len = struct.unpack_from("!HHHH", msg, 1)
    _need(msg, 9 + spec_len)
    specs = msg[9:9 + spec_len]
    codes = [int.from_bytes(specs[i:i + 3], "big") for i in range(0, len(specs) - 2, 3)]
    return ClientHello(
        time=time, record_version="SSLv2", legacy_version=names.version_name(version), supported_versions=(),
        cipher_suites=intern_tuple(tuple(names.ssl2_spec_name(c) for c in codes if not names.is_grease(c & 0xFFFF))),
        server_name=None, sni_present=False, extensions=(),
    )


def parse_server_hello(msg: bytes, time: float) -> ServerHello:
    """A ServerHello body: the version it selects (supported_versions, else the legacy field), its suite, and
    whether it is a HelloRetryRequest."""
    _need(msg, 35)
    legacy = _U16.unpack_from(msg, 0)[0]
    hrr = msg[2:34] == HRR_RANDOM
    pos = 34
    pos += 1 + msg[pos]
    _need(msg, pos + 3)
    suite = _U16.unpack_from(msg, pos)[0]
    pos += 3
    exts, _ = _extensions(msg, pos)
    selected = legacy
    for ext_type, data in exts:
        if ext_type == 43 and len(data) >= 2:
            selected = _U16.unpack_from(data, 0)[0]
    return ServerHello(time=time, legacy_version=names.version_name(legacy), version=names.version_name(selected),
                       cipher_suite=names.suite_name(suite), hello_retry_request=hrr)


def parse_certificates(msg: bytes) -> tuple[tuple[CertSummary, ...], bool]:
    """A TLS <= 1.2 Certificate message body: the chain as sent (leaf first); True when cut or damaged."""
    if len(msg) < 3:
        return (), True
    end = min(len(msg), 3 + int.from_bytes(msg[0:3], "big"))
    pos = 3
    out: list[CertSummary] = []
    while pos + 3 <= end and len(out) < CERTS_KEPT:
        length = int.from_bytes(msg[pos:pos + 3], "big")
        pos += 3
        if pos + length > end:
            return tuple(out), True
        out.append(cert_summary(msg[pos:pos + length]))
        pos += length
    return tuple(out), pos != end and len(out) < CERTS_KEPT
