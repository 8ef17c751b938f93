"""Capture files and link layers: pcap (both byte orders, micro/nanoseconds), pcapng (interfaces of several
link types, enhanced/simple packet blocks), gzip; Ethernet (+VLAN), SLL, SLL2, raw IP, NULL/LOOP; IPv4 (options,
fragments) and IPv6 (extension headers); truncated, damaged and non-capture files; ports and filters."""

from __future__ import annotations

import gzip
import io
import struct
import time
from pathlib import Path

import dpkt
import pytest

from fixer.errors import CaptureError, FixerError
from fixer.pcap.reader import (
    CUT,
    FRAGMENT,
    MALFORMED,
    NOT_IP,
    NOT_TCP,
    UNSUPPORTED,
    CaptureRead,
    decode,
    read_connections,
)
from tests.unit import pcap_build as b
from tests.unit.pcap_build import Seg, alert, client_hello_body, handshake_msg, record

V4 = (("10.0.0.1", 40000), ("10.0.0.2", 443))
V6 = (("2001:db8::1", 40000), ("2001:db8::2", 443))


def small_flights() -> list[b.Flight]:
    return [("client", record(22, handshake_msg(1, client_hello_body(sni="x.example")), 0x0301)),
            ("server", alert(112))]


def check(read: CaptureRead, client: tuple[str, int] = V4[0], server: tuple[str, int] = V4[1]) -> None:
    obs = b.only(read)
    assert (obs.client.ip, obs.client.port, obs.server.ip, obs.server.port) == (*client, *server)
    assert obs.client_hello is not None and obs.client_hello.server_name == "x.example"
    assert [a.description for a in obs.alerts] == ["unrecognized_name"]
    assert not read.notes, read.notes


@pytest.mark.parametrize("linktype", [1, 113, 276, 101, 12, 14, 0, 108])
@pytest.mark.parametrize("ends", [V4, V6], ids=["ipv4", "ipv6"])
def test_link_types(tmp_path: Path, linktype: int, ends: tuple[tuple[str, int], tuple[str, int]]) -> None:
    packets = b.frames(b.session(small_flights()), client=ends[0], server=ends[1], linktype=linktype)
    path = b.write(tmp_path, "c.pcap", b.pcap_bytes(packets, linktype))
    check(read_connections([path]), *ends)


@pytest.mark.parametrize(("linktype", "ends"), [(228, V4), (229, V6)])
def test_raw_ipv4_ipv6_link_types(tmp_path: Path, linktype: int,
                                  ends: tuple[tuple[str, int], tuple[str, int]]) -> None:
    packets = b.frames(b.session(small_flights()), client=ends[0], server=ends[1], linktype=linktype)
    check(read_connections([b.write(tmp_path, "c.pcap", b.pcap_bytes(packets, linktype))]), *ends)


def test_null_link_type_in_big_endian(tmp_path: Path) -> None:
    packets = [(t, b.link(0, f, big_endian_null=True)) for t, f in b.frames(b.session(small_flights()), linktype=101)]
    check(read_connections([b.write(tmp_path, "c.pcap", b.pcap_bytes(packets, 0))]))


def test_openbsd_loop_under_link_type_12(tmp_path: Path) -> None:
    packets = [(t, b.link(108, f)) for t, f in b.frames(b.session(small_flights()), linktype=101)]
    check(read_connections([b.write(tmp_path, "c.pcap", b.pcap_bytes(packets, 12))]))


@pytest.mark.parametrize("tags", [(5,), (5, 7)], ids=["802.1Q", "QinQ"])
def test_vlan_tags(tmp_path: Path, tags: tuple[int, ...]) -> None:
    packets = [(t, b.link(1, f, vlan=tags)) for t, f in b.frames(b.session(small_flights()), linktype=101)]
    check(read_connections([b.write(tmp_path, "c.pcap", b.pcap_bytes(packets))]))


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_byte_orders_and_resolutions(tmp_path: Path, big_endian: bool, nano: bool) -> None:
    segs = b.session(small_flights(), t0=b.T0 + 0.123456789 if nano else b.T0 + 0.123456)
    data = b.pcap_bytes(b.frames(segs), big_endian=big_endian, nano=nano)
    read = read_connections([b.write(tmp_path, "c.pcap", data)])
    check(read)
    assert read.packets == len(segs)
    assert read.connections[0].start == pytest.approx(segs[0].t, abs=1e-6)
    assert read.connections[0].end == pytest.approx(segs[-1].t, abs=1e-6)


def test_dpkt_writers(tmp_path: Path) -> None:
    packets = b.frames(b.session(small_flights()))
    for name, writer in (("a.pcap", dpkt.pcap.Writer), ("b.pcapng", dpkt.pcapng.Writer)):
        buf = io.BytesIO()
        w = writer(buf, linktype=1)
        for t, frame in packets:
            w.writepkt(frame, ts=t)
        read = read_connections([b.write(tmp_path, name, buf.getvalue())])
        check(read)
        assert read.connections[0].start == pytest.approx(b.T0, abs=1e-5)
    buf = io.BytesIO()
    w = dpkt.pcap.Writer(buf, linktype=1, nano=True)
    for t, frame in packets:
        w.writepkt(frame, ts=t)
    check(read_connections([b.write(tmp_path, "nano.pcap", buf.getvalue())]))


@pytest.mark.parametrize("big_endian", [False, True])
def test_pcapng_interfaces_of_several_link_types(tmp_path: Path, big_endian: bool) -> None:
    """Like `tcpdump -i any` on one side and an Ethernet capture on the other merged by mergecap."""
    eth = b.frames(b.session(small_flights()))
    sll2 = b.frames(b.session(small_flights()), linktype=276)
    packets = [(t, i % 2, (eth if i % 2 == 0 else sll2)[i][1]) for i, (t, _f) in enumerate(eth)]
    data = b.pcapng_bytes(packets, [1, 276], big_endian=big_endian)
    read = read_connections([b.write(tmp_path, "c.pcapng", data)])
    check(read)
    assert read.packets == len(eth)


@pytest.mark.parametrize(("tsresol", "precision"), [(9, 1e-9), (6, 1e-6), (0x80 | 20, 2 ** -20)])
def test_pcapng_timestamp_resolution(tmp_path: Path, tsresol: int, precision: float) -> None:
    segs = b.session(small_flights(), t0=b.T0 + 0.5)
    data = b.pcapng_bytes([(t, 0, f) for t, f in b.frames(segs)], [1], tsresol=tsresol)
    read = read_connections([b.write(tmp_path, "c.pcapng", data)])
    check(read)
    assert read.connections[0].start == pytest.approx(segs[0].t, abs=precision * 2 + 1e-6)


def test_pcapng_simple_packet_blocks(tmp_path: Path) -> None:
    data = b.pcapng_bytes([(t, 0, f) for t, f in b.frames(b.session(small_flights()))], [1], simple=True)
    read = read_connections([b.write(tmp_path, "c.pcapng", data)])
    obs = b.only(read)
    assert obs.client_hello is not None and obs.alerts
    assert any("carry no time" in n for n in read.notes)


def test_pcapng_second_section_resets_interfaces(tmp_path: Path) -> None:
    first = b.pcapng_bytes([(t, 0, f) for t, f in b.frames(b.session(small_flights()))], [1])
    second = b.pcapng_bytes([(t, 0, f) for t, f in b.frames(b.session(small_flights(), t0=b.T0 + 5), linktype=276,
                                                           client=("10.0.0.9", 40001))], [276], big_endian=True)
    read = read_connections([b.write(tmp_path, "c.pcapng", first + second)])
    assert len(read.connections) == 2 and not read.notes


def test_pcapng_packet_for_an_undescribed_interface(tmp_path: Path) -> None:
    data = b.pcapng_bytes([(t, 3 if i == 0 else 0, f) for i, (t, f) in enumerate(b.frames(b.session(small_flights())))],
                          [1])
    read = read_connections([b.write(tmp_path, "c.pcapng", data)])
    assert any("without a described interface" in n for n in read.notes)


def test_gzip_capture(tmp_path: Path) -> None:
    data = gzip.compress(b.pcap_bytes(b.frames(b.session(small_flights()))))
    check(read_connections([b.write(tmp_path, "c.pcap.gz", data)]))


def test_unsupported_link_type_is_a_note(tmp_path: Path) -> None:
    data = b.pcap_bytes(b.frames(b.session(small_flights())), linktype=105)
    read = read_connections([b.write(tmp_path, "c.pcap", data)])
    assert read.connections == () and read.partial
    assert any("unsupported link type 105" in n for n in read.notes)


# ---- network layer --------------------------------------------------------------------------------------------

def test_ipv4_options_and_ethernet_padding(tmp_path: Path) -> None:
    packets = []
    for seg in b.session(small_flights()):
        (src, sport), (dst, dport) = V4 if seg.side == "client" else V4[::-1]
        ip = b.ipv4(src, dst, b.tcp_bytes(sport, dport, seg, options=b"\x02\x04\x05\xb4"), options=b"\x01\x01\x01\x00")
        frame = b.link(1, ip)
        packets.append((seg.t, frame + b"\x00" * max(0, 60 - len(frame)) + b"FCS!"))
    read = read_connections([b.write(tmp_path, "c.pcap", b.pcap_bytes(packets))])
    check(read)
    assert read.connections[0].bytes_server == 7


def test_ipv4_fragments_are_skipped_with_a_note(tmp_path: Path) -> None:
    packets = b.frames(b.session(small_flights()))
    seg = Seg(b.T0 + 1, "client", b.ACK, 1, 1, b"x" * 40)
    frag = b.ipv4("10.0.0.1", "10.0.0.2", b.tcp_bytes(40000, 443, seg), frag=0x2000)
    packets.append((b.T0 + 1, b.link(1, frag)))
    read = read_connections([b.write(tmp_path, "c.pcap", b.pcap_bytes(packets))])
    assert len(read.connections) == 1 and any("1 IP fragments skipped" in n for n in read.notes)


def test_ipv6_extension_headers(tmp_path: Path) -> None:
    packets = []
    exts = [(0, b"\x01\x04\x00\x00\x00\x00"), (60, b""), (44, b"\x00\x00\x12\x34\x56\x78")]  # atomic fragment
    for seg in b.session(small_flights()):
        (src, sport), (dst, dport) = V6 if seg.side == "client" else V6[::-1]
        packets.append((seg.t, b.link(1, b.ipv6(src, dst, b.tcp_bytes(sport, dport, seg), ext=exts))))
    check(read_connections([b.write(tmp_path, "c.pcap", b.pcap_bytes(packets))]), *V6)


def test_ipv6_fragment_is_skipped() -> None:
    seg = Seg(b.T0, "client", b.ACK, 1, 1, b"x")
    frag = b.ipv6("2001:db8::1", "2001:db8::2", b.tcp_bytes(1, 2, seg), ext=[(44, b"\x00\x01\x00\x00\x00\x01")])
    assert decode(101, frag) == FRAGMENT


def test_decode_reasons() -> None:
    seg = Seg(b.T0, "client", b.ACK, 1, 1, b"payload")
    tcp = b.tcp_bytes(1234, 443, seg)
    ip = b.ipv4("10.0.0.1", "10.0.0.2", tcp)
    assert decode(101, b"") == NOT_IP
    assert decode(1, b"\x00" * 12 + b"\x08\x06" + bytes(28)) == NOT_IP  # ARP
    assert decode(101, b.ipv4("10.0.0.1", "10.0.0.2", b"\x00" * 8, proto=17)) == NOT_TCP
    assert decode(101, b.ipv6("::1", "::1", b"\x00" * 8, nh=58)) == NOT_TCP
    assert decode(101, ip[:30]) == CUT
    assert decode(1, b"\x00" * 10) == CUT
    assert decode(101, b"\x50" + ip[1:]) == MALFORMED  # version 5
    assert decode(101, b"\x43" + ip[1:]) == MALFORMED  # header length 12
    assert decode(101, ip[:32] + b"\x20" + ip[33:]) == MALFORMED  # TCP data offset 2
    assert decode(147, ip) == UNSUPPORTED
    fields = decode(101, ip)
    assert not isinstance(fields, int)
    _src, sport, _dst, dport, seq, ack, flags, start, stop, length = fields
    assert (sport, dport, seq, ack, flags, ip[start:stop], length) == (1234, 443, 1, 1, b.ACK, b"payload", 7)
    assert decode(101, ip[:-3])[-3:] == (40, 44, 7)  # type: ignore[index]  # payload cut by the snap length


def test_packets_cut_by_the_snap_length(tmp_path: Path) -> None:
    packets = b.frames(b.session(small_flights()))
    read = read_connections([b.write(tmp_path, "c.pcap", b.pcap_bytes(packets, snaplen=80))])
    assert any("cut by the snap length inside their TCP payload" in n for n in read.notes)
    obs = read.connections[0]
    assert obs.client_hello is None and obs.bytes_client > 0
    read = read_connections([b.write(tmp_path, "d.pcap", b.pcap_bytes(packets, snaplen=40))])
    assert any("before their TCP header ended" in n for n in read.notes)


def test_udp_and_arp_are_ignored_silently(tmp_path: Path) -> None:
    packets = b.frames(b.session(small_flights()))
    packets.append((b.T0 + 2, b.link(1, b.ipv4("10.0.0.1", "10.0.0.3", bytes(8), proto=17))))
    packets.append((b.T0 + 3, b"\xff" * 6 + b"\x02" * 6 + b"\x08\x06" + bytes(28)))
    read = read_connections([b.write(tmp_path, "c.pcap", b.pcap_bytes(packets))])
    check(read)
    assert read.packets == len(packets)


# ---- files that are damaged or no capture ---------------------------------------------------------------------------

def test_truncated_file_gives_what_was_read(tmp_path: Path) -> None:
    first = b.frames(b.session(small_flights()))
    second = b.frames(b.session(b.handshake(client_max="1.2"), t0=b.T0 + 10), client=("10.0.0.7", 41000))
    data = b.pcap_bytes(first + second)
    read = read_connections([b.write(tmp_path, "c.pcap", data[:len(data) - 700])])
    assert read.partial and any("truncated" in n for n in read.notes)
    assert len(read.connections) == 2
    assert read.connections[0].alerts and read.connections[1].client_hello is not None


@pytest.mark.parametrize("cut", [3 + 24, 24 + 8, 30])
def test_truncated_inside_headers(tmp_path: Path, cut: int) -> None:
    data = b.pcap_bytes(b.frames(b.session(small_flights())))
    read = read_connections([b.write(tmp_path, "c.pcap", data[:cut])])
    assert read.partial and read.connections == ()


def test_truncated_pcapng(tmp_path: Path) -> None:
    data = b.pcapng_bytes([(t, 0, f) for t, f in b.frames(b.session(small_flights()))], [1])
    for cut in (30, len(data) - 10, len(data) - 1):
        read = read_connections([b.write(tmp_path, "c.pcapng", data[:cut])])
        assert read.partial and any("truncated" in n for n in read.notes)


def test_damaged_record_length_stops_with_a_note(tmp_path: Path) -> None:
    data = bytearray(b.pcap_bytes(b.frames(b.session(small_flights()))))
    struct.pack_into("<I", data, 24 + 8, 0x7FFFFFFF)  # the first packet's caplen
    read = read_connections([b.write(tmp_path, "c.pcap", bytes(data))])
    assert read.partial and any("damaged" in n for n in read.notes)


def test_damaged_pcapng_block(tmp_path: Path) -> None:
    data = bytearray(b.pcapng_bytes([(t, 0, f) for t, f in b.frames(b.session(small_flights()))], [1]))
    data[-1] ^= 0xFF  # the trailing length of the last block
    read = read_connections([b.write(tmp_path, "c.pcapng", bytes(data))])
    assert read.partial and any("does not end with its length" in n for n in read.notes)
    assert len(read.connections) == 1


@pytest.mark.parametrize("content", [b"", b"GET / HTTP/1.1\r\n", b"\x0a\x0d", bytes(range(256)) * 4,
                                     gzip.compress(b"hello, not a capture")])
def test_not_a_capture(tmp_path: Path, content: bytes) -> None:
    path = b.write(tmp_path, "x.pcap", content)
    with pytest.raises(CaptureError, match=r"x\.pcap"):
        read_connections([path])


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="cannot be read"):
        read_connections([str(tmp_path / "absent.pcap")])
    with pytest.raises(CaptureError):
        read_connections([str(tmp_path)])
    assert issubclass(CaptureError, FixerError)


def test_one_bad_file_fails_before_any_reading(tmp_path: Path) -> None:
    good = b.write(tmp_path, "good.pcap", b.pcap_bytes(b.frames(b.session(small_flights()))))
    bad = b.write(tmp_path, "bad.pcap", b"nope")
    with pytest.raises(CaptureError, match=r"bad\.pcap"):
        read_connections([good, bad])


# ---- TLS anywhere, ports, several files -------------------------------------------------------------------------

def test_tls_on_an_odd_port_and_the_port_filter(tmp_path: Path) -> None:
    packets = b.frames(b.session(small_flights()), server=("10.0.0.2", 50123))
    packets += b.frames(b.session(small_flights(), t0=b.T0 + 5), client=("10.0.0.5", 45000))
    path = b.write(tmp_path, "c.pcap", b.pcap_bytes(packets))
    read = read_connections([path])
    assert [c.server.port for c in read.connections] == [50123, 443]
    assert read.connections[0].client.port == 40000  # the SYN's sender, though both ports are high
    assert [c.server.port for c in read_connections([path], port=443).connections] == [443]
    assert [c.client.port for c in read_connections([path], port=40000).connections] == [40000]
    assert read_connections([path], port=1).connections == ()


def test_non_tls_on_443_is_not_tls(tmp_path: Path) -> None:
    segs = b.session([("client", b"\x00\x01binary protocol"), ("server", b"ok")])
    read = b.read_segments(tmp_path, segs)
    assert read.connections == () and read.non_tls == 1


def test_several_files_merge_by_start(tmp_path: Path) -> None:
    late = b.write(tmp_path, "late.pcap", b.pcap_bytes(b.frames(b.session(small_flights(), t0=b.T0 + 100))))
    early = b.write(tmp_path, "early.pcapng",
                    b.pcapng_bytes([(t, 0, f) for t, f in b.frames(b.session(small_flights()), linktype=113)],
                                   [113]))
    read = read_connections([late, Path(early)])
    assert [round(c.start - b.T0) for c in read.connections] == [0, 100]
    assert read.packets == 2 * len(b.session(small_flights()))


def test_speed_of_a_10k_packet_capture(tmp_path: Path) -> None:
    flights = [b.handshake(), b.handshake(client_max="1.2"), b.handshake(verify="bad"), small_flights()]
    packets: list[tuple[float, bytes]] = []
    i = 0
    while len(packets) < 10_000:
        packets += b.frames(b.session(flights[i % len(flights)], t0=b.T0 + i * 0.01, isn_c=i * 7919),
                            client=(f"10.1.{i // 200}.{i % 200 + 1}", 40000 + i))
        i += 1
    path = b.write(tmp_path, "10k.pcap", b.pcap_bytes(sorted(packets, key=lambda p: p[0]), linktype=1))
    started = time.perf_counter()
    read = read_connections([path])
    elapsed = time.perf_counter() - started
    assert len(read.connections) == i and not read.notes
    assert sum(c.handshake_done for c in read.connections) == sum(1 for k in range(i) if k % 4 in (0, 1))
    assert elapsed < 3.0  # ~0.07 s here; a generous bound for slow CI machines
