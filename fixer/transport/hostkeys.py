"""Host-key policies: strict by default, `accept-new` only when asked, never a silent auto-add."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import paramiko

from fixer.errors import HostKeyError, UsageError
from fixer.transport.policy import HOST_KEY_POLICIES

log = logging.getLogger(__name__)

_save_lock = threading.Lock()


def known_hosts_name(hostname: str, port: int) -> str:
    """The name OpenSSH files a host key under: plain host on port 22, `[host]:port` otherwise."""
    return hostname if port == 22 else f"[{hostname}]:{port}"


class StrictPolicy(paramiko.MissingHostKeyPolicy):
    """Refuse hosts missing from known_hosts (OpenSSH StrictHostKeyChecking=yes)."""

    def __init__(self, known_hosts: Path) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise HostKeyError(
            f"host key for {hostname} not in {self.known_hosts} ({key.get_name()} "
            f"SHA256:{key.fingerprint.split(':', 1)[-1]}); add it with ssh-keyscan after checking the "
            "fingerprint, or run once with --host-key-policy accept-new"
        )


class AcceptNewPolicy(paramiko.MissingHostKeyPolicy):
    """OpenSSH StrictHostKeyChecking=accept-new: record an unknown host's key, loudly; never replace one."""

    def __init__(self, known_hosts: Path) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        with _save_lock:
            self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.known_hosts, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as fh:
                fh.write(line)
        log.warning(
            "added new host key for %s (%s %s) to %s", hostname, key.get_name(), key.fingerprint,
            self.known_hosts,
        )


def load_known_hosts(path: Path, policy: str) -> paramiko.HostKeys:
    """Read known_hosts once for the whole run; a missing file is only fine under accept-new."""
    if policy not in HOST_KEY_POLICIES:
        raise UsageError(f"unknown host key policy {policy!r}; choose one of {', '.join(HOST_KEY_POLICIES)}")
    keys = paramiko.HostKeys()
    if path.exists():
        try:
            keys.load(str(path))
        except (OSError, paramiko.SSHException) as exc:
            raise UsageError(f"cannot read known_hosts {path}: {exc}") from exc
    elif policy == "strict":
        raise UsageError(
            f"known_hosts file {path} does not exist; give --known-hosts PATH "
            "or use --host-key-policy accept-new to record keys on first contact"
        )
    return keys


def make_policy(path: Path, policy: str) -> paramiko.MissingHostKeyPolicy:
    return AcceptNewPolicy(path) if policy == "accept-new" else StrictPolicy(path)
