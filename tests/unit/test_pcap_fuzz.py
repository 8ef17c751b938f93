"""Property tests: mutated captures never make read_connections raise anything but CaptureError (and that only
for files that are no capture), never hang, never hit an internal error; reordered segments read the same."""

from __future__ import annotations

import contextlib
import functools
import gzip
import os
import random
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixer.errors import CaptureError
from fixer.pcap.model import ConnectionObs
from fixer.pcap.reader import CaptureRead, read_connections
from fixer.pcap.tls import TlsConn
from tests.unit import pcap_build as b
from tests.unit.pcap_build import alert, client_hello_body, handshake_msg, record

# hypothesis imports libcst to print a failing example as a patch; libcst trips filterwarnings=error (a
# DeprecationWarning from mypy_extensions) and would hide the failure behind an INTERNALERROR: import it now
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import hypothesis.extra._patching  # noqa: F401

# FIXER_FUZZ_EXAMPLES=5000 for a long random run; by default a short deterministic one (the suite stays fast)
EXAMPLES = int(os.environ.get("FIXER_FUZZ_EXAMPLES", "0"))
SETTINGS = settings(max_examples=EXAMPLES or 40, deadline=2000, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=not EXAMPLES, database=None)
MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x34\xcd\xb2\xa1",
          b"\xa1\xb2\xcd\x34", b"\x0a\x0d\x0d\x0a")


@functools.cache
def flights() -> dict[str, list[b.Flight]]:
    return {
        "tls12": b.handshake(client_max="1.2"),
        "tls13": b.handshake(),
        "refused": b.handshake(verify="bad"),
        "hand": [("client", record(22, handshake_msg(1, client_hello_body(alpn=("h2",))), 0x0301)),
                 ("server", alert(112))],
    }


@functools.cache
def bases() -> tuple[bytes, ...]:
    f = flights()
    one = b.frames(b.session(f["tls12"], mss=600))
    two = b.frames(b.session(f["tls13"]), linktype=276, client=("2001:db8::1", 40001), server=("2001:db8::2", 8443))
    three = b.frames(b.session(f["refused"], t0=b.T0 + 1), linktype=113)
    hand = b.frames(b.session(f["hand"], mss=50), linktype=101)
    return (
        b.pcap_bytes(one),
        b.pcapng_bytes([(t, 0, fr) for t, fr in one] + [(t, 1, fr) for t, fr in two], [1, 276], big_endian=True),
        b.pcap_bytes(three, 113, nano=True, big_endian=True),
        b.pcap_bytes(hand, 101),
        b.pcapng_bytes([(t, 0, fr) for t, fr in hand], [101], simple=True),
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def read_bytes(directory: Path, data: bytes) -> CaptureRead | None:
    """read_connections of `data`; None when it raised CaptureError (allowed only for a non-capture)."""
    path = b.write(directory, "fuzz.pcap", data)
    try:
        result = read_connections([path])
    except CaptureError:
        assert data[:4] not in MAGICS or len(data) < 4
        return None
    assert not any("internal error" in n for n in result.notes), result.notes
    for obs in result.connections:
        assert isinstance(obs, ConnectionObs)
        assert obs.start <= obs.end
        assert not any("internal error" in n for n in obs.notes)
    return result


Mutation = tuple[str, list[tuple[float, int]], float, float, bytes, int, int]
unit = st.floats(0, 1, exclude_max=True)
# (kind, flips, where, where in the donor, inserted bytes, deleted length, donor)
mutation = st.tuples(st.sampled_from(["flip", "cut", "splice", "insert", "delete"]),
                     st.lists(st.tuples(unit, st.integers(0, 7)), min_size=1, max_size=30), unit, unit,
                     st.binary(min_size=1, max_size=64), st.integers(1, 200), st.integers(0, 4))


def mutate(data: bytes, how: Mutation) -> bytes:
    kind, flips, where, donor_at, blob, size, donor = how
    out = bytearray(data)
    at = int(where * len(out))
    if kind == "flip":
        for pos, bit in flips:
            if out:
                out[int(pos * len(out))] ^= 1 << bit
    elif kind == "cut":
        del out[at:]
    elif kind == "splice":
        other = bases()[donor]
        out = out[:at] + other[int(donor_at * len(other)):]
    elif kind == "insert":
        out[at:at] = blob
    else:
        del out[at:at + size]
    return bytes(out)


@SETTINGS
@given(base=st.integers(0, 4), hows=st.lists(mutation, min_size=1, max_size=3))
def test_mutated_files(workdir: Path, base: int, hows: list[Mutation]) -> None:
    data = bases()[base]
    for how in hows:
        data = mutate(data, how)
    read_bytes(workdir, data)


@SETTINGS
@given(data=st.binary(max_size=2048), magic=st.sampled_from((*MAGICS, b"")))
def test_random_bytes_after_a_magic(workdir: Path, data: bytes, magic: bytes) -> None:
    read_bytes(workdir, magic + data)


@SETTINGS
@given(which=st.sampled_from(["tls12", "tls13", "refused", "hand"]),
       flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7)), min_size=1, max_size=12),
       mss=st.integers(1, 1500))
def test_mutated_tls_bytes_in_a_valid_capture(workdir: Path, which: str, flips: list[tuple[float, int]],
                                              mss: int) -> None:
    mutated = []
    stream = [bytearray(d) for _s, d in flights()[which]]
    total = sum(len(s) for s in stream)
    for where, bit in flips:
        pos = int(where * total)
        for part in stream:
            if pos < len(part):
                part[pos] ^= 1 << bit
                break
            pos -= len(part)
    mutated = [(side, bytes(part)) for (side, _d), part in zip(flights()[which], stream, strict=True)]
    result = read_bytes(workdir, b.pcap_bytes(b.frames(b.session(mutated, mss=mss))))
    assert result is not None and len(result.connections) <= 1


def summary(obs: ConnectionObs) -> tuple[object, ...]:
    return (obs.client, obs.server, obs.client_hello, obs.server_hello, tuple(c.sha256 for c in obs.certificates),
            tuple((a.sender, a.level, a.description, a.encrypted) for a in obs.alerts), obs.handshake_done,
            obs.client_records_after_hello, obs.server_records_after_hello, obs.bytes_client, obs.bytes_server,
            obs.closed_by, obs.close_kind)


@SETTINGS
@given(which=st.sampled_from(["tls12", "tls13", "refused"]), mss=st.integers(20, 1448), seed=st.integers(0, 2**32),
       duplicates=st.integers(0, 5))
def test_reordered_and_repeated_segments_read_the_same(workdir: Path, which: str, mss: int, seed: int,
                                                       duplicates: int) -> None:
    segs = b.session(flights()[which], mss=mss)
    expected = summary(b.only(read_bytes(workdir, b.pcap_bytes(b.frames(segs)))))  # type: ignore[arg-type]
    rng = random.Random(seed)
    shuffled: list[b.Seg] = []
    run: list[b.Seg] = []
    for seg in [*segs, None]:  # shuffle each run of data segments from one side (ACKs stay after their data)
        if seg is not None and seg.payload and (not run or run[-1].side == seg.side):
            run.append(seg)
            continue
        rng.shuffle(run)
        shuffled.extend(run)
        run = []
        if seg is not None:
            if seg.payload:
                run.append(seg)
            else:
                shuffled.append(seg)
    for _ in range(duplicates):
        i = rng.randrange(len(shuffled))
        shuffled.insert(rng.randrange(i, len(shuffled) + 1), shuffled[i])
    got = read_bytes(workdir, b.pcap_bytes(b.frames(shuffled)))
    assert got is not None
    assert summary(b.only(got)) == expected


def test_damaged_gzip_stream(workdir: Path) -> None:
    noise = random.Random(1).randbytes(16000)  # application data gzip cannot shrink
    packets = []
    for i in range(4):
        flights_ = [*flights()["tls12"], ("server", record(23, noise))]
        packets += b.frames(b.session(flights_, t0=b.T0 + i), client=("10.0.0.1", 40000 + i))
    capture = b.pcap_bytes(packets)
    data = gzip.compress(capture, mtime=0)
    assert len(data) > 16 * 1024  # the damage lies past what reading the magic decompresses
    result = read_bytes(workdir, data[:len(data) // 2])
    assert result is not None and result.partial and result.connections
    corrupt = bytearray(data)
    corrupt[len(corrupt) * 9 // 10] ^= 0xFF
    result = read_bytes(workdir, bytes(corrupt))
    assert result is not None and result.partial and result.connections


@SETTINGS
@given(which=st.sampled_from(["tls12", "tls13", "refused", "hand"]),
       ops=st.lists(st.tuples(st.integers(1, 3000), st.booleans(), st.integers(0, 255)), min_size=1, max_size=40),
       known=st.booleans())
def test_tls_streams_with_gaps_and_damage(which: str, ops: list[tuple[int, bool, int]], known: bool) -> None:
    """Each side's bytes in random pieces, some replaced by gaps, some with a byte overwritten."""
    conn = TlsConn(64 * 1024)
    for d, side in enumerate(("client", "server")):
        stream = conn.streams[d]
        stream.start_known = known
        data = b"".join(part for s, part in flights()[which] if s == side)
        pos = 0
        for size, lose, value in ops:
            piece = bytearray(data[pos:pos + size])
            if not piece:
                break
            if lose:
                stream.gap(len(piece), 1.0)
            else:
                piece[value % len(piece)] = value
                stream.feed(bytes(piece), 1.0)
            pos += size
    conn.finish()
    conn.handshake_done()
    for d in (0, 1):
        conn.records_for(d)
    conn.alerts_for(0)
