"""`fixer capture`: tcpdump on a node over its SSH session, the file downloaded and read like `fixer pcap`.

Nothing the operator types reaches a shell or tcpdump unchecked (`validate`): the interface, the peer (an IP
literal, or a strict host name resolved on the node), the port, seconds and sizes; the capture filter is
built from those values alone (`host <ip> and port <n>`) and, like every other value, reaches the node
through shlex.quote in scripts sent on the remote shell's stdin (`script`).

Two execs on the host's one SSH connection, both with `become` when the inventory says so:

1. preflight (`discover`, `Session.run_script`): where tcpdump and `timeout` are, the uid, and the peer's
   addresses when given by name.
2. capture (`run`, one channel from `Session.open_shell` kept open and read by `stream`): tcpdump bounded
   by the node's `timeout`, --seconds and --max-mb, stopped on the controller's `stop` (or when the
   controller or the connection is gone), the file streamed back and the node's directory removed; the
   controller removes it itself when the script did not confirm, on failure and on Ctrl-C too.

Layout: `validate` (input, limits, CaptureSpec), `script` (the remote shell scripts), `discover` (the
preflight), `stream` (the channel reader), `run` (run_capture, CaptureOutcome); its
error is fixer.errors.CaptureRunError.
"""

from fixer.capture.discover import Preflight, parse_preflight, preflight
from fixer.capture.run import CaptureOutcome, Progress, default_output, run_capture
from fixer.capture.script import (
    BUFFER_KIB,
    DEADMAN_SLACK_S,
    LISTEN_TIMEOUT_S,
    MARK,
    REMOTE_DIR_RE,
    capture_script,
    cleanup_script,
    preflight_script,
)
from fixer.capture.validate import (
    DEFAULT_MAX_MB,
    DEFAULT_SECONDS,
    HARD_SLACK_S,
    HOSTNAME_RE,
    INTERFACE_RE,
    MAX_MB,
    MAX_SECONDS,
    MB,
    PROGRAM_RE,
    TCPDUMP_VAR,
    CaptureSpec,
    Peer,
    build_filter,
    check_interface,
    parse_peer,
    tcpdump_program,
)
from fixer.errors import CaptureRunError

__all__ = [
    "BUFFER_KIB",
    "DEADMAN_SLACK_S",
    "DEFAULT_MAX_MB",
    "DEFAULT_SECONDS",
    "HARD_SLACK_S",
    "HOSTNAME_RE",
    "INTERFACE_RE",
    "LISTEN_TIMEOUT_S",
    "MARK",
    "MAX_MB",
    "MAX_SECONDS",
    "MB",
    "PROGRAM_RE",
    "REMOTE_DIR_RE",
    "TCPDUMP_VAR",
    "CaptureOutcome",
    "CaptureRunError",
    "CaptureSpec",
    "Peer",
    "Preflight",
    "Progress",
    "build_filter",
    "capture_script",
    "check_interface",
    "cleanup_script",
    "default_output",
    "parse_peer",
    "parse_preflight",
    "preflight",
    "preflight_script",
    "run_capture",
    "tcpdump_program",
]
