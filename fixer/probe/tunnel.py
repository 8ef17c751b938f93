"""Handshakes from a node's vantage point: byte streams over `direct-tcpip` channels of its SSH session.

Name resolution, routing and firewalls are the node's. All handshakes of a probe share the one SSH session
(channels are cheap; paramiko is thread-safe per channel). When the node's sshd forbids forwarding, the
connector remembers it, and `probe_from` falls back to `openssl s_client` on the node (fixer.probe.nodessl).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading

import paramiko

from fixer.errors import ForwardingRefusedError
from fixer.probe.engine import probe
from fixer.probe.handshake import Stream
from fixer.probe.model import ProbeResult, ProbeTarget
from fixer.probe.nodessl import probe_with_openssl
from fixer.transport.ssh import Session


class ChannelStream:
    """A paramiko channel as a `Stream` (paramiko raises socket.timeout, i.e. TimeoutError, on timeouts)."""

    def __init__(self, channel: paramiko.Channel) -> None:
        self.channel = channel

    def send(self, data: bytes) -> None:
        self.channel.sendall(data)

    def recv(self, n: int) -> bytes:
        return self.channel.recv(n)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.channel.close()

    def settimeout(self, timeout: float | None) -> None:
        self.channel.settimeout(timeout)


class TunnelConnector:
    """`connect(host, port, timeout) -> Stream` through `session`; the engine's `connect` argument.

    After the first ForwardingRefusedError every call raises it again without asking the node.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._lock = threading.Lock()
        self.refused: ForwardingRefusedError | None = None

    def __call__(self, host: str, port: int, timeout: float) -> Stream:
        if self.refused is not None:
            raise self.refused
        try:
            channel = self.session.open_tunnel(host, port, timeout)
        except ForwardingRefusedError as exc:
            with self._lock:
                self.refused = self.refused or exc
            raise
        return ChannelStream(channel)


def connect_via(session: Session) -> TunnelConnector:
    """A connect factory for `fixer.probe.engine.probe` that tunnels through `session` (already connected)."""
    return TunnelConnector(session)


def probe_from(session: Session, target: ProbeTarget, timeout: float = 5.0,
               connector: TunnelConnector | None = None) -> ProbeResult:
    """Probe `target` from the session's node: tunnelled, or `openssl s_client` there when forwarding is off.

    Pass one `connector` for several targets so that a refusal is learnt once. Never raises for I/O on the
    tunnel path; the fallback raises HostError when the node cannot run the script.
    """
    conn = connector or connect_via(session)
    if conn.refused is None:
        result = probe(target, timeout=timeout, connect=conn)
        if conn.refused is None:
            return dataclasses.replace(result, via="tunnel", vantage=session.host.name)
    return probe_with_openssl(session, target, timeout)
