"""fixer: find and fix TLS/SSL handshake failures in Apigee Edge for Private Cloud fleets."""

__version__ = "0.1.0"
