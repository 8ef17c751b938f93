"""TLS over one TCP connection's two reassembled byte streams: records, handshake messages, alerts.

    TlsStream (one direction): bytes in order (+ gaps) -> records -> handshake messages, alerts
    TlsConn (both directions): what the streams saw -> the TLS fields of a ConnectionObs

The TCP layer (fixer.pcap.tcp) feeds each direction's bytes in sequence order and reports the bytes it never saw
(gaps). A stream decides from its first bytes whether it carries TLS (a record header, or an SSLv2-format
ClientHello); a stream whose start was not captured, or that lost a record header in a gap, looks for two
consecutive plausible record headers to resynchronise. Only plaintext handshake records are kept in memory
(bounded); application data is skipped by record length without being stored. Nothing here raises on bad
input: what cannot be read becomes a note.
"""

from __future__ import annotations

import re
import struct

from fixer.pcap import names
from fixer.pcap.model import Alert, ClientHello, ServerHello, Side
from fixer.probe.model import CertSummary

RECORD_MAX = 16384 + 2048  # TLSCiphertext.length limit of TLS 1.2 (1.3's is smaller)
HANDSHAKE_MAX = 128 * 1024  # a handshake message bigger than this is skipped (a certificate chain is ~2-20 KiB)
RECORDS_KEPT = 64  # record types kept per side after the hello
ALERTS_KEPT = 32
NOTES_KEPT = 16
CERTS_KEPT = 16
RESYNC_WINDOW = 40 * 1024  # bytes scanned for a record boundary before the oldest are dropped
FINISHED_MIN = 30  # a TLS 1.3 record this long or longer is not an encrypted alert (2 + 1 + 16 = 19 bytes)

CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APPDATA = 20, 21, 22, 23
_SSL2 = 0x80  # pseudo content type of an SSLv2-format record
HS_CLIENT_HELLO, HS_SERVER_HELLO, HS_CERTIFICATE = 1, 2, 11
# SHA-256("HelloRetryRequest"): the random of a ServerHello that is a HelloRetryRequest (RFC 8446 4.1.3)
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

_DETECT, _RECORDS, _LOST, _OFF = range(4)
_HDR = struct.Struct("!BBBH")
_U16 = struct.Struct("!H")
# a record header candidate: type 20..24, major version 3, minor 0..4
_HEADER_RE = re.compile(rb"[\x14-\x18]\x03[\x00-\x04]")

# identical tuples (suites, extensions) of many ClientHellos share memory; certificates are parsed once
_interned: dict[tuple[str, ...], tuple[str, ...]] = {}
_cert_cache: dict[bytes, CertSummary] = {}


def _intern(value: tuple[str, ...]) -> tuple[str, ...]:
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


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


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
        supported_versions=_intern(tuple(names.version_name(v) for v in versions)),
        cipher_suites=_intern(tuple(names.suite_name(c) for c in suites)),
        server_name=server_name,
        sni_present=sni,
        extensions=_intern(tuple(ext_names)),
        alpn=_intern(tuple(alpn)),
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
        cipher_suites=_intern(tuple(names.ssl2_spec_name(c) for c in codes if not names.is_grease(c & 0xFFFF))),
        server_name=None, sni_present=False, extensions=(),
    )


def parse_server_hello(msg: bytes, time: float) -> ServerHello:
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


class TlsStream:
    """One direction of a connection: walks TLS records over the bytes the TCP layer delivers in order."""

    __slots__ = ("body", "ccs", "conn", "d", "hdr", "hs", "hs_skip", "hs_time", "hs_version", "left", "limit",
                 "lost", "mode", "offset", "rlen", "rtime", "rtime_last", "rtype", "rversion", "skipped",
                 "start_known")

    def __init__(self, conn: TlsConn, d: int, limit: int) -> None:
        self.conn = conn
        self.d = d  # 0 or 1: which end of the connection sends this stream
        self.limit = limit  # stop reading records after this many bytes (count only)
        self.mode = _DETECT
        self.start_known = True  # the TCP layer clears it when the stream's first byte was not captured
        self.offset = 0
        self.hdr = b""  # a record header (or, while detecting, the stream's first bytes) cut by a segment end
        self.rtype = 0
        self.rversion = 0
        self.rlen = 0
        self.rtime = 0.0
        self.rtime_last = 0.0  # time of the last bytes fed
        self.left = 0  # body bytes of the current record still to come; 0: a header is expected
        self.body: bytearray | None = None  # the current record's body when it is wanted
        self.hs = bytearray()  # plaintext handshake bytes not yet forming a whole message
        self.hs_skip = 0
        self.hs_version = 0
        self.hs_time = 0.0
        self.ccs = False  # this side sent ChangeCipherSpec: its later records are encrypted
        self.lost: bytearray | None = None  # while resynchronising
        self.skipped = 0

    @property
    def active(self) -> bool:
        return self.mode != _OFF

    def stop(self) -> None:
        self.mode = _OFF
        self.body = None
        self.hs = bytearray()
        self.lost = None
        self.hdr = b""

    # ---- input ------------------------------------------------------------------------------------------

    def feed(self, data: bytes, t: float) -> None:
        mode = self.mode
        if mode == _OFF:
            return
        self.offset += len(data)
        self.rtime_last = t
        if mode == _RECORDS:
            self._records(data, t)
        elif mode == _DETECT:
            self._detect(data, t)
        else:
            self._resync(data, t)
        if self.mode == _LOST and self.lost and mode != _LOST:
            self._resync(b"", t)  # the bytes after a bad record header
        if self.offset >= self.limit and self.mode != _OFF:
            if self.mode != _RECORDS or not self.conn.handshake_done():
                self.conn.note(self.d, f"only the first {self.limit // 1024} KiB of the stream were read")
            self.stop()

    def gap(self, n: int, t: float) -> None:
        """`n` bytes of the stream were never captured."""
        if self.mode == _OFF or n <= 0:
            return
        where = self.offset
        self.offset += n
        if self.mode == _RECORDS and not self.hdr and self.left >= n:
            self.left -= n
            kind = names.content_type_name(self.rtype) if self.rtype != _SSL2 else "SSLv2"
            if self.body is not None:
                self.body = None
                if self.rtype == CT_HANDSHAKE:
                    self.hs = bytearray()
                    self.hs_skip = 0
                self.conn.note(self.d, f"{n} bytes at offset {where} never captured, inside {_a(kind)} record: "
                                       "its content is unknown")
            else:
                self.conn.note(self.d, f"{n} bytes at offset {where} never captured, inside {_a(kind)} record")
            if self.left == 0:
                self._end_record(t)
            return
        if self.mode == _RECORDS:
            self.conn.note(self.d, f"{n} bytes at offset {where} never captured: record boundaries lost")
        elif self.mode == _DETECT:
            self.conn.note(self.d, f"the stream's first {n} bytes were never captured")
        self.mode = _LOST
        self.lost = bytearray()
        self.hdr = b""
        self.left = 0
        self.body = None
        self.hs = bytearray()
        self.hs_skip = 0

    def finish(self) -> None:
        """The capture ends: read what waited for confirmation, say what was left unread."""
        if self.mode == _LOST and self.lost:
            found = _find_boundary(self.lost)
            if found is not None and not found[1]:  # one last record that ends where the stream ends
                pos = found[0]
                if pos + 5 <= len(self.lost) and pos + 5 + _U16.unpack_from(self.lost, pos + 3)[0] == len(self.lost):
                    lost = self.lost
                    self.mode = _RECORDS
                    self.lost = None
                    self.conn.tls_seen = True
                    self.conn.note(self.d, f"a last record read after missing bytes ({self.skipped + pos} skipped)")
                    self._records(bytes(lost[pos:]), self.rtime_last)
        if self.mode == _RECORDS and (self.left or self.hdr):
            kind = names.content_type_name(self.rtype) if self.left else "record header"
            if self.left:
                self.conn.note(self.d, f"the capture ends inside {_a(kind)} record "
                                       f"({self.rlen - self.left} of {self.rlen} bytes)")
            else:
                self.conn.note(self.d, "the capture ends inside a record header")
        elif self.mode == _RECORDS and self.hs:
            self.conn.note(self.d, "the capture ends inside a handshake message")
        elif self.mode == _LOST and self.conn.tls_seen:
            self.conn.note(self.d, "no record boundary found again after the missing bytes")
        elif self.mode == _DETECT and self.hdr:
            self.conn.note(self.d, f"only {len(self.hdr)} bytes sent: too few to tell the protocol")
        self.stop()

    # ---- record walking ---------------------------------------------------------------------------------

    def _detect(self, data: bytes, t: float) -> None:
        buf = self.hdr + data if self.hdr else data
        if len(buf) < 5:
            self.hdr = bytes(buf)
            return
        self.hdr = b""
        b0, b1, b2, length = _HDR.unpack_from(buf)
        if CT_CCS <= b0 <= CT_APPDATA and b1 == 3 and b2 <= 4 and length <= RECORD_MAX:
            self.mode = _RECORDS
            self.conn.tls_seen = True
            self._records(buf, t)
        elif b0 & 0x80 and b2 == HS_CLIENT_HELLO and ((b0 & 0x7F) << 8 | b1) >= 9 and buf[3] in (0, 3):
            # SSLv2-format record: 2-byte header (high bit set, 15-bit length), then a CLIENT-HELLO
            self.mode = _RECORDS
            self.conn.tls_seen = True
            self._start_record(_SSL2, 0x0002, ((b0 & 0x7F) << 8) | b1, t)
            self._records(buf[2:], t)
        elif self.start_known:
            self.stop()  # not TLS: the TCP layer only counts from now on
        else:
            self.mode = _LOST
            self.lost = bytearray()
            self._resync(buf, t)

    def _records(self, data: bytes, t: float) -> None:
        pos = 0
        n = len(data)
        while pos < n:
            if self.left == 0:
                if self.hdr or n - pos < 5:
                    need = 5 - len(self.hdr)
                    header = self.hdr + data[pos:pos + need]
                    pos += need
                    if len(header) < 5:
                        self.hdr = header
                        return
                    self.hdr = b""
                    rtype, major, minor, length = _HDR.unpack_from(header)
                else:
                    header = b""
                    rtype, major, minor, length = _HDR.unpack_from(data, pos)
                    pos += 5
                if not (CT_CCS <= rtype <= 25 and major == 3 and minor <= 4 and length <= RECORD_MAX):
                    self.conn.note(self.d, f"no TLS record header at offset {self.offset - (n - pos) - 5}: "
                                           "looking for the next record")
                    self.mode = _LOST
                    self.lost = bytearray()
                    self.body = None
                    self.hs = bytearray()
                    self.hs_skip = 0
                    # the caller looks for a record boundary in the rest (a loop, not a recursion)
                    self.lost = bytearray((header[1:] + data[pos:]) if header else data[pos - 4:])
                    return
                self._start_record(rtype, (major << 8) | minor, length, t)
                if length == 0:
                    self._end_record(t)
                    if self.mode != _RECORDS:
                        return
            else:
                k = min(self.left, n - pos)
                if self.body is not None:
                    self.body += data[pos:pos + k]
                pos += k
                self.left -= k
                if self.left == 0:
                    self._end_record(t)
                    if self.mode != _RECORDS:
                        return

    def _start_record(self, rtype: int, version: int, length: int, t: float) -> None:
        self.rtype = rtype
        self.rversion = version
        self.rlen = length
        self.left = length
        self.rtime = t
        # TLS 1.3's ChangeCipherSpec is a dummy (middlebox compatibility): its handshake records stay plaintext
        wanted = rtype in (CT_ALERT, CT_CCS, _SSL2) or (rtype == CT_HANDSHAKE and (not self.ccs or self.conn.tls13))
        self.body = bytearray() if wanted else None
        self.conn.record(self.d, rtype, length, t)

    def _end_record(self, t: float) -> None:
        body = self.body
        self.body = None
        rtype = self.rtype
        if rtype == CT_HANDSHAKE:
            if body is not None:
                self._handshake(body)
        elif rtype == CT_ALERT:
            if body is not None:
                self.conn.alert_record(self.d, bytes(body), self.ccs, self.rlen, self.rtime)
            else:
                self.conn.note(self.d, "an alert record was partly lost: its content is unknown")
        elif rtype == CT_CCS:
            if not self.ccs and self.hs and not self.conn.tls13:
                self.conn.note(self.d, "a handshake message was cut by ChangeCipherSpec")
            self.ccs = True
            if not self.conn.tls13:
                self.hs = bytearray()
                self.hs_skip = 0
        elif rtype == _SSL2 and body is not None:
            self.conn.sslv2_hello(self.d, bytes(body), self.rtime)

    def _handshake(self, body: bytearray) -> None:
        hs = self.hs
        if self.hs_skip:
            k = min(self.hs_skip, len(body))
            self.hs_skip -= k
            del body[:k]
        if not hs:
            self.hs_version = self.rversion
            self.hs_time = self.rtime
        hs += body
        while len(hs) >= 4:
            msg_type = hs[0]
            length = int.from_bytes(hs[1:4], "big")
            if length > HANDSHAKE_MAX:
                self.conn.note(self.d, f"a {names.handshake_type_name(msg_type)} message of {length} bytes was "
                                       "skipped (too big)")
                self.hs_skip = max(0, length + 4 - len(hs))
                del hs[:length + 4]
                continue
            if len(hs) < length + 4:
                return
            msg = bytes(hs[4:length + 4])
            del hs[:length + 4]
            self.conn.handshake(self.d, msg_type, msg, self.hs_version, self.hs_time)
            self.hs_version = self.rversion
            self.hs_time = self.rtime

    def _resync(self, data: bytes, t: float) -> None:
        lost = self.lost
        if lost is None:
            lost = self.lost = bytearray()
        lost += data
        while True:
            found = _find_boundary(lost)
            if found is None:  # nothing here can start a record: keep only what could be a cut header
                if len(lost) > 4:
                    self.skipped += len(lost) - 4
                    del lost[:len(lost) - 4]
                return
            pos, confirmed = found
            if not confirmed:  # a candidate whose record goes on past the bytes seen so far: wait for more
                self.skipped += pos
                del lost[:pos]
                return
            self.mode = _RECORDS
            self.lost = None
            if not self.conn.tls_seen:
                self.conn.tls_seen = True
                self.conn.note(self.d, f"the stream's start was not captured: records read from offset "
                                       f"{self.offset - len(lost) + pos}")
            else:
                self.conn.note(self.d, f"record boundary found again ({self.skipped + pos} bytes skipped)")
            self.skipped = 0
            self._records(bytes(lost[pos:]), t)
            if self.mode != _LOST or self.lost is None:
                return
            lost = self.lost  # another bad header further on: look again in what follows it


def _plausible(buf: bytearray, pos: int) -> bool:
    """A record header at pos (only the bytes present are checked)."""
    n = len(buf) - pos
    if n >= 1 and not (CT_CCS <= buf[pos] <= 24):
        return False
    if n >= 2 and buf[pos + 1] != 3:
        return False
    if n >= 3 and buf[pos + 2] > 4:
        return False
    return not (n >= 5 and _U16.unpack_from(buf, pos + 3)[0] > RECORD_MAX)


def _find_boundary(buf: bytearray) -> tuple[int, bool] | None:
    """The first position where a record header is followed by another one: (pos, True); (pos, False) when the
    candidate at pos needs more bytes to be confirmed; None when nothing in `buf` can be a boundary."""
    for match in _HEADER_RE.finditer(buf):
        pos = match.start()
        if pos + 5 > len(buf):
            return pos, False
        length = _U16.unpack_from(buf, pos + 3)[0]
        if length > RECORD_MAX or length == 0:
            continue
        nxt = pos + 5 + length
        if nxt + 3 > len(buf):
            return pos, False
        if _plausible(buf, nxt):
            return pos, True
    return None


class TlsConn:
    """Both directions of one connection: the TLS facts for its ConnectionObs (roles are the TCP layer's)."""

    __slots__ = ("after_hello", "alerts", "certificates", "client_dir", "client_hello", "hellos", "notes", "order",
                 "records", "server_hello", "streams", "tls13", "tls_seen")

    def __init__(self, limit: int) -> None:
        self.streams: tuple[TlsStream, ...] = (TlsStream(self, 0, limit), TlsStream(self, 1, limit))
        self.tls_seen = False
        self.tls13 = False  # a ServerHello (or HelloRetryRequest) selected TLS 1.3
        self.client_dir: int | None = None  # the direction that sent the ClientHello
        self.client_hello: ClientHello | None = None
        self.server_hello: ServerHello | None = None
        self.hellos = 0
        self.certificates: tuple[CertSummary, ...] = ()
        self.alerts: list[tuple[int, Alert]] = []
        self.after_hello = False
        self.order = 0
        # per direction: (content type, length, order) of the records after the hello
        self.records: tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]] = ([], [])
        self.notes: list[tuple[int | None, str]] = []

    # ---- events from the streams ----------------------------------------------------------------------

    def note(self, d: int | None, text: str) -> None:
        if len(self.notes) < NOTES_KEPT:
            self.notes.append((d, text))

    def record(self, d: int, rtype: int, length: int, t: float) -> None:
        self.order += 1
        if not self.after_hello:
            if rtype not in (CT_CCS, CT_APPDATA):
                return
            self.after_hello = True  # the ServerHello was not seen (lost, or the capture began later)
        recs = self.records[d]
        if len(recs) < RECORDS_KEPT:
            recs.append((rtype, length, self.order))

    def handshake(self, d: int, msg_type: int, msg: bytes, record_version: int, t: float) -> None:
        try:
            if msg_type == HS_CLIENT_HELLO:
                self.hellos += 1
                if self.client_hello is None:
                    self.client_dir = d
                    hello, damaged = parse_client_hello(msg, t, record_version)
                    self.client_hello = hello
                    if damaged:
                        self.note(d, "the ClientHello's extensions are damaged: the ones before the damage are shown")
                elif self.hellos == 2:
                    self.note(d, "a second ClientHello (after a HelloRetryRequest): the first one is shown")
            elif msg_type == HS_SERVER_HELLO:
                hello_s = parse_server_hello(msg, t)
                if self.client_dir is None:
                    self.client_dir = 1 - d
                self.tls13 = hello_s.version == "TLSv1.3"
                if hello_s.hello_retry_request:
                    self.note(d, f"HelloRetryRequest ({hello_s.cipher_suite})")
                    if self.server_hello is None:
                        self.server_hello = hello_s
                elif self.server_hello is None or self.server_hello.hello_retry_request:
                    self.server_hello = hello_s
                    self.after_hello = True
            elif (msg_type == HS_CERTIFICATE and d != self.client_dir and not self.certificates
                  and (self.server_hello is None or self.server_hello.version != "TLSv1.3")):
                certs, damaged = parse_certificates(msg)
                self.certificates = certs
                if damaged:
                    self.note(d, "the Certificate message is damaged: the certificates before the damage are shown")
        except Malformed as exc:
            self.note(d, f"unreadable {names.handshake_type_name(msg_type)}: {exc}")
            if msg_type == HS_CLIENT_HELLO and self.client_dir is None:
                self.client_dir = d

    def sslv2_hello(self, d: int, body: bytes, t: float) -> None:
        if body and body[0] == HS_CLIENT_HELLO and self.client_hello is None:
            self.client_dir = d
            self.hellos += 1
            try:
                self.client_hello = parse_sslv2_client_hello(body, t)
            except Malformed as exc:
                self.note(d, f"unreadable SSLv2 ClientHello: {exc}")

    def alert_record(self, d: int, body: bytes, after_ccs: bool, length: int, t: float) -> None:
        if len(self.alerts) >= ALERTS_KEPT:
            return
        pairs = len(body) // 2
        plain = len(body) == 2 or (not after_ccs and len(body) % 2 == 0)
        if plain and pairs and all(body[2 * i] in names.ALERT_LEVELS for i in range(pairs)):
            for i in range(pairs):
                self.alerts.append((d, Alert(time=t, sender="client", encrypted=False,
                                             level=names.ALERT_LEVELS[body[2 * i]],
                                             description=names.alert_name(body[2 * i + 1]))))
        else:
            self.alerts.append((d, Alert(time=t, sender="client", encrypted=True, length=length)))

    # ---- the result ---------------------------------------------------------------------------------------

    def handshake_done(self, client_dir: int | None = None) -> bool:
        """TLS <= 1.2: both sides sent ChangeCipherSpec then an (encrypted) handshake record. TLS 1.3 (and
        whenever application data flows): a client record too long to be an alert, then a server record too long
        to be an alert (its session ticket or data) after it."""
        cd = self.client_dir if client_dir is None else client_dir
        if cd is None:
            cd = 0
        client, server = self.records[cd], self.records[1 - cd]
        sh = self.server_hello
        if (sh is None or sh.version != "TLSv1.3") and _finished_after_ccs(client) and _finished_after_ccs(server):
            return True
        first = next((o for rtype, length, o in client if rtype == CT_APPDATA and length >= FINISHED_MIN), None)
        if first is None:
            return False
        return any(rtype == CT_APPDATA and length >= FINISHED_MIN and o > first for rtype, length, o in server)

    def finish(self) -> None:
        for stream in self.streams:
            stream.finish()

    def release(self) -> None:
        """Drop the streams (they point back here): the connection is read."""
        self.streams = ()

    def alerts_for(self, client_dir: int) -> tuple[Alert, ...]:
        out: list[Alert] = []
        for d, alert in self.alerts:
            sender: Side = "client" if d == client_dir else "server"
            out.append(alert if sender == "client" else _with_sender(alert, sender))
        return tuple(out)

    def records_for(self, d: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
        recs = self.records[d]
        return (_intern(tuple(names.content_type_name(r[0]) for r in recs)), tuple(r[1] for r in recs))


def _with_sender(alert: Alert, sender: Side) -> Alert:
    return Alert(time=alert.time, sender=sender, encrypted=alert.encrypted, level=alert.level,
                 description=alert.description, inferred=alert.inferred, length=alert.length)


def _finished_after_ccs(recs: list[tuple[int, int, int]]) -> bool:
    ccs = False
    for rtype, _length, _order in recs:
        if rtype == CT_CCS:
            ccs = True
        elif ccs and rtype == CT_HANDSHAKE:
            return True
    return False
