"""TCP reassembly for the capture reader: connections by 4-tuple, each direction's payload in sequence order.

    Tracker.packet(...)  one decoded TCP segment  ->  Conn (both directions) -> Flow (one direction)
        Flow: ISN from the SYN (else the first segment), out-of-order segments buffered (bounded) and delivered
        in order, retransmitted and overlapping bytes delivered once, bytes never captured reported as gaps
        to the TLS stream (which resynchronises), FIN/RST noted.
    Tracker.finish()     the capture ends -> ConnectionObs of every connection (TLS ones, or all when asked)

Memory is bounded: a direction's bytes are read only until its TLS stream stops (not TLS, or past the first
`Limits.stream_bytes`); after that only sequence numbers are counted. Out-of-order buffers are bounded per
direction and in total (when full, the missing bytes are taken as lost). At most `Limits.connections_open`
connections are tracked at once: the least recently active is finished early (its result kept, its later
packets ignored).
"""

from __future__ import annotations

import socket
from collections import OrderedDict
from dataclasses import dataclass

from fixer.pcap.model import CloseKind, ConnectionObs, Endpoint
from fixer.pcap.records import TlsStream
from fixer.pcap.tls import TlsConn

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
MASK = 0xFFFFFFFF
HALF = 0x80000000
WRAP = 0x100000000
EPHEMERAL_MIN = 32768  # Linux's default ephemeral port range starts here (IANA's at 49152)

Key = tuple[bytes, int, bytes, int]


@dataclass(frozen=True)
class Limits:
    """Bounds that keep memory flat whatever the capture's size."""

    stream_bytes: int = 256 * 1024  # per direction: bytes read for TLS; afterwards only counted
    ooo_segments: int = 256  # out-of-order segments buffered per direction
    ooo_bytes: int = 256 * 1024  # out-of-order bytes buffered per direction
    ooo_total: int = 64 * 1024 * 1024  # out-of-order bytes buffered over all connections
    connections_open: int = 10_000  # connections tracked at once (least recently active finished first)
    connections_kept: int = 100_000  # results kept (~2 KB each); later connections are only counted


class Flow:
    """One direction of a connection: its sequence space and reassembly."""

    __slots__ = ("base", "counting", "forced", "hi", "hi_seq", "isn", "next", "ooo", "ooo_bytes",
                 "overlaps", "retransmissions", "stream", "tracker")

    def __init__(self, tracker: Tracker, stream: TlsStream) -> None:
        self.tracker = tracker
        self.stream = stream
        self.isn: int | None = None
        self.base: int | None = None  # the sequence number of stream offset 0
        self.next = 0  # stream offset of the next byte to deliver
        self.hi = 0  # bytes in the stream up to the highest sequence number seen (counted once)
        self.hi_seq = 0
        self.ooo: dict[int, tuple[bytes, int, float]] = {}  # offset -> (bytes captured, length sent, time)
        self.ooo_bytes = 0
        self.counting = False  # the stream stopped reading: only count bytes
        self.retransmissions = 0
        self.overlaps = 0
        self.forced = 0  # gaps taken because the out-of-order buffer was full

    def begin(self, seq: int, syn: bool) -> None:
        self.isn = seq if syn else None
        self.base = (seq + 1) & MASK if syn else seq
        self.hi_seq = self.base
        self.next = 0
        self.hi = 0
        self.stream.start_known = syn

    def data(self, seq: int, pkt: bytes, start: int, stop: int, length: int, t: float) -> None:
        """A segment whose payload starts at sequence number `seq`: `length` bytes sent, pkt[start:stop] captured."""
        end_seq = (seq + length) & MASK
        grow = (end_seq - self.hi_seq) & MASK
        if grow < HALF:
            self.hi += grow
            self.hi_seq = end_seq
        if self.counting:
            return
        off = (seq - self.base) & MASK  # type: ignore[operator]
        if off >= HALF:
            off -= WRAP
        end = off + length
        nxt = self.next
        if end <= nxt:
            self.retransmissions += 1
            return
        if off <= nxt:
            if off < nxt:
                self.overlaps += 1
            self._deliver(pkt[start + nxt - off:stop], end, t)
            if self.ooo:
                self._drain()
            return
        self._buffer(off, pkt[start:stop], length, t)

    def acked(self, ack: int, t: float) -> None:
        """The other side acknowledged up to `ack`: bytes before it that were never captured will not come."""
        off = (ack - self.base) & MASK  # type: ignore[operator]
        if off >= HALF or off <= self.next:
            return
        first = min(self.ooo)
        if first > self.next:
            self._gap(min(off, first) - self.next, t)
            self._drain()

    def flush(self) -> None:
        """The capture ends (or the connection is dropped): deliver what is buffered, gaps reported."""
        while self.ooo and not self.counting:
            first = min(self.ooo)
            if first > self.next:
                self._gap(first - self.next, self.ooo[first][2])
            self._drain()
        self._release()

    # ---- internals ----------------------------------------------------------------------------------------

    def _deliver(self, payload: bytes, end: int, t: float) -> None:
        """Bytes at offset self.next (a prefix of what was sent up to `end`: the rest was cut by the snap length)."""
        got = len(payload)
        stream = self.stream
        if got:
            stream.feed(payload, t)
        if self.next + got < end:
            stream.gap(end - self.next - got, t)
        self.next = end
        if not stream.active:
            self.counting = True
            self._release()

    def _gap(self, n: int, t: float) -> None:
        self.stream.gap(n, t)
        self.next += n
        if not self.stream.active:
            self.counting = True
            self._release()

    def _buffer(self, off: int, payload: bytes, length: int, t: float) -> None:
        old = self.ooo.get(off)
        if old is not None:
            if old[1] >= length:
                self.retransmissions += 1
                return
            self._account(-len(old[0]))
        self.ooo[off] = (payload, length, t)
        self._account(len(payload))
        limits = self.tracker.limits
        while self.ooo and (len(self.ooo) > limits.ooo_segments or self.ooo_bytes > limits.ooo_bytes
                            or self.tracker.ooo_total > limits.ooo_total):
            first = min(self.ooo)
            self.forced += 1
            self._gap(first - self.next, t)
            self._drain()

    def _drain(self) -> None:
        while self.ooo and not self.counting:
            nxt = self.next
            item = self.ooo.pop(nxt, None)
            off = nxt
            if item is None:
                off = min(self.ooo)
                if off > nxt:
                    return
                item = self.ooo.pop(off)
            payload, length, t = item
            self._account(-len(payload))
            end = off + length
            if end <= nxt:
                self.retransmissions += 1
                continue
            if off < nxt:
                self.overlaps += 1
            self._deliver(payload[nxt - off:], end, t)

    def _account(self, n: int) -> None:
        self.ooo_bytes += n
        self.tracker.ooo_total += n

    def _release(self) -> None:
        if self.ooo:
            self.tracker.ooo_total -= self.ooo_bytes
            self.ooo = {}
            self.ooo_bytes = 0


class Conn:
    """One TCP connection, both directions; d = 0 is the end with the lower port (the key's first end)."""

    __slots__ = ("close_dir", "close_kind", "close_time", "closed", "evicted", "fins", "first", "first_dir", "flows",
                 "key", "last", "packets", "syn_dir", "synack_dir", "tls")

    def __init__(self, tracker: Tracker, key: Key, t: float, d: int) -> None:
        self.key = key
        self.tls = TlsConn(tracker.limits.stream_bytes)
        self.flows = (Flow(tracker, self.tls.streams[0]), Flow(tracker, self.tls.streams[1]))
        self.first = t
        self.last = t
        self.first_dir = d
        self.packets = 0
        self.syn_dir: int | None = None
        self.synack_dir: int | None = None
        self.close_dir: int | None = None
        self.close_kind: CloseKind | None = None
        self.close_time: float | None = None
        self.fins = 0  # bit d: end d sent a FIN
        self.closed = False  # an RST, or a FIN each way: nothing more is expected
        self.evicted = False

    def reused(self, d: int, seq: int) -> bool:
        """A SYN from end `d` with sequence number `seq` opens a new connection on this 4-tuple."""
        isn = self.flows[d].isn
        if isn is not None:
            return isn != seq  # else a retransmitted SYN
        # no SYN from this end yet (the capture began later, or reordered the SYN after the SYN-ACK)
        return self.close_kind is not None or self.flows[0].hi > 0 or self.flows[1].hi > 0

    def client_dir(self) -> int:
        """SYN sender; else the ClientHello's sender; else the end the SYN-ACK went to; else by ports."""
        if self.syn_dir is not None:
            return self.syn_dir
        if self.tls.client_dir is not None:
            return self.tls.client_dir
        if self.synack_dir is not None:
            return 1 - self.synack_dir
        low, high = self.key[1], self.key[3]
        if low < high and low < EPHEMERAL_MIN <= high:
            return 1  # the well-known (lower) port is the server's
        return self.first_dir

    def observation(self) -> ConnectionObs:
        for flow in self.flows:
            flow.flush()
        tls = self.tls
        tls.finish()
        cd = self.client_dir()
        sd = 1 - cd
        key = self.key
        ends = (Endpoint(_ip_text(key[0]), key[1]), Endpoint(_ip_text(key[2]), key[3]))
        notes: list[str] = []
        if self.syn_dir is None and self.synack_dir is None:
            notes.append("the capture began after the connection opened (no SYN seen)")
        for d, text in tls.notes:
            notes.append(text if d is None else f"{'client' if d == cd else 'server'}: {text}")
        forced = self.flows[0].forced + self.flows[1].forced
        if forced:
            notes.append(f"out-of-order buffer full {forced} time(s): missing bytes taken as lost")
        if self.evicted:
            notes.append("tracking stopped early (too many connections open at once): later packets ignored")
        client_records, client_lengths = tls.records_for(cd)
        server_records, server_lengths = tls.records_for(sd)
        return ConnectionObs(
            client=ends[cd],
            server=ends[sd],
            start=self.first,
            end=self.last,
            packets=self.packets,
            bytes_client=self.flows[cd].hi,
            bytes_server=self.flows[sd].hi,
            client_hello=tls.client_hello,
            server_hello=tls.server_hello,
            certificates=tls.certificates,
            alerts=tls.alerts_for(cd),
            client_records_after_hello=client_records,
            server_records_after_hello=server_records,
            closed_by=None if self.close_dir is None else ("client" if self.close_dir == cd else "server"),
            close_kind=self.close_kind,
            close_time=self.close_time,
            syn_seen=self.syn_dir is not None or self.synack_dir is not None,
            synack_seen=self.synack_dir is not None,
            handshake_done=tls.handshake_done(cd),
            notes=tuple(notes),
            client_record_lengths_after_hello=client_lengths,
            server_record_lengths_after_hello=server_lengths,
        )


_ip_cache: dict[bytes, str] = {}


def _ip_text(raw: bytes) -> str:
    text = _ip_cache.get(raw)
    if text is None:
        if len(_ip_cache) > 65536:
            _ip_cache.clear()
        text = _ip_cache[raw] = socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)
    return text


class Tracker:
    """All connections of one capture file."""

    def __init__(self, limits: Limits | None = None, include_non_tls: bool = False) -> None:
        self.limits = limits or Limits()
        self.include_non_tls = include_non_tls
        self.table: OrderedDict[Key, Conn] = OrderedDict()
        self.gone: OrderedDict[Key, None] = OrderedDict()  # finished early: their later packets are ignored
        self.results: list[ConnectionObs] = []
        self.ooo_total = 0
        self.non_tls = 0  # connections without TLS, not reported
        self.evicted = 0
        self.not_kept = 0  # TLS connections beyond Limits.connections_kept
        self.late_packets = 0
        self.errors = 0  # connections lost to an internal error (a bug): counted, never raised
        self.first_error = ""

    def packet(self, t: float, src: bytes, sport: int, dst: bytes, dport: int, seq: int, ack: int, flags: int,
               pkt: bytes, start: int, stop: int, length: int) -> None:
        """One TCP segment: `length` payload bytes sent (from the IP header), pkt[start:stop] of them captured."""
        if sport < dport or (sport == dport and src <= dst):
            key = (src, sport, dst, dport)
            d = 0
        else:
            key = (dst, dport, src, sport)
            d = 1
        table = self.table
        conn = table.get(key)
        if conn is None:
            if self.gone and not flags & SYN and key in self.gone:
                self.late_packets += 1
                return
            conn = self._open(key, t, d)
        elif flags & (SYN | ACK) == SYN and conn.reused(d, seq):
            self._finish(table.pop(key))  # a new connection on the same 4-tuple
            conn = self._open(key, t, d)
        else:
            table.move_to_end(key)
        conn.packets += 1
        conn.last = t
        flow = conn.flows[d]
        if flags & SYN:
            if flags & ACK:
                if conn.synack_dir is None:
                    conn.synack_dir = d
            elif conn.syn_dir is None:
                conn.syn_dir = d
            if flow.isn is None and flow.next == 0 and not flow.ooo and not flow.stream.offset:
                flow.begin(seq, True)
            seq = (seq + 1) & MASK
        elif flow.base is None:
            flow.begin(seq, False)
        if length and not flags & RST:  # some stacks put a text in their RST: not stream data
            flow.data(seq, pkt, start, stop, length, t)
        if flags & ACK:
            other = conn.flows[1 - d]
            if other.ooo:
                other.acked(ack, t)
        if flags & (FIN | RST):
            if conn.close_kind is None:
                conn.close_dir = d
                conn.close_kind = "rst" if flags & RST else "fin"
                conn.close_time = t
            conn.fins |= 1 << d if flags & FIN else 0
            conn.closed = conn.closed or bool(flags & RST) or conn.fins == 3

    def _open(self, key: Key, t: float, d: int) -> Conn:
        conn = self.table[key] = Conn(self, key, t, d)
        if self.gone:
            self.gone.pop(key, None)
        if len(self.table) > self.limits.connections_open:
            old_key, old = self.table.popitem(last=False)
            if not old.closed:  # a closed connection leaves as it would at the end of the capture
                old.evicted = True
                self.evicted += 1
            self._finish(old)
            self.gone[old_key] = None
            if len(self.gone) > 4 * self.limits.connections_open:
                self.gone.popitem(last=False)
        return conn

    def _finish(self, conn: Conn) -> None:
        try:
            for flow in conn.flows:
                flow.flush()
            obs: ConnectionObs | None = None
            if not conn.tls.tls_seen:
                obs = conn.observation()
                if not obs.refused:  # a refused connection is kept: it is why a handshake never started
                    self.non_tls += 1
                    if not self.include_non_tls:
                        return
            if len(self.results) >= self.limits.connections_kept:
                self.not_kept += 1
                return
            self.results.append(obs or conn.observation())
        finally:
            conn.tls.release()  # no reference cycles left: freed at once, not by the cyclic collector

    def finish(self) -> list[ConnectionObs]:
        """The capture ended: every connection still tracked is finished; all results by start time."""
        while self.table:
            conn = self.table.popitem(last=False)[1]
            try:
                self._finish(conn)
            except Exception as exc:  # a bug must not cost the other connections
                self.errors += 1
                self.first_error = self.first_error or f"{type(exc).__name__}: {exc}"
        self.gone.clear()
        self.results.sort(key=lambda o: o.start)
        return self.results
