"""What the operator asks for, checked: peer, port, interface, seconds, size, host var `fixer_tcpdump`.

Nothing the operator types reaches a shell or tcpdump unchecked. The interface must match
`[A-Za-z0-9_.:-]{1,15}`; the peer is an IP literal or a host name matching `HOSTNAME_RE` (then resolved on
the node, and only the addresses that parse as IP literals are used); the port is 1..65535; seconds and
sizes are integers. The capture filter is built here from those values alone (`host <ip> and port <n>`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from fixer.inventory.model import Host

DEFAULT_SECONDS = 10
MAX_SECONDS = 600
DEFAULT_MAX_MB = 50
MAX_MB = 2048
MB = 1024 * 1024
HARD_SLACK_S = 30  # the node's own bound (`timeout`) is --seconds + the probe's bound + this
TCPDUMP_VAR = "fixer_tcpdump"

INTERFACE_RE = re.compile(r"[A-Za-z0-9_.:][A-Za-z0-9_.:-]{0,14}")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
HOSTNAME_RE = re.compile(rf"(?=.{{1,253}}\.?$){_LABEL}(?:\.{_LABEL})*\.?")
# an absolute path or a bare command name (host var fixer_tcpdump), never an option
PROGRAM_RE = re.compile(r"[A-Za-z0-9_./+][A-Za-z0-9_./+-]{0,255}")


@dataclass(frozen=True)
class Peer:
    host: str  # an IP literal (compressed form) or a host name (as given, lower case)
    port: int
    is_ip: bool

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def ip_literal(text: str) -> str | None:
    """`text` as a compressed IP literal, or None. Scoped IPv6 (fe80::1%eth0) is refused: BPF has no scopes."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id:
        return None
    return str(addr)


def parse_peer(text: str, default_port: int = 443) -> Peer:
    """`ADDR`, `ADDR:PORT`, `[V6]:PORT` or a bare IPv6 literal; ADDR an IP literal or a strict host name."""
    raw = text.strip()
    if not raw:
        raise ValueError("empty peer")
    port_text = ""
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"bad peer {text!r}: expected [ADDRESS]:PORT")
        port_text = rest[1:] if rest else "-"
        if ip_literal(host) is None or ":" not in host:
            raise ValueError(f"bad peer {text!r}: [...] holds an IPv6 address")
    elif raw.count(":") == 1:
        host, _, port_text = raw.partition(":")
    else:  # a name, an IPv4 address, or a bare IPv6 address (two or more colons)
        host = raw
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"bad peer {text!r}: port must be 1..65535")
        port = int(port_text)
    ip = ip_literal(host)
    if ip is not None:
        return Peer(ip, port, True)
    if re.fullmatch(r"[0-9.]+", host) or HOSTNAME_RE.fullmatch(host) is None:
        raise ValueError(f"bad peer {text!r}: not an IP address or a host name ([A-Za-z0-9_-] labels, dots)")
    return Peer(host.lower(), port, False)


def check_interface(name: str) -> str:
    if INTERFACE_RE.fullmatch(name) is None:
        raise ValueError(f"bad interface {name!r}: 1-15 characters of [A-Za-z0-9_.:-], not starting with '-'")
    return name


def tcpdump_program(host: Host) -> str:
    """Host var `fixer_tcpdump` (an absolute path or a command name), else `tcpdump`."""
    value = host.vars.get(TCPDUMP_VAR)
    program = "tcpdump" if value in (None, "") else str(value)
    if PROGRAM_RE.fullmatch(program) is None or "/." in program or ".." in program:
        raise ValueError(f"{host.name}: bad {TCPDUMP_VAR} {program!r}: an absolute path or a command name")
    return program


def build_filter(addresses: Sequence[str], port: int) -> str:
    """`host A and port N` (or `(host A or host B) and port N`) from IP literals only: each is parsed again."""
    ips: list[str] = []
    for text in addresses:
        ip = ip_literal(text)
        if ip is None:
            raise ValueError(f"not an IP address: {text!r}")
        if ip not in ips:
            ips.append(ip)
    if not ips:
        raise ValueError("no address to capture")
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"bad port {port!r}")
    hosts = " or ".join(f"host {ip}" for ip in ips)
    return f"({hosts}) and port {port}" if len(ips) > 1 else f"{hosts} and port {port}"


@dataclass(frozen=True)
class CaptureSpec:
    peer: Peer
    interface: str = "any"
    seconds: int = DEFAULT_SECONDS
    max_bytes: int = DEFAULT_MAX_MB * MB
    probe: bool = False
    probe_timeout: float = 5.0
    servername: str | None = None  # SNI of the probe (default: the peer when it is a name)

    def __post_init__(self) -> None:
        check_interface(self.interface)
        if not 1 <= self.seconds <= MAX_SECONDS:
            raise ValueError(f"seconds must be 1..{MAX_SECONDS}")
        if not 1 <= self.max_bytes <= MAX_MB * MB:
            raise ValueError(f"max size must be 1 byte..{MAX_MB} MB")

    @property
    def hard_bound(self) -> int:
        """Seconds after which the node's `timeout` stops tcpdump, whatever the controller does."""
        probe_bound = int(3 * self.probe_timeout) + 1 if self.probe else 0
        return self.seconds + probe_bound + HARD_SLACK_S
