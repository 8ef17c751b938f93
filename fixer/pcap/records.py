"""One direction of a TCP connection as TLS records: TlsStream walks the bytes the TCP layer delivers.

    bytes in order (+ gaps) -> records -> handshake messages, alerts, ChangeCipherSpec -> its TlsConn

The TCP layer (fixer.pcap.tcp) feeds each direction's bytes in sequence order and reports the bytes it never saw
(gaps). A stream decides from its first bytes whether it carries TLS (a record header, or an SSLv2-format
ClientHello); a stream whose start was not captured, or that lost a record header in a gap, looks for two
consecutive plausible record headers to resynchronise. Only plaintext handshake records are kept in memory
(bounded); application data is skipped by record length without being stored. Nothing here raises on bad
input: what cannot be read becomes a note of the connection (fixer.pcap.tls.TlsConn), which also gets every
record, handshake message and alert.
"""

from __future__ import annotations

import re
import struct
from typing import TYPE_CHECKING

from fixer.pcap import names
from fixer.pcap.hello import HS_CLIENT_HELLO

if TYPE_CHECKING:
    from fixer.pcap.tls import TlsConn

RECORD_MAX = 16384 + 2048  # TLSCiphertext.length limit of TLS 1.2 (1.3's is smaller)
HANDSHAKE_MAX = 128 * 1024  # a handshake message bigger than this is skipped (a certificate chain is ~2-20 KiB)

CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APPDATA = 20, 21, 22, 23
_SSL2 = 0x80  # pseudo content type of an SSLv2-format record

_DETECT, _RECORDS, _LOST, _OFF = range(4)
_HDR = struct.Struct("!BBBH")
_U16 = struct.Struct("!H")
# a record header candidate: type 20..24, major version 3, minor 0..4
_HEADER_RE = re.compile(rb"[\x14-\x18]\x03[\x00-\x04]")


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


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
