"""TLS probe engine: handshakes over any byte stream, every outcome as data (issue 4, item 1).

`fixer.probe.engine.probe()` answers, for one `host:port` (and optional server name), which of TLSv1.0..1.3
the server accepts, whether it needs SNI or shows another certificate without it, the chains it presents and
the negotiated suite; `fixer.probe.model` holds the data (also used by the capture analysis, which must not
pay for importing the engine: nothing is imported here).
"""
