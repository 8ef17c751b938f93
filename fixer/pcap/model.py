"""What a packet capture says about TLS handshakes, as frozen data (the contract between the stages).

    reader (pcap/pcapng, link layers) -> tcp (per-connection reassembly) -> tls (records, handshake messages)
        -> ConnectionObs (what was seen)  -> verdicts (pure: ConnectionObs -> Verdict) -> Connection -> reports

Nothing here parses or does I/O. Times are seconds since the epoch (float, from the capture). Versions are
names ("TLSv1.2", "TLSv1.3", "SSLv3", or "0x7f1c" for unknown codes); cipher suites are IANA names
("TLS_AES_128_GCM_SHA256"), or "0x1234" when unknown; alerts by RFC 8446 description name
("handshake_failure", "unrecognized_name", "unknown_ca").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from fixer.probe.model import CertSummary

Side = Literal["client", "server"]
CloseKind = Literal["fin", "rst"]
VerdictKind = Literal[
    "ok",
    "protocol-mismatch",
    "cipher-mismatch",
    "sni-missing",  # the server refuses a ClientHello without server_name
    "sni-unrecognized",  # the server does not know the server_name sent
    "certificate-rejected",  # the client refused the server's certificate (unknown_ca, certificate_expired ...)
    "server-closed",  # FIN/RST from the server after the ClientHello, no alert
    "incomplete",  # the capture ends before the handshake did (or starts after it began)
    "connection-refused",  # the server answered the SYN with a RST: no TLS could start
    "not-tls",  # a TCP connection on which no TLS was seen (reported only with --all)
]
VERDICTS: tuple[str, ...] = VerdictKind.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Endpoint:
    ip: str  # IPv4 dotted or IPv6 compressed text
    port: int

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ClientHello:
    time: float
    record_version: str  # the record layer's version of the first record carrying it
    legacy_version: str  # client_version in the ClientHello body
    supported_versions: tuple[str, ...]  # the supported_versions extension, in order; () when absent
    cipher_suites: tuple[str, ...]  # IANA names in the client's order (GREASE values dropped)
    server_name: str | None  # the host_name of the server_name extension
    sni_present: bool  # the extension was there (it may hold no host_name)
    extensions: tuple[str, ...]  # extension names ("server_name", "supported_groups", ...) or "0x...." in order
    alpn: tuple[str, ...] = ()

    @property
    def max_version(self) -> str:
        """The highest version offered: supported_versions when present, else legacy_version."""
        from fixer.pcap.names import version_rank  # names are the parser's business

        offered = self.supported_versions or (self.legacy_version,)
        return max(offered, key=version_rank)


@dataclass(frozen=True)
class ServerHello:
    time: float
    legacy_version: str
    version: str  # negotiated: supported_versions' selected_version when present, else legacy_version
    cipher_suite: str
    hello_retry_request: bool = False


@dataclass(frozen=True)
class Alert:
    time: float
    sender: Side
    encrypted: bool  # sent after ChangeCipherSpec / in TLS 1.3 application_data records: level unknown
    level: str | None = None  # "warning" | "fatal"; None when encrypted
    description: str | None = None  # None when encrypted
    inferred: str | None = None  # for encrypted alerts: what the heuristics take it to be, and why
    length: int | None = None  # encrypted alerts: the record's length (a plaintext alert is 2 bytes)


@dataclass(frozen=True)
class ConnectionObs:
    """Everything the capture shows of one TCP connection (both directions reassembled)."""

    client: Endpoint  # the side that sent the SYN, else the ClientHello, else the first packet
    server: Endpoint
    start: float
    end: float
    packets: int
    bytes_client: int  # TCP payload bytes, each direction, after reassembly (retransmissions counted once)
    bytes_server: int
    client_hello: ClientHello | None = None
    server_hello: ServerHello | None = None
    certificates: tuple[CertSummary, ...] = ()  # server Certificate message, leaf first (TLS <= 1.2 only)
    alerts: tuple[Alert, ...] = ()  # in capture order
    # record content types seen after the ServerHello, per side ("change_cipher_spec", "application_data", ...)
    client_records_after_hello: tuple[str, ...] = ()
    server_records_after_hello: tuple[str, ...] = ()
    closed_by: Side | None = None  # who sent the first FIN/RST
    close_kind: CloseKind | None = None
    close_time: float | None = None
    syn_seen: bool = False  # the capture saw the connection open (a capture started mid-connection did not)
    synack_seen: bool = False  # the server's SYN-ACK was seen: it accepted the connection
    # TLS <= 1.2: both sides sent CCS + encrypted Finished; TLS 1.3: application data both ways
    handshake_done: bool = False
    notes: tuple[str, ...] = ()  # gaps, truncation, unparseable records: what limits the reading

    @property
    def refused(self) -> bool:
        """The server answered the client's SYN with a RST (nothing listens there, or a firewall rejects)."""
        return (self.syn_seen and not self.synack_seen and self.closed_by == "server" and self.close_kind == "rst"
                and self.bytes_client == 0 and self.bytes_server == 0)
    # the lengths of the records in client/server_records_after_hello, in the same order (a TLS 1.3 encrypted
    # alert is 19 bytes long, a Finished 53 or more)
    client_record_lengths_after_hello: tuple[int, ...] = ()
    server_record_lengths_after_hello: tuple[int, ...] = ()


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    reason: str  # one sentence with the evidence ("server alert handshake_failure after a ClientHello with ...")
    inferred: bool = False  # a heuristic (e.g. TLS 1.3 encrypted alerts), stated as such in the output
    remediation: str = ""
    finding: str | None = None  # the matching `fixer check` finding id, e.g. "target-sni-required"
    playbook: str | None = None  # the shipped playbook that fixes it, e.g. "enable-sni.yml"
    chain_check: str | None = None  # certificate-rejected, TLS <= 1.2: the offline chain check of the captured chain


@dataclass(frozen=True)
class Connection:
    obs: ConnectionObs
    verdict: Verdict


@dataclass(frozen=True)
class Analysis:
    files: tuple[str, ...]
    packets: int  # packets read (all of them, TLS or not)
    connections: tuple[Connection, ...]  # TLS connections (and not-tls ones when asked), by start time
    notes: tuple[str, ...] = field(default=())  # file-level: truncated file, unsupported link type, skipped packets
    partial: bool = False  # the result is partial (see notes): exit status says so
