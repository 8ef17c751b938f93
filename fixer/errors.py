"""The one exception tree of fixer. Every error fixer raises on purpose derives from FixerError."""

from __future__ import annotations


class FixerError(Exception):
    """Base of every error fixer raises on purpose."""


class UsageError(FixerError):
    """Bad input from the operator (files, options). CLI exit code 2."""


class InventoryError(UsageError):
    """An inventory that cannot be loaded; names the file and line when known."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")
        self.message = message


class PlaybookError(InventoryError):
    """A playbook that cannot be loaded or validated; names the file and line. Exit code 2."""


class CaptureError(FixerError):
    """A file that is not a packet capture (pcap or pcapng) at all, or cannot be opened; names the file."""


class ParseError(FixerError):
    """A remote file or command output that a parser could not read."""


class HostError(FixerError):
    """A failure confined to one host; `category` is one of HOST_ERROR_CATEGORIES."""

    category = "error"

    def __init__(self, message: str, category: str | None = None) -> None:
        super().__init__(message)
        if category is not None:
            self.category = category


class CaptureRunError(HostError):
    """`fixer capture` could not run on the host. `kind`: no-tcpdump, no-timeout, permission, resolve, tmpdir,
    tcpdump, protocol (the node's script said something unexpected)."""

    category = "command"

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class UnreachableError(HostError):
    category = "unreachable"


class AuthenticationError(HostError):
    category = "auth"


class HostKeyError(HostError):
    category = "host-key"


class CommandTimeoutError(HostError):
    category = "timeout"


class BecomeError(HostError):
    category = "become"


class RemoteCommandError(HostError):
    category = "command"


class ForwardingRefusedError(HostError):
    """The node's sshd refused a `direct-tcpip` channel (administratively prohibited): no TCP forwarding."""

    category = "forwarding"


class ApplyError(HostError):
    """A change could not be made on a host (write refused, restart failed, readiness, verify)."""

    category = "apply"


class ChangedSincePlanError(ApplyError):
    """A target file's bytes differ from what the plan saw: refused, nothing written."""

    category = "changed-since-plan"


class LockedError(ApplyError):
    """Another fixer run holds the host's lock."""

    category = "locked"


# Categories of HostError, in the order reports list them.
HOST_ERROR_CATEGORIES = (
    "unreachable", "auth", "host-key", "timeout", "become", "command", "apply", "changed-since-plan", "locked",
    "forwarding", "error",
)
