"""TCP reassembly: segments reordered, repeated, overlapping, lost; SYN/FIN/RST; connection reuse; the bounds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fixer.pcap.model import ConnectionObs
from fixer.pcap.reader import read_connections
from fixer.pcap.tcp import Limits
from tests.unit import pcap_build as b
from tests.unit.pcap_build import ACK, FIN, PSH, RST, SYN, Seg, alert, handshake_msg, record


def flights12() -> list[b.Flight]:
    return b.handshake(client_max="1.2")


def data_index(segs: list[Seg], side: str, nth: int = 0) -> int:
    """Index of the nth segment carrying data from `side`."""
    found = [i for i, s in enumerate(segs) if s.side == side and s.payload]
    return found[nth]


def read(tmp_path: Path, segs: list[Seg], **kw: object) -> ConnectionObs:
    return b.only(b.read_segments(tmp_path, segs, **kw))  # type: ignore[arg-type]


def full_read(obs: ConnectionObs) -> bool:
    return (obs.client_hello is not None and obs.server_hello is not None and len(obs.certificates) == 2
            and obs.handshake_done)


def test_in_order_baseline(tmp_path: Path) -> None:
    flights = flights12()
    obs = read(tmp_path, b.session(flights, mss=500))
    assert full_read(obs)
    assert obs.bytes_client == sum(len(d) for s, d in flights if s == "client")
    assert obs.bytes_server == sum(len(d) for s, d in flights if s == "server")
    assert obs.packets == len(b.session(flights, mss=500))


def test_out_of_order_segments_are_delivered_in_order(tmp_path: Path) -> None:
    segs = b.session(flights12(), mss=300)
    first = data_index(segs, "server")
    segs[first], segs[first + 2] = segs[first + 2], segs[first]  # third segment of the flight arrives first
    segs[first + 1], segs[first + 3] = segs[first + 3], segs[first + 1]
    obs = read(tmp_path, segs)
    assert full_read(obs) and obs.notes == ()


def test_whole_flight_reversed(tmp_path: Path) -> None:
    segs = b.session(flights12(), mss=100)
    lo = data_index(segs, "server")
    hi = lo
    while segs[hi + 1].side == "server" and segs[hi + 1].payload:
        hi += 1
    segs[lo:hi + 1] = reversed(segs[lo:hi + 1])
    assert full_read(read(tmp_path, segs))


def test_retransmissions_are_counted_once(tmp_path: Path) -> None:
    flights = flights12()
    segs = b.session(flights, mss=400)
    i = data_index(segs, "server", 1)
    segs[i + 1:i + 1] = [segs[i], segs[i], segs[data_index(segs, "client")]]
    obs = read(tmp_path, segs)
    assert full_read(obs)
    assert obs.bytes_server == sum(len(d) for s, d in flights if s == "server")
    assert obs.bytes_client == sum(len(d) for s, d in flights if s == "client")


def test_overlapping_retransmission_with_other_boundaries(tmp_path: Path) -> None:
    flights = flights12()
    segs = b.session(flights, mss=400)
    i = data_index(segs, "server", 1)
    seg, nxt = segs[i], segs[i + 1]
    # a repacketised retransmission: the second half of seg and the start of the next segment
    overlap = replace(seg, seq=seg.seq + 200, payload=seg.payload[200:] + nxt.payload[:100])
    segs.insert(i + 1, overlap)
    obs = read(tmp_path, segs)
    assert full_read(obs) and obs.bytes_server == sum(len(d) for s, d in flights if s == "server")


def test_overlap_arriving_before_its_predecessor(tmp_path: Path) -> None:
    segs = b.session(flights12(), mss=400)
    i = data_index(segs, "server", 1)
    seg = segs[i]
    tail = replace(seg, seq=seg.seq + 100, payload=seg.payload[100:])
    segs[i] = tail  # bytes 100.. first, then the whole segment again
    segs.insert(i + 1, seg)
    assert full_read(read(tmp_path, segs))


def test_lost_segment_in_application_data_is_noted(tmp_path: Path) -> None:
    flights = [*flights12(), ("server", record(23, bytes(5000)) + alert(0, level=1))]
    segs = b.session(flights, mss=1000)
    i = data_index(segs, "server", -3)  # inside the 5000-byte record
    del segs[i]
    obs = read(tmp_path, segs)
    assert full_read(obs)
    assert any("never captured" in n and n.startswith("server:") for n in obs.notes)
    assert [a.description for a in obs.alerts] == ["close_notify"]  # still in step after the gap
    assert obs.bytes_server == sum(len(d) for s, d in flights if s == "server")  # the lost bytes were sent


def test_lost_segment_over_record_headers_resynchronises(tmp_path: Path) -> None:
    flights = [*flights12(), ("server", b"".join(record(23, bytes(150)) for _ in range(20)) + alert(0, level=1))]
    segs = b.session(flights, mss=700)
    del segs[data_index(segs, "server", -3)]
    obs = read(tmp_path, segs)
    assert [a.description for a in obs.alerts] == ["close_notify"]
    assert any("boundary found again" in n for n in obs.notes)


def test_lost_client_hello_segment_keeps_the_server_side(tmp_path: Path) -> None:
    segs = b.session(flights12(), mss=100)
    del segs[data_index(segs, "client")]
    obs = read(tmp_path, segs)
    assert obs.client_hello is None and obs.server_hello is not None and len(obs.certificates) == 2
    assert any(n.startswith("client:") and "first 100 bytes were never captured" in n for n in obs.notes)


def test_ack_past_a_hole_releases_the_buffer_early(tmp_path: Path) -> None:
    flights = flights12()
    segs = b.session(flights, mss=300)
    i = data_index(segs, "server", 1)
    del segs[i]  # lost by the capture, yet the client acknowledged it
    obs = read(tmp_path, segs)
    assert obs.server_hello is not None and obs.handshake_done
    assert any("never captured" in n for n in obs.notes)


def test_fin_and_rst(tmp_path: Path) -> None:
    obs = read(tmp_path, b.session(flights12(), close="rst", closer="server"))
    assert (obs.closed_by, obs.close_kind) == ("server", "rst")
    assert obs.close_time is not None and obs.close_time <= obs.end
    obs = read(tmp_path, b.session(flights12(), close="fin", closer="server"))
    assert (obs.closed_by, obs.close_kind) == ("server", "fin")
    obs = read(tmp_path, b.session(flights12(), close=None))
    assert obs.closed_by is None and obs.close_kind is None


def test_capture_started_mid_connection(tmp_path: Path) -> None:
    segs = b.session(flights12(), handshake=False)
    obs = read(tmp_path, segs)
    assert not obs.syn_seen and any("no SYN seen" in n for n in obs.notes)
    assert obs.client.port == 40000  # the ClientHello's sender
    assert full_read(obs)


def test_capture_started_after_the_handshake(tmp_path: Path) -> None:
    flights = flights12()
    app = [(s, d) for s, d in flights if s == "client"][-1:] + [(s, d) for s, d in flights if s == "server"][-1:]
    segs = b.session(app, handshake=False)
    segs = [replace(s, payload=s.payload[3:] if s.payload and s.side == "client" else s.payload) for s in segs]
    obs = read(tmp_path, segs)
    assert obs.client_hello is None
    assert obs.server_records_after_hello  # TLS seen, mid-stream


def test_syn_ack_before_syn_is_one_connection(tmp_path: Path) -> None:
    segs = b.session(flights12())
    segs[0], segs[1] = segs[1], segs[0]  # `-i any` merges interfaces slightly out of order
    obs = read(tmp_path, segs)
    assert full_read(obs) and obs.client.port == 40000 and obs.syn_seen


def test_syn_ack_only_decides_roles(tmp_path: Path) -> None:
    segs = b.session([("client", b"hello"), ("server", b"world")])[1:]  # the SYN was not captured
    read_ = b.read_segments(tmp_path, segs, include_non_tls=True)
    obs = read_.connections[0]
    assert obs.client.port == 40000 and obs.syn_seen and obs.client_hello is None


def test_port_reuse_makes_two_connections(tmp_path: Path) -> None:
    first = b.session(flights12())
    second = b.session(flights12(), isn_c=77_777, isn_s=1234, t0=b.T0 + 10)
    result = b.read_segments(tmp_path, first + second)
    assert len(result.connections) == 2
    assert all(full_read(c) for c in result.connections)
    assert result.connections[0].start < result.connections[1].start


def test_retransmitted_syn_is_the_same_connection(tmp_path: Path) -> None:
    segs = b.session(flights12())
    segs.insert(1, segs[0])
    assert full_read(read(tmp_path, segs))


def test_sequence_numbers_wrap(tmp_path: Path) -> None:
    flights = flights12()
    obs = read(tmp_path, b.session(flights, mss=200, isn_c=0xFFFFFF00, isn_s=0xFFFFFFF0))
    assert full_read(obs)
    assert obs.bytes_server == sum(len(d) for s, d in flights if s == "server")


def test_stream_limit_counts_bytes_past_it(tmp_path: Path) -> None:
    flights = [*flights12(), ("server", record(23, bytes(16000)) * 40)]
    segs = b.session(flights)
    path = b.write(tmp_path, "big.pcap", b.pcap_bytes(b.frames(segs)))
    obs = read_connections([path], limits=Limits(stream_bytes=64 * 1024)).connections[0]
    assert full_read(obs)
    assert obs.bytes_server == sum(len(d) for s, d in flights if s == "server")
    assert not any("KiB" in n for n in obs.notes)  # the handshake was done: nothing missed


def test_out_of_order_buffer_bound_forces_a_gap(tmp_path: Path) -> None:
    flights = flights12()
    segs = b.session(flights, mss=50)
    del segs[data_index(segs, "server", 2)]
    segs = [s for s in segs if s.side == "server" or s.payload or s.flags & (SYN | FIN | RST)]  # no ACKs
    path = b.write(tmp_path, "ooo.pcap", b.pcap_bytes(b.frames(segs)))
    obs = read_connections([path], limits=Limits(ooo_segments=4)).connections[0]
    assert any("out-of-order buffer full" in n for n in obs.notes)
    assert obs.server_hello is not None and obs.server_hello.version == "TLSv1.2"
    # the lost bytes were inside the Certificate record: its content is gone, the records after it are read
    assert obs.certificates == () and any("inside a handshake record" in n for n in obs.notes)
    assert "change_cipher_spec" in obs.server_records_after_hello and obs.handshake_done


def test_too_many_open_connections_are_finished_early(tmp_path: Path) -> None:
    flights = [("client", record(22, handshake_msg(1, b.client_hello_body()), 0x0301)), ("server", alert(40))]
    packets = []
    for i in range(6):  # one after the other: the least recently active (finished) ones make room
        packets.extend(b.frames(b.session(flights, t0=b.T0 + i), client=("10.0.0.1", 40000 + i)))
    path = b.write(tmp_path, "many.pcap", b.pcap_bytes(packets))
    result = read_connections([path], limits=Limits(connections_open=3))
    assert not result.notes  # closed connections leave the table as they would at the end of the capture
    assert len(result.connections) == 6
    assert all(c.client_hello is not None and c.alerts and not c.notes for c in result.connections)
    # all open at once: the oldest are finished before their data came; the later packets do not crash anything
    packets.sort(key=lambda p: (p[0] - b.T0) % 1)
    path = b.write(tmp_path, "many.pcap", b.pcap_bytes(packets))
    result = read_connections([path], limits=Limits(connections_open=3))
    assert any("open at once" in n for n in result.notes)
    assert len(result.connections) + result.non_tls >= 6


def test_results_beyond_the_kept_limit_are_counted(tmp_path: Path) -> None:
    flights = [("client", record(22, handshake_msg(1, b.client_hello_body()), 0x0301)), ("server", alert(40))]
    packets = []
    for i in range(5):
        packets.extend(b.frames(b.session(flights, t0=b.T0 + i), client=("10.0.0.1", 40000 + i)))
    path = b.write(tmp_path, "kept.pcap", b.pcap_bytes(packets))
    result = read_connections([path], limits=Limits(connections_kept=2))
    assert len(result.connections) == 2 and result.partial
    assert any("3 more were only counted" in n for n in result.notes)


def test_non_tls_connection_is_only_counted(tmp_path: Path) -> None:
    segs = b.session([("client", b"GET / HTTP/1.1\r\n\r\n"), ("server", b"HTTP/1.1 200 OK\r\n\r\n")])
    result = b.read_segments(tmp_path, segs, server=("10.0.0.2", 80))
    assert result.connections == () and result.non_tls == 1
    result = b.read_segments(tmp_path, segs, server=("10.0.0.2", 80), include_non_tls=True)
    (obs,) = result.connections
    assert obs.client_hello is None and obs.bytes_client == 18 and obs.server.port == 80


def test_connection_without_payload(tmp_path: Path) -> None:
    segs = [Seg(b.T0, "client", SYN, 1, 0), Seg(b.T0 + 1, "server", RST | ACK, 0, 2)]
    result = b.read_segments(tmp_path, segs, include_non_tls=True)
    (obs,) = result.connections
    assert (obs.closed_by, obs.close_kind, obs.packets) == ("server", "rst", 2)
    assert obs.refused
    # a refused connection is kept without include_non_tls: it is why no handshake started
    default = b.read_segments(tmp_path, segs)
    assert default.non_tls == 0 and [c.refused for c in default.connections] == [True]


def test_a_reset_after_data_is_not_refused(tmp_path: Path) -> None:
    segs = [Seg(b.T0, "client", SYN, 1, 0), Seg(b.T0 + 1, "server", SYN | ACK, 0, 2),
            Seg(b.T0 + 2, "client", PSH | ACK, 2, 1, b"GET / HTTP/1.0\r\n\r\n"),
            Seg(b.T0 + 3, "server", RST | ACK, 1, 20)]
    result = b.read_segments(tmp_path, segs)
    assert result.connections == () and result.non_tls == 1


def test_data_segment_without_ack_flag(tmp_path: Path) -> None:
    segs = [replace(s, flags=s.flags & ~ACK if s.payload else s.flags) for s in b.session(flights12())]
    assert full_read(read(tmp_path, segs))
    assert PSH  # (flags constant used by the builder)
