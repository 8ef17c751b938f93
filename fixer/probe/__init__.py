"""TLS probe engine: handshakes over any byte stream, every outcome as data (issue 4, item 1).

`probe()` answers, for one `host:port` (and optional server name), which of TLSv1.0..1.3 the server accepts,
whether it needs SNI or shows another certificate without it, the chains it presents and the negotiated suite.
"""

from fixer.probe.engine import probe, tcp_connect
from fixer.probe.model import CertSummary, Failure, HandshakeResult, ProbeResult, ProbeTarget

__all__ = ["CertSummary", "Failure", "HandshakeResult", "ProbeResult", "ProbeTarget", "probe", "tcp_connect"]
