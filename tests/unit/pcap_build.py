"""Captures built at test time: real TLS bytes from Python `ssl` over MemoryBIOs (no network), cut into TCP
segments, wrapped in IPv4/IPv6 and a link layer, written as pcap or pcapng."""

from __future__ import annotations

import functools
import socket
import ssl
import struct
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from fixer.pcap.model import ConnectionObs
from fixer.pcap.reader import CaptureRead, read_connections
from tests.unit.pki import issue, pem

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
T0 = 1_700_000_000.0
Flight = tuple[str, bytes]  # ("client" | "server", bytes that side wrote)


# ---- TLS bytes ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pki:
    dir: Path
    chain: Path  # leaf + intermediate (what the server sends)
    key: Path
    root: Path  # the CA that signs the chain
    other_root: Path  # a CA that does not


@functools.cache
def pki() -> Pki:
    directory = Path(tempfile.mkdtemp(prefix="fixer-pcap-pki-"))
    root = issue("Pcap Test Root", None, ca=True)
    inter = issue("Pcap Test Intermediate", root, ca=True)
    leaf = issue("backend.example.com", inter, sans=["backend.example.com"])
    other = issue("Some Other Root", None, ca=True)
    (directory / "chain.pem").write_bytes(pem(leaf.cert, inter.cert))
    (directory / "key.pem").write_bytes(leaf.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (directory / "root.pem").write_bytes(pem(root.cert))
    (directory / "other.pem").write_bytes(pem(other.cert))
    return Pki(directory, directory / "chain.pem", directory / "key.pem", directory / "root.pem",
               directory / "other.pem")


def _version(name: str) -> ssl.TLSVersion:
    return {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[name]


def handshake(*, client_max: str = "1.3", server_min: str = "1.2", server_max: str = "1.3",
              sni: str | None = "backend.example.com", verify: str | None = None, ciphers: str | None = None,
              server_ciphers: str | None = None, app_data: bool = True) -> list[Flight]:
    """The bytes a Python client and server write to each other, flight by flight.

    verify: None (client accepts anything), "good" (trusts the chain's root), "bad" (trusts another root:
    the client refuses the certificate, alert unknown_ca)."""
    p = pki()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(p.chain, p.key)
    server_ctx.minimum_version = _version(server_min)
    server_ctx.maximum_version = _version(server_max)
    if server_ciphers:
        server_ctx.set_ciphers(server_ciphers)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.maximum_version = _version(client_max)
    if ciphers:
        client_ctx.set_ciphers(ciphers)
    if verify is None:
        client_ctx.verify_mode = ssl.CERT_NONE
    else:
        client_ctx.load_verify_locations(p.root if verify == "good" else p.other_root)
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_side=False, server_hostname=sni)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    flights: list[Flight] = []
    done = {"client": False, "server": False}
    failed = False
    for _ in range(12):
        for side, obj, out, peer_in in (("client", client, c_out, s_in), ("server", server, s_out, c_in)):
            if not done[side] and not failed:
                try:
                    obj.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError:
                    failed = True
            data = out.read()
            if data:
                flights.append((side, data))
                peer_in.write(data)
        if failed or (done["client"] and done["server"] and not c_out.pending and not s_out.pending):
            break
    if not failed and app_data:
        client.write(b"GET / HTTP/1.1\r\nHost: backend.example.com\r\n\r\n")
        flights.append(("client", c_out.read()))
        s_in.write(flights[-1][1])
        server.read(4096)
        leftover = s_out.read()  # TLS 1.3 tickets written late
        server.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        flights.append(("server", leftover + s_out.read()))
    return flights


def record(content_type: int, body: bytes, version: int = 0x0303) -> bytes:
    return struct.pack("!BHH", content_type, version, len(body)) + body


def handshake_msg(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def alert(description: int, level: int = 2) -> bytes:
    return record(21, bytes([level, description]))


def client_hello_body(*, suites: Sequence[int] = (0xC02F, 0x1301, 0x0A0A), sni: str | None = "h.example",
                      versions: Sequence[int] = (), alpn: Sequence[str] = (), legacy: int = 0x0303,
                      extra: Sequence[tuple[int, bytes]] = ()) -> bytes:
    exts = b""
    if sni is not None:
        name = sni.encode()
        entry = b"\x00" + struct.pack("!H", len(name)) + name
        exts += struct.pack("!HH", 0, len(entry) + 2) + struct.pack("!H", len(entry)) + entry
    if versions:
        data = bytes([2 * len(versions)]) + b"".join(struct.pack("!H", v) for v in versions)
        exts += struct.pack("!HH", 43, len(data)) + data
    if alpn:
        protos = b"".join(bytes([len(a)]) + a.encode() for a in alpn)
        data = struct.pack("!H", len(protos)) + protos
        exts += struct.pack("!HH", 16, len(data)) + data
    for code, data in extra:
        exts += struct.pack("!HH", code, len(data)) + data
    suite_bytes = b"".join(struct.pack("!H", s) for s in suites)
    return (struct.pack("!H", legacy) + bytes(32) + b"\x00" + struct.pack("!H", len(suite_bytes)) + suite_bytes
            + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)


def server_hello_body(*, suite: int = 0xC02F, legacy: int = 0x0303, selected: int | None = None,
                      random: bytes = bytes(range(32))) -> bytes:
    exts = b""
    if selected is not None:
        exts = struct.pack("!HHH", 43, 2, selected)
    return struct.pack("!H", legacy) + random + b"\x00" + struct.pack("!H", suite) + b"\x00" + \
        struct.pack("!H", len(exts)) + exts


# ---- TCP segments --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Seg:
    t: float
    side: str  # "client" | "server"
    flags: int
    seq: int
    ack: int
    payload: bytes = b""


def session(flights: Iterable[Flight], *, mss: int = 1448, isn_c: int = 1000, isn_s: int = 900_000,
            t0: float = T0, handshake: bool = True, close: str | None = "fin", closer: str = "client",
            step: float = 0.001) -> list[Seg]:
    """A TCP connection carrying `flights`: SYN, SYN-ACK, ACK, data segments of at most `mss` bytes (each
    acknowledged), then FINs (or an RST) from `closer`."""
    segs: list[Seg] = []
    t = t0
    seq = {"client": isn_c, "server": isn_s}

    def add(side: str, flags: int, payload: bytes = b"") -> None:
        nonlocal t
        other = "server" if side == "client" else "client"
        segs.append(Seg(t, side, flags, seq[side] & 0xFFFFFFFF, seq[other] & 0xFFFFFFFF, payload))
        seq[side] += len(payload) + (1 if flags & (SYN | FIN) else 0)
        t += step

    if handshake:
        add("client", SYN)
        segs[-1] = replace(segs[-1], ack=0)
        add("server", SYN | ACK)
        add("client", ACK)
    for side, data in flights:
        for i in range(0, len(data), mss):
            add(side, PSH | ACK, data[i:i + mss])
        add("server" if side == "client" else "client", ACK)
    if close == "fin":
        add(closer, FIN | ACK)
        add("server" if closer == "client" else "client", FIN | ACK)
        add(closer, ACK)
    elif close == "rst":
        add(closer, RST | ACK)
    return segs


# ---- packets and link layers ---------------------------------------------------------------------------------

def _addr(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)


def tcp_bytes(sport: int, dport: int, seg: Seg, options: bytes = b"") -> bytes:
    options += b"\x00" * (-len(options) % 4)
    doff = (20 + len(options)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seg.seq, seg.ack, doff << 4, seg.flags, 65535, 0, 0) + \
        options + seg.payload


def ipv4(src: str, dst: str, payload: bytes, *, proto: int = 6, options: bytes = b"", frag: int = 0x4000,
         ident: int = 1) -> bytes:
    options += b"\x00" * (-len(options) % 4)
    ihl = (20 + len(options)) // 4
    return struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload), ident, frag, 64, proto, 0,
                       _addr(src), _addr(dst)) + options + payload


def ipv6(src: str, dst: str, payload: bytes, *, ext: Sequence[tuple[int, bytes]] = (), nh: int = 6) -> bytes:
    """`ext`: extension headers (type, body after the next-header/length bytes; padded to 8 bytes)."""
    chain = b""
    types = [e[0] for e in ext] + [nh]
    for i, (_kind, body) in enumerate(ext):
        if types[i] == 44:  # fragment header: fixed 8 bytes
            chain += bytes([types[i + 1], 0]) + body[:6].ljust(6, b"\x00")
            continue
        body = body + b"\x00" * (-(len(body) + 2) % 8)
        chain += bytes([types[i + 1], (len(body) + 2) // 8 - 1]) + body
    first = types[0]
    return struct.pack("!IHBB16s16s", 0x60000000, len(chain) + len(payload), first, 64, _addr(src), _addr(dst)) + \
        chain + payload


def link(linktype: int, ip: bytes, *, vlan: Sequence[int] = (), big_endian_null: bool = False) -> bytes:
    v6 = ip[0] >> 4 == 6
    etype = 0x86DD if v6 else 0x0800
    if linktype == 1:
        tags = b"".join(struct.pack("!HH", 0x8100, vid) for vid in vlan)
        return b"\x02" * 6 + b"\x04" * 6 + tags + struct.pack("!H", etype) + ip
    if linktype == 113:
        return struct.pack("!HHH8sH", 0, 1, 6, b"\x02" * 6 + b"\x00\x00", etype) + ip
    if linktype == 276:
        return struct.pack("!HHIHBB8s", etype, 0, 2, 1, 0, 6, b"\x02" * 6 + b"\x00\x00") + ip
    if linktype in (101, 12, 14, 228, 229):
        return ip
    if linktype == 0:
        family = 30 if v6 else 2  # macOS AF_INET6
        return struct.pack(">I" if big_endian_null else "<I", family) + ip
    if linktype == 108:
        return struct.pack(">I", 24 if v6 else 2) + ip
    raise ValueError(linktype)


def frames(segs: Iterable[Seg], *, client: tuple[str, int] = ("10.0.0.1", 40000),
           server: tuple[str, int] = ("10.0.0.2", 443), linktype: int = 1) -> list[tuple[float, bytes]]:
    out = []
    for seg in segs:
        (src, sport), (dst, dport) = (client, server) if seg.side == "client" else (server, client)
        tcp = tcp_bytes(sport, dport, seg)
        ip = ipv6(src, dst, tcp) if ":" in src else ipv4(src, dst, tcp)
        out.append((seg.t, link(linktype, ip)))
    return out


# ---- files -------------------------------------------------------------------------------------------------------

def pcap_bytes(packets: Iterable[tuple[float, bytes]], linktype: int = 1, *, big_endian: bool = False,
               nano: bool = False, snaplen: int = 262144) -> bytes:
    order = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for t, frame in packets:
        sec = int(t)
        frac = round((t - sec) * (1e9 if nano else 1e6))
        data = frame[:snaplen]
        out.append(struct.pack(order + "IIII", sec, frac, len(data), len(frame)) + data)
    return b"".join(out)


def _option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def _block(order: str, block_type: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack(order + "II", block_type, length) + body + struct.pack(order + "I", length)


def pcapng_bytes(packets: Iterable[tuple[float, int, bytes]], linktypes: Sequence[int], *, big_endian: bool = False,
                 simple: bool = False, tsresol: int | None = None, snaplen: int = 0) -> bytes:
    """packets: (time, interface index, frame). tsresol: the if_tsresol byte of every interface (default: us).
    simple: packets of interface 0 as simple packet blocks (no time)."""
    order = ">" if big_endian else "<"
    shb = struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1)
    out = [struct.pack(order + "I", 0x0A0D0D0A) + struct.pack(order + "I", len(shb) + 12) + shb
           + struct.pack(order + "I", len(shb) + 12)]
    units = 1_000_000
    for linktype in linktypes:
        opts = b""
        if tsresol is not None:
            opts += _option(order, 9, bytes([tsresol]))
            units = 2 ** (tsresol & 0x7F) if tsresol & 0x80 else 10 ** tsresol
        opts += _option(order, 0, b"") if opts else b""
        out.append(_block(order, 1, struct.pack(order + "HHI", linktype, 0, snaplen) + opts))
    for t, iface, frame in packets:
        if simple and iface == 0:
            out.append(_block(order, 3, struct.pack(order + "I", len(frame)) + frame))
            continue
        stamp = round(t * units)
        out.append(_block(order, 6, struct.pack(order + "IIIII", iface, stamp >> 32, stamp & 0xFFFFFFFF, len(frame),
                                                len(frame)) + frame))
    return b"".join(out)


def write(directory: Path, name: str, data: bytes) -> str:
    path = directory / name
    path.write_bytes(data)
    return str(path)


def read_segments(directory: Path, segs: Iterable[Seg], *, include_non_tls: bool = False,
                  **frame_args: object) -> CaptureRead:
    """Segments -> Ethernet pcap -> read_connections."""
    path = write(directory, "capture.pcap", pcap_bytes(frames(segs, **frame_args)))  # type: ignore[arg-type]
    return read_connections([path], include_non_tls=include_non_tls)


def only(read: CaptureRead) -> ConnectionObs:
    """The one connection of a capture (and no file-level trouble)."""
    assert len(read.connections) == 1, read
    assert not read.partial, read.notes
    return read.connections[0]
