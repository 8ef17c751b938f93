"""The one error of `fixer capture` that is not the connection's: the capture itself could not run."""

from __future__ import annotations

from fixer.errors import HostError


class CaptureError(HostError):
    """The capture could not run on the host. `kind`: no-tcpdump, no-timeout, permission, resolve, tmpdir,
    tcpdump, protocol (the node's script said something unexpected)."""

    category = "command"

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind
