"""Packet captures in, TLS connections out: `read_connections(paths, port=None, include_non_tls=False)`.

    file (pcap, pcapng, or either gzipped) -> packets (time, link type, bytes), streamed
        -> link layer (Ethernet + 802.1Q, Linux cooked SLL/SLL2, raw IP, BSD NULL/LOOP) -> IPv4/IPv6 -> TCP
        -> fixer.pcap.tcp.Tracker (reassembly) -> fixer.pcap.tls (records, handshake messages) -> ConnectionObs

Headers are parsed with `struct` directly (dpkt's objects for Ethernet/IP/TCP cost ~6 us a packet here, this
~1 us). Nothing a packet contains makes this raise: a packet that cannot be read is skipped and counted into a
note. A file cut mid-record gives what was read and a note (`partial`); a file that is not a capture raises
CaptureError. Each file is read on its own (a connection is not followed from one file into the next).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import BinaryIO

from fixer.errors import CaptureError
from fixer.pcap.model import ConnectionObs
from fixer.pcap.tcp import Limits, Tracker


@dataclass(frozen=True)
class CaptureRead:
    """What the captures show: TLS connections (and the others when asked), by start time."""

    connections: tuple[ConnectionObs, ...]
    packets: int  # packets read, all of them
    notes: tuple[str, ...]  # file-level: truncation, damage, skipped packets, limits reached
    partial: bool  # some file was truncated or damaged, or a limit cut the result short
    non_tls: int = 0  # TCP connections on which no TLS was seen (in `connections` only with include_non_tls)


# ---- file formats ------------------------------------------------------------------------------------------

# magic -> (byte order, seconds per fraction unit, record header length)
_PCAP_MAGICS: dict[bytes, tuple[str, float, int]] = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6, 16), b"\xa1\xb2\xc3\xd4": (">", 1e-6, 16),  # microseconds
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9, 16), b"\xa1\xb2\x3c\x4d": (">", 1e-9, 16),  # nanoseconds
    b"\x34\xcd\xb2\xa1": ("<", 1e-6, 24), b"\xa1\xb2\xcd\x34": (">", 1e-6, 24),  # Kuznetzov's modified pcap
}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_GZIP_MAGIC = b"\x1f\x8b"
_STANDARD_SNAPLEN = 262144
_MAX_RECORD = 16 * 1024 * 1024  # a packet record or block longer than this is damage, not data
_BT_IDB, _BT_PB, _BT_SPB, _BT_EPB = 1, 2, 3, 6
_BOM_LE, _BOM_BE = b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"

Packet = tuple[float, int, bytes]  # time, link type, bytes captured


class _Sink:
    """File-level notes of one capture file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.notes: list[str] = []
        self.partial = False
        self.untimed = 0  # pcapng simple packet blocks (no timestamp)
        self.bad_interface = 0

    def damaged(self, text: str) -> None:
        self.notes.append(f"{self.path}: {text}")
        self.partial = True


def _iter_pcap(f: BinaryIO, magic: bytes, sink: _Sink) -> Iterator[Packet]:
    order, scale, header_len = _PCAP_MAGICS[magic]
    head = f.read(20)
    if len(head) < 20:
        sink.damaged("the file ends inside the pcap file header (truncated)")
        return
    _major, _minor, _zone, _sigfigs, snaplen, linktype = struct.unpack(order + "HHiIII", head)
    linktype &= 0xFFFF  # the upper bits carry FCS information
    max_len = min(max(snaplen, _STANDARD_SNAPLEN), _MAX_RECORD)
    record = struct.Struct(order + "IIII")
    read = f.read
    index = 0
    while True:
        head = read(header_len)
        if len(head) < header_len:
            if head:
                sink.damaged(f"the file ends inside the header of packet {index + 1} (truncated)")
            return
        sec, frac, caplen, _origlen = record.unpack_from(head)
        index += 1
        if caplen > max_len:
            sink.damaged(f"packet {index} claims {caplen} bytes (snap length {snaplen}): the file is damaged "
                         "there, the rest was not read")
            return
        data = read(caplen)
        if len(data) < caplen:
            sink.damaged(f"the file ends inside packet {index} ({len(data)} of {caplen} bytes; truncated)")
            if data:
                yield sec + frac * scale, linktype, data
            return
        yield sec + frac * scale, linktype, data


def _iter_pcapng(f: BinaryIO, sink: _Sink) -> Iterator[Packet]:
    order = "<"
    # per section: interface id -> (link type, timestamp units per second, offset seconds, snap length)
    interfaces: list[tuple[int, float, int, int]] = []
    read = f.read
    last_time = 0.0
    offset = 0
    head = _PCAPNG_MAGIC + read(4)  # the magic was read by _open
    while True:
        if offset:
            head = read(8)
        if len(head) < 8:
            if head:
                sink.damaged(f"the file ends inside a block header at byte {offset} (truncated)")
            return
        if head[:4] == _PCAPNG_MAGIC:  # section header: its byte-order magic decides how to read the rest
            bom = read(4)
            if bom == _BOM_LE:
                order = "<"
            elif bom == _BOM_BE:
                order = ">"
            else:
                if len(bom) < 4:
                    sink.damaged(f"the file ends inside a section header at byte {offset} (truncated)")
                else:
                    sink.damaged(f"a section header at byte {offset} has no valid byte-order magic: the rest of "
                                 "the file was not read")
                return
            (length,) = struct.unpack(order + "I", head[4:])
            if length < 28 or length % 4 or length > _MAX_RECORD:
                sink.damaged(f"a section header at byte {offset} claims {length} bytes: the rest was not read")
                return
            body = bom + read(length - 12)
            interfaces = []
        else:
            block_type, length = struct.unpack(order + "II", head)
            if length < 12 or length % 4 or length > _MAX_RECORD:
                sink.damaged(f"a block at byte {offset} claims {length} bytes: the file is damaged there, the "
                             "rest was not read")
                return
            body = read(length - 8)
        if len(body) < length - 8:
            sink.damaged(f"the file ends inside a block at byte {offset} (truncated)")
            return
        if struct.unpack_from(order + "I", body, length - 12)[0] != length:
            sink.damaged(f"the block at byte {offset} does not end with its length: the file is damaged there, "
                         "the rest was not read")
            return
        offset += length
        if head[:4] == _PCAPNG_MAGIC:
            continue
        if block_type in (_BT_EPB, _BT_PB):
            if length < 32:
                sink.bad_interface += 1
                continue
            if block_type == _BT_EPB:
                iface, high, low, caplen, _origlen = struct.unpack_from(order + "IIIII", body, 0)
            else:
                iface, _drops, high, low, caplen, _origlen = struct.unpack_from(order + "HHIIII", body, 0)
            if iface >= len(interfaces):
                sink.bad_interface += 1
                continue
            linktype, units, shift, _snap = interfaces[iface]
            last_time = ((high << 32) | low) / units + shift
            yield last_time, linktype, body[20:20 + min(caplen, length - 32)]
        elif block_type == _BT_SPB:
            if not interfaces:
                sink.bad_interface += 1
                continue
            linktype, _units, _shift, snap = interfaces[0]
            (origlen,) = struct.unpack_from(order + "I", body, 0)
            sink.untimed += 1
            yield last_time, linktype, body[4:4 + min(origlen, length - 16, snap or _MAX_RECORD)]
        elif block_type == _BT_IDB and length >= 20:
            linktype, _reserved, snap = struct.unpack_from(order + "HHI", body, 0)
            units, shift = _interface_options(body, order, length - 12)
            interfaces.append((linktype, units, shift, snap))


def _interface_options(body: bytes, order: str, end: int) -> tuple[float, int]:
    """if_tsresol (units per second, default microseconds) and if_tsoffset (seconds) of an interface block."""
    units, shift = 1e6, 0
    pos = 8
    while pos + 4 <= end:
        code, size = struct.unpack_from(order + "HH", body, pos)
        value = body[pos + 4:pos + 4 + size]
        if code == 0:
            break
        if code == 9 and size >= 1:
            exponent = value[0] & 0x7F
            if exponent < 64:
                units = float(2 ** exponent if value[0] & 0x80 else 10 ** exponent)
        elif code == 14 and size == 8:
            (shift,) = struct.unpack(order + "q", value)
        pos += 4 + ((size + 3) & ~3)
    return units, shift


def _open(path: str) -> tuple[BinaryIO, bytes]:
    """The opened capture (gzip undone), positioned after its 4-byte magic; CaptureError when it is none."""
    f: BinaryIO | None = None
    try:
        f = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 - returned open to the caller
        magic = f.read(4)
        if magic[:2] == _GZIP_MAGIC:
            f.close()
            f = gzip.open(path, "rb")  # type: ignore[assignment]  # noqa: SIM115
            magic = f.read(4)
    except (OSError, EOFError, zlib.error) as exc:
        if f is not None:
            f.close()
        if isinstance(exc, OSError) and exc.strerror:
            raise CaptureError(f"{path}: cannot be read: {exc.strerror}") from exc
        raise CaptureError(f"{path}: a damaged gzip file ({exc})") from exc
    if magic in _PCAP_MAGICS or magic == _PCAPNG_MAGIC:
        return f, magic
    f.close()
    if not magic:
        raise CaptureError(f"{path}: an empty file, not a packet capture")
    raise CaptureError(f"{path}: not a packet capture (pcap or pcapng): it starts with bytes {magic.hex()}")


# ---- link, network and transport layers ----------------------------------------------------------------

# reasons a packet gives no TCP segment (an int returned by decode instead of the fields)
NOT_IP, NOT_TCP, FRAGMENT, MALFORMED, CUT, UNSUPPORTED = range(6)
_VLAN = (0x8100, 0x88A8, 0x9100)
_ETH_IPV4, _ETH_IPV6 = 0x0800, 0x86DD
_U16 = struct.Struct("!H")
_TCP = struct.Struct("!HHIIBB")
LINKTYPES: dict[int, str] = {
    0: "BSD loopback (NULL)", 1: "Ethernet", 12: "raw IP", 14: "raw IP", 101: "raw IP", 108: "OpenBSD loopback",
    113: "Linux cooked (SLL)", 228: "raw IPv4", 229: "raw IPv6", 276: "Linux cooked v2 (SLL2)",
}

Segment = tuple[bytes, int, bytes, int, int, int, int, int, int, int]


def _ether(data: bytes, off: int, etype: int) -> int:
    """Offset of the IP header after an EtherType at off-2 (802.1Q/802.1ad tags skipped), or a reason."""
    while etype in _VLAN:
        if len(data) < off + 4:
            return -CUT - 1
        etype = _U16.unpack_from(data, off + 2)[0]
        off += 4
    if etype in (_ETH_IPV4, _ETH_IPV6):
        return off
    return -NOT_IP - 1


def ip_offset(linktype: int, data: bytes) -> int:
    """Where the IP header starts in a frame of `linktype`; a negative value is -(reason + 1)."""
    if linktype == 1:
        if len(data) < 14:
            return -CUT - 1
        return _ether(data, 14, _U16.unpack_from(data, 12)[0])
    if linktype == 113:
        if len(data) < 16:
            return -CUT - 1
        return _ether(data, 16, _U16.unpack_from(data, 14)[0])
    if linktype == 276:
        if len(data) < 20:
            return -CUT - 1
        return _ether(data, 20, _U16.unpack_from(data, 0)[0])
    if linktype in (101, 228, 229):
        return 0
    if linktype in (0, 108):
        return 4  # the address family (host or network order): the IP version nibble tells more
    if linktype in (12, 14):  # raw IP on most systems; on OpenBSD 12 is the loopback header
        return 0 if data and data[0] >> 4 in (4, 6) else 4
    return -UNSUPPORTED - 1


def decode(linktype: int, data: bytes) -> Segment | int:
    """The TCP segment of a frame: (src, sport, dst, dport, seq, ack, flags, payload start, payload stop
    (captured), payload length (sent)); or why there is none (NOT_IP, NOT_TCP, FRAGMENT, MALFORMED, CUT,
    UNSUPPORTED)."""
    off = ip_offset(linktype, data)
    if off < 0:
        return -off - 1
    size = len(data)
    if size < off + 20:
        return CUT if size > off else NOT_IP
    version = data[off] >> 4
    if version == 4:
        ihl = (data[off] & 0x0F) * 4
        total = _U16.unpack_from(data, off + 2)[0]
        if ihl < 20 or (total and total < ihl):
            return MALFORMED
        if _U16.unpack_from(data, off + 6)[0] & 0x3FFF:
            return FRAGMENT
        if data[off + 9] != 6:
            return NOT_TCP
        end = off + total if total else size  # 0: segmentation offload, the length is the frame's
        src = data[off + 12:off + 16]
        dst = data[off + 16:off + 20]
        p = off + ihl
    elif version == 6:
        if size < off + 40:
            return CUT
        plen = _U16.unpack_from(data, off + 4)[0]
        nh = data[off + 6]
        src = data[off + 8:off + 24]
        dst = data[off + 24:off + 40]
        p = off + 40
        end = p + plen if plen else size
        for _ in range(8):
            if nh == 6:
                break
            if nh in (0, 43, 60, 51):  # hop-by-hop, routing, destination options, AH
                if size < p + 2:
                    return CUT
                hlen = (data[p + 1] + 2) * 4 if nh == 51 else (data[p + 1] + 1) * 8
                nh = data[p]
                p += hlen
            elif nh == 44:  # fragment header: only an atomic fragment (offset 0, no more) holds a whole segment
                if size < p + 8:
                    return CUT
                if _U16.unpack_from(data, p + 2)[0] & 0xFFF9:
                    return FRAGMENT
                nh = data[p]
                p += 8
            else:
                return NOT_TCP
        if nh != 6:
            return NOT_TCP
    else:
        return MALFORMED
    if size < p + 20:
        return CUT if end >= p + 20 else MALFORMED
    sport, dport, seq, ack, doff, flags = _TCP.unpack_from(data, p)
    start = p + (doff >> 4) * 4
    length = end - start
    if doff >> 4 < 5 or length < 0:
        return MALFORMED
    stop = end if end < size else size
    if start > stop:
        start = stop
    return src, sport, dst, dport, seq, ack, flags, start, stop, length


# ---- the entry point -----------------------------------------------------------------------------------

_REASONS = {
    FRAGMENT: "IP fragments skipped (not reassembled)",
    MALFORMED: "malformed packets skipped",
    CUT: "packets cut by the snap length before their TCP header ended (capture with -s 0)",
}


def read_connections(paths: Sequence[str | PathLike[str]], port: int | None = None, include_non_tls: bool = False,
                     *, limits: Limits | None = None) -> CaptureRead:
    """Read each capture file, reassemble its TCP connections and parse their TLS handshakes.

    `port`: only connections with this port at either end. `include_non_tls`: also return the TCP connections
    on which no TLS was seen (ConnectionObs without client_hello), else they are only counted. Raises
    CaptureError (before reading anything) when a file cannot be opened or is not a capture."""
    names = [str(p) for p in paths]
    for name in names:  # fail fast on a file that is no capture
        f, _magic = _open(name)
        f.close()
    connections: list[ConnectionObs] = []
    notes: list[str] = []
    packets = 0
    partial = False
    non_tls = 0
    for name in names:
        tracker = Tracker(limits, include_non_tls)
        sink = _Sink(name)
        packets += _read_file(name, port, tracker, sink)
        connections.extend(_finish(tracker, sink))
        non_tls += tracker.non_tls
        notes.extend(sink.notes)
        partial = partial or sink.partial
    if len(names) > 1:
        connections.sort(key=lambda o: o.start)
    return CaptureRead(connections=tuple(connections), packets=packets, notes=tuple(notes), partial=partial,
                       non_tls=non_tls)


def _finish(tracker: Tracker, sink: _Sink) -> list[ConnectionObs]:
    results = tracker.finish()
    if tracker.errors:
        sink.damaged(f"internal error on {tracker.errors} connections, skipped (first: {tracker.first_error})")
    limits = tracker.limits
    if tracker.evicted:
        sink.notes.append(f"{sink.path}: more than {limits.connections_open} connections open at once: "
                          f"{tracker.evicted} were finished early (their later packets ignored)")
    if tracker.not_kept:
        sink.damaged(f"more than {limits.connections_kept} TLS connections: {tracker.not_kept} more were only "
                     "counted")
    return results


def _read_file(path: str, port: int | None, tracker: Tracker, sink: _Sink) -> int:
    f, magic = _open(path)
    reasons: Counter[int] = Counter()
    unsupported: Counter[int] = Counter()
    packets = cut_payload = 0
    errors = 0
    first_error = ""
    packet = tracker.packet
    try:
        source = _iter_pcapng(f, sink) if magic == _PCAPNG_MAGIC else _iter_pcap(f, magic, sink)
        for t, linktype, data in source:
            packets += 1
            try:
                seg = decode(linktype, data)
                if isinstance(seg, int):
                    reasons[seg] += 1
                    if seg == UNSUPPORTED:
                        unsupported[linktype] += 1
                    continue
                src, sport, dst, dport, seq, ack, flags, start, stop, length = seg
                if port is not None and sport != port and dport != port:
                    continue
                if stop - start < length:
                    cut_payload += 1
                packet(t, src, sport, dst, dport, seq, ack, flags, data, start, stop, length)
            except Exception as exc:  # a bug must not cost the whole reading: count it, go on
                errors += 1
                if not first_error:
                    first_error = f"packet {packets}: {type(exc).__name__}: {exc}"
    except (OSError, EOFError, zlib.error) as exc:
        sink.damaged(f"reading stopped after {packets} packets: {exc} (truncated or damaged)")
    finally:
        f.close()
    for reason, text in _REASONS.items():
        if reasons[reason]:
            sink.notes.append(f"{path}: {reasons[reason]} {text}")
    for linktype, count in sorted(unsupported.items()):
        sink.notes.append(f"{path}: {count} packets of unsupported link type {linktype} skipped")
        sink.partial = True
    if cut_payload:
        sink.notes.append(f"{path}: {cut_payload} packets cut by the snap length inside their TCP payload "
                          "(capture with -s 0)")
    if sink.untimed:
        sink.notes.append(f"{path}: {sink.untimed} simple packet blocks carry no time: the previous packet's "
                          "time is used")
    if sink.bad_interface:
        sink.notes.append(f"{path}: {sink.bad_interface} packet blocks without a described interface skipped")
    if errors:
        sink.damaged(f"internal error on {errors} packets, skipped (first: {first_error})")
    return packets
