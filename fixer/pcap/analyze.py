"""`fixer pcap` without the CLI: read captures, judge every connection, summarize by verdict and by peer.

    analyze(paths) -> Analysis        read_connections (fixer.pcap.reader) + judge (fixer.pcap.verdicts)
    summarize(analysis) -> Summary    counts per verdict, per server endpoint, and the exit code

Exit codes (`exit_code`): 0 every TLS connection ok; 1 some connection failed (a verdict in FAILED_VERDICTS);
4 the result is partial (a truncated or damaged file, packets skipped) or some handshake is not shown whole
(`incomplete`), and nothing failed. 2 (bad input) is the CLI's: the reader raises for a file it cannot read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fixer.pcap.model import VERDICTS, Analysis, Connection, ConnectionObs, Verdict
from fixer.pcap.verdicts import INCOMPLETE_REMEDY, judge

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PARTIAL = 4
# verdicts that name a failure; `incomplete` says the capture cannot tell (partial), `not-tls` is not judged
FAILED_VERDICTS: tuple[str, ...] = tuple(v for v in VERDICTS if v not in ("ok", "incomplete", "not-tls"))

EXIT_CODE_MEANINGS = {
    EXIT_OK: "every TLS connection completed its handshake",
    EXIT_FAILED: "some TLS handshake failed",
    EXIT_PARTIAL: "partial result: the capture does not show everything (see the notes), nothing failed",
}


def analyze(paths: Sequence[str | Path], port: int | None = None, include_non_tls: bool = False) -> Analysis:
    """Read `paths` (pcap or pcapng) and judge every TLS connection found (TCP connections without TLS too
    when `include_non_tls`); connections by start time. The reader's CaptureError (a FixerError) propagates."""
    from fixer.pcap.reader import read_connections

    read = read_connections(paths, port=port, include_non_tls=include_non_tls)
    notes = list(read.notes)
    if read.non_tls and not include_non_tls:
        notes.append(f"{read.non_tls} TCP connection{'s' if read.non_tls != 1 else ''} without TLS not listed "
                     "(--all lists them)")
    return judge_all([str(p) for p in paths], read.connections, read.packets, notes, read.partial,
                     all_tls=not include_non_tls)


def _judge(obs: ConnectionObs, all_tls: bool) -> Verdict:
    verdict = judge(obs)
    if all_tls and verdict.kind == "not-tls":  # the reader saw TLS, but nothing this judge can use
        return Verdict("incomplete", "the reader recognized TLS on this connection but captured no handshake "
                                     "message, alert or record after the hello", remediation=INCOMPLETE_REMEDY)
    return verdict


def judge_all(files: Iterable[str], observations: Iterable[ConnectionObs], packets: int,
              notes: Iterable[str] = (), partial: bool = False, all_tls: bool = False) -> Analysis:
    """An Analysis of already-read connections, judged and ordered by start time (`all_tls`: the reader
    returned only connections on which it saw TLS)."""
    connections = sorted((Connection(o, _judge(o, all_tls)) for o in observations),
                         key=lambda c: (c.obs.start, str(c.obs.client), str(c.obs.server)))
    return Analysis(files=tuple(files), packets=packets, connections=tuple(connections), notes=tuple(notes),
                    partial=partial)


@dataclass(frozen=True)
class PeerSummary:
    """The connections to one server endpoint."""

    server: str  # Endpoint text, "10.0.0.9:8443" or "[::1]:443"
    connections: int
    by_verdict: dict[str, int]  # only the verdicts seen, in VERDICTS order
    server_names: tuple[str, ...]  # SNI names the clients sent to it (sorted)
    clients: tuple[str, ...]  # client IP addresses (sorted)
    failed: int


@dataclass(frozen=True)
class Summary:
    files: tuple[str, ...]
    packets: int
    connections: int
    by_verdict: dict[str, int]  # every verdict, in VERDICTS order
    failed: int  # connections with a verdict in FAILED_VERDICTS
    inferred: int  # connections whose verdict is an inference
    peers: tuple[PeerSummary, ...]  # most failures first, then by endpoint
    partial: bool
    exit_code: int


def exit_code(analysis: Analysis) -> int:
    if any(c.verdict.kind in FAILED_VERDICTS for c in analysis.connections):
        return EXIT_FAILED
    if analysis.partial or any(c.verdict.kind == "incomplete" for c in analysis.connections):
        return EXIT_PARTIAL
    return EXIT_OK


def _peer(server: str, conns: list[Connection]) -> PeerSummary:
    kinds: Counter[str] = Counter(c.verdict.kind for c in conns)
    names = {c.obs.client_hello.server_name for c in conns
             if c.obs.client_hello is not None and c.obs.client_hello.server_name}
    return PeerSummary(
        server=server,
        connections=len(conns),
        by_verdict={v: kinds[v] for v in VERDICTS if kinds.get(v)},
        server_names=tuple(sorted(names)),
        clients=tuple(sorted({c.obs.client.ip for c in conns})),
        failed=sum(kinds[v] for v in FAILED_VERDICTS),
    )


def summarize(analysis: Analysis) -> Summary:
    kinds: Counter[str] = Counter(c.verdict.kind for c in analysis.connections)
    groups: dict[str, list[Connection]] = {}
    for conn in analysis.connections:
        groups.setdefault(str(conn.obs.server), []).append(conn)
    peers = sorted((_peer(server, conns) for server, conns in groups.items()),
                   key=lambda p: (-p.failed, p.server))
    return Summary(
        files=analysis.files,
        packets=analysis.packets,
        connections=len(analysis.connections),
        by_verdict={v: kinds.get(v, 0) for v in VERDICTS},
        failed=sum(kinds[v] for v in FAILED_VERDICTS),
        inferred=sum(1 for c in analysis.connections if c.verdict.inferred),
        peers=tuple(peers),
        partial=analysis.partial,
        exit_code=exit_code(analysis),
    )
