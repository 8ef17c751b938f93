"""One SSH session per host (paramiko): connect with OpenSSH-like config, run a script, become via sudo.

Scripts are sent on the remote shell's stdin (passed as data), never spliced into a command line.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import select
import shlex
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from fixer.errors import (
    AuthenticationError,
    BecomeError,
    CommandTimeoutError,
    ForwardingRefusedError,
    HostError,
    HostKeyError,
    UnreachableError,
)
from fixer.inventory.model import Host
from fixer.transport.hostkeys import known_hosts_name, make_policy

log = logging.getLogger(__name__)

_CHUNK = 65536


@dataclass(frozen=True)
class ConnectOptions:
    known_hosts: Path
    host_key_policy: str = "strict"
    ssh_config: paramiko.SSHConfig | None = None
    host_keys: paramiko.HostKeys = field(default_factory=paramiko.HostKeys)
    connect_timeout: float = 10.0
    command_timeout: float = 60.0
    become_password: str | None = None  # from env or prompt; the inventory's value wins per host


@dataclass(frozen=True)
class CommandResult:
    stdout: bytes
    stderr: bytes
    exit_status: int


@dataclass(frozen=True)
class _Target:
    hostname: str
    port: int
    user: str | None
    key_files: tuple[str, ...]
    proxy_jump: str | None


def _resolve(alias: str, port: int | None, user: str | None, key: str | None,
             config: paramiko.SSHConfig | None) -> _Target:
    """Apply ~/.ssh/config to an alias; inventory values win over it, as with Ansible."""
    entry: dict[str, object] = dict(config.lookup(alias)) if config is not None else {}
    hostname = str(entry.get("hostname", alias))
    cfg_port = entry.get("port")
    keys: list[str] = [key] if key else []
    if not keys:
        keys = [os.path.expanduser(str(k)) for k in entry.get("identityfile", []) or []]  # type: ignore[attr-defined]
    jump = entry.get("proxyjump")
    return _Target(
        hostname=hostname,
        port=port if port is not None else int(str(cfg_port)) if cfg_port else 22,
        user=user if user is not None else (str(entry["user"]) if "user" in entry else None),
        key_files=tuple(k for k in keys if os.path.exists(k)),
        proxy_jump=None if jump in (None, "none") else str(jump),
    )


def _jump_parts(spec: str) -> tuple[str, int | None, str | None, None]:
    """`[user@]host[:port]` of a ProxyJump hop, as _resolve's (alias, port, user, key) arguments."""
    spec = spec.strip()
    user = None
    if "@" in spec:
        user, spec = spec.rsplit("@", 1)
    port = None
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif spec.count(":") == 1:
        host, port_text = spec.split(":")
        port = int(port_text)
    else:
        host = spec
    return host, port, user, None


class _OpenFailures(logging.Filter):
    """The reason text of a session's last channel open failure ("Connection refused", "Temporary failure in
    name resolution"): paramiko only logs it, and its ChannelException keeps the bare code's name. The record
    is kept out of the user's log: a backend that does not answer a probe is data, not an error of fixer."""

    _FAILED = re.compile(r"Secsh channel \d+ open FAILED: (?P<reason>.*): [^:]*$", re.DOTALL)

    def __init__(self) -> None:
        super().__init__()
        self.last = ""

    def filter(self, record: logging.LogRecord) -> bool:
        match = self._FAILED.match(record.getMessage())
        if match is None:
            return True
        self.last = match["reason"].strip()
        return False


class Session:
    """A connected SSH client to one inventory host (plus any ProxyJump hops)."""

    def __init__(self, host: Host, options: ConnectOptions) -> None:
        self.host = host
        self.options = options
        self._clients: list[paramiko.SSHClient] = []
        # paramiko hands an open failure to whichever waiting opener calls get_exception() first: opens are
        # serialised so each caller gets its own reason (one round trip each; the channels then run in parallel)
        self._open_lock = threading.Lock()
        self._open_failures = _OpenFailures()

    # -- connecting -------------------------------------------------------------------------------

    def connect(self) -> None:
        target = _resolve(
            self.host.address,
            self.host.port if "ansible_port" in self.host.vars else None,
            self.host.user,
            self.host.key_file,
            self.options.ssh_config,
        )
        sock: paramiko.Channel | None = None
        hops = [_resolve(*_jump_parts(spec), self.options.ssh_config)
                for spec in (target.proxy_jump.split(",") if target.proxy_jump else [])]
        for index, hop in enumerate(hops):
            client = self._open(hop, sock, role="jump host")
            sock = self._forward(client, hops[index + 1] if index + 1 < len(hops) else target)
        client = self._open(target, sock, role="host")
        transport = client.get_transport()
        if transport is not None:  # this session's own logger, so that open failures are read per session
            name = f"paramiko.transport.fixer.{id(self):x}"
            transport.set_log_channel(name)
            logging.getLogger(name).addFilter(self._open_failures)

    def _forward(self, client: paramiko.SSHClient, dest: _Target) -> paramiko.Channel:
        transport = client.get_transport()
        assert transport is not None
        try:
            return transport.open_channel(
                "direct-tcpip", (dest.hostname, dest.port), ("127.0.0.1", 0),
                timeout=self.options.connect_timeout,
            )
        except (paramiko.SSHException, OSError) as exc:
            raise UnreachableError(f"jump host could not reach {dest.hostname}:{dest.port}: {exc}") from exc

    def _open(self, target: _Target, sock: paramiko.Channel | None, role: str) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        # only this host's entries: copying the whole file per host costs O(hosts²) lookups
        name = known_hosts_name(target.hostname, target.port)
        for key_type, key in (self.options.host_keys.lookup(name) or {}).items():
            client.get_host_keys().add(name, key_type, key)
        client.set_missing_host_key_policy(make_policy(self.options.known_hosts, self.options.host_key_policy))
        where = f"{target.hostname}:{target.port}"
        timeout = self.options.connect_timeout
        started = time.monotonic()
        try:
            client.connect(
                target.hostname,
                port=target.port,
                username=target.user,
                key_filename=list(target.key_files) or None,  # type: ignore[arg-type]  # stubs: str only
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                channel_timeout=timeout,
                allow_agent=True,
                look_for_keys=not target.key_files,
                sock=sock,
            )
        except HostKeyError:
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyError(
                f"HOST KEY MISMATCH for {role} {where}: got {exc.key.get_name()} {exc.key.fingerprint}, "
                f"known_hosts has {exc.expected_key.fingerprint}; possible man-in-the-middle, or the host "
                "was rebuilt: verify, then fix known_hosts"
            ) from exc
        except paramiko.AuthenticationException as exc:
            client.close()
            raise AuthenticationError(f"authentication failed for {target.user or '?'}@{where}: {exc}") from exc
        except TimeoutError as exc:
            client.close()
            raise UnreachableError(f"timed out connecting to {role} {where} after {timeout:g}s") from exc
        except (paramiko.ssh_exception.NoValidConnectionsError, OSError, EOFError) as exc:
            client.close()
            raise UnreachableError(f"cannot connect to {role} {where}: {exc}") from exc
        except paramiko.SSHException as exc:
            client.close()
            if "banner" in str(exc).lower() or time.monotonic() - started >= timeout:
                # the port answered but SSH never got going: a hung sshd or a non-SSH service
                raise CommandTimeoutError(f"no SSH handshake from {role} {where} within {timeout:g}s") from exc
            raise UnreachableError(f"SSH error with {role} {where}: {exc}") from exc
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in reversed(self._clients):
            client.close()
        self._clients.clear()
        # the session's own logger (see connect) is global state: leave nothing behind
        logging.getLogger(f"paramiko.transport.fixer.{id(self):x}").removeFilter(self._open_failures)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tunnelling -------------------------------------------------------------------------------

    def open_tunnel(self, host: str, port: int, timeout: float) -> paramiko.Channel:
        """A `direct-tcpip` channel from the target host to `host:port`: its DNS, routes and firewall.

        Raises ForwardingRefusedError when the node's sshd forbids forwarding (administratively prohibited),
        and, like `socket`, ConnectionRefusedError / socket.gaierror / TimeoutError / OSError when the node
        could not connect, so that the probe engine turns them into a Failure.
        """
        if not self._clients:
            raise HostError("not connected")
        transport = self._clients[-1].get_transport()
        if transport is None or not transport.is_active():
            raise ConnectionAbortedError("SSH connection is closed")
        started = time.monotonic()
        if not self._open_lock.acquire(timeout=timeout):
            raise TimeoutError(f"no channel to {host}:{port} within {timeout:g}s (other opens pending)")
        try:
            left = max(0.001, timeout - (time.monotonic() - started))
            self._open_failures.last = ""
            return transport.open_channel("direct-tcpip", (host, port), ("127.0.0.1", 0), timeout=left)
        except paramiko.ChannelException as exc:
            raise _channel_error(exc, host, port, self.host.name, self._open_failures.last) from exc
        except paramiko.SSHException as exc:
            if "timeout" in str(exc).lower():
                raise TimeoutError(f"no answer to forwarding {host}:{port} within {timeout:g}s") from exc
            raise ConnectionAbortedError(f"SSH error opening a channel to {host}:{port}: {exc}") from exc
        finally:
            self._open_lock.release()

    # -- running ----------------------------------------------------------------------------------

    def open_shell(self, become: bool | None = None) -> paramiko.Channel:
        """An exec channel on the target host running `sh -s`, for a caller that streams the script itself.

        The same start as `run_script`: the login user's `sh -s` or, with become (default: the host's
        `ansible_become`), `sh -s` under sudo with the password handshake already done, so nothing read from
        the channel is sudo's. The caller writes the script on stdin and reads stdout/stderr as they come;
        end of file on stdin (`shutdown_write`, or closing the channel) ends the script's input. The caller
        owns the channel and must close it.

        Raises HostError (not connected), UnreachableError (connection closed, no channel), and BecomeError
        or CommandTimeoutError (sudo refused, or no answer within the command timeout).
        """
        if not self._clients:
            raise HostError("not connected")
        transport = self._clients[-1].get_transport()  # the target's (earlier clients are ProxyJump hops)
        if transport is None or not transport.is_active():
            raise UnreachableError("SSH connection is closed")
        use_become = self.host.become if become is None else become
        try:
            channel = transport.open_session(timeout=self.options.connect_timeout)
        except (paramiko.SSHException, OSError) as exc:
            raise UnreachableError(f"cannot open a session channel: {exc}") from exc
        try:
            if use_become:
                self._become(channel, time.monotonic() + self.options.command_timeout)
            else:
                channel.exec_command("sh -s")
        except BaseException:
            channel.close()
            raise
        return channel

    def run_script(self, script: str, become: bool | None = None) -> CommandResult:
        """Run a POSIX sh script (sent on stdin) as the login user or, with become, via sudo."""
        if not self._clients:
            raise HostError("not connected")
        transport = self._clients[-1].get_transport()
        assert transport is not None
        use_become = self.host.become if become is None else become
        deadline = time.monotonic() + self.options.command_timeout
        try:
            channel = transport.open_session(timeout=self.options.connect_timeout)
        except (paramiko.SSHException, OSError) as exc:
            raise UnreachableError(f"cannot open a session channel: {exc}") from exc
        try:
            if use_become:
                self._become(channel, deadline)
            else:
                channel.exec_command("sh -s")
            channel.sendall(script.encode())
            channel.shutdown_write()
            stdout, stderr = _drain(channel, deadline, b"", b"")
            return CommandResult(stdout, stderr, channel.recv_exit_status())
        except (paramiko.SSHException, OSError) as exc:
            raise UnreachableError(f"connection lost while running the script: {exc}") from exc
        finally:
            channel.close()

    def _become(self, channel: paramiko.Channel, deadline: float) -> None:
        """sudo to the become user; waits for a marker so a password is never fed to the shell."""
        user = self.host.become_user
        password = self.host.become_password or self.options.become_password
        nonce = secrets.token_hex(8)
        marker = f"FIXER-BECOME-OK-{nonce}"
        prompt = f"[fixer-sudo-{nonce}] password: "
        inner = shlex.quote(f"echo {marker}; exec sh -s")
        if password is None:
            cmd = f"sudo -n -H -u {shlex.quote(user)} -- sh -c {inner}"
        else:
            cmd = f"sudo -S -H -p {shlex.quote(prompt)} -u {shlex.quote(user)} -- sh -c {inner}"
        channel.exec_command(cmd)
        out, err = b"", b""
        prompts_answered = 0
        while marker.encode() not in out:
            if channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready():
                raise BecomeError(_sudo_failure(user, err))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CommandTimeoutError(f"timed out waiting for sudo to {user}")
            select.select([channel], [], [], min(remaining, 1.0))
            if channel.recv_ready():
                out += channel.recv(_CHUNK)
            if channel.recv_stderr_ready():
                err += channel.recv_stderr(_CHUNK)
            if prompt.encode() in err:
                if password is None or prompts_answered:
                    raise BecomeError(f"sudo to {user} refused: incorrect become password")
                channel.sendall((password + "\n").encode())
                prompts_answered += 1
                err = err.replace(prompt.encode(), b"", 1)


# RFC 4254 5.1 SSH_MSG_CHANNEL_OPEN_FAILURE reason codes
_OPEN_ADMINISTRATIVELY_PROHIBITED = 1
_DNS_WORDS = ("name or service not known", "name resolution", "nodename nor servname", "no address associated",
              "not known")


def _channel_error(exc: paramiko.ChannelException, host: str, port: int, node: str, reason: str = "") -> Exception:
    """An open failure as the exception a local `connect` would raise (OpenSSH puts strerror in `reason`)."""
    text = (reason or exc.text or "").strip()
    where = f"{host}:{port} from {node}"
    if exc.code == _OPEN_ADMINISTRATIVELY_PROHIBITED:
        return ForwardingRefusedError(f"{node} refuses TCP forwarding: {text or 'administratively prohibited'}")
    lower = text.lower()
    if any(word in lower for word in _DNS_WORDS):
        return socket.gaierror(f"{where}: {text}")
    if "timed out" in lower:
        return TimeoutError(f"{where}: {text}")
    if "refused" in lower or not text or exc.code == 2:  # 2: connect failed
        return ConnectionRefusedError(f"{where}: {text or 'connect failed'}")
    return OSError(f"{where}: channel open failed ({exc.code}): {text}")


def _sudo_failure(user: str, stderr: bytes) -> str:
    text = stderr.decode(errors="replace").strip().splitlines()
    detail = text[-1] if text else "no message"
    if "password is required" in detail:
        return (f"sudo to {user} needs a password: set ansible_become_password, FIXER_BECOME_PASSWORD "
                f"or use --ask-become-pass ({detail})")
    if "incorrect password" in detail or "try again" in detail:
        return f"sudo to {user} refused: incorrect become password"
    return f"sudo to {user} refused: {detail}"


def _drain(channel: paramiko.Channel, deadline: float, out: bytes, err: bytes) -> tuple[bytes, bytes]:
    """Read stdout and stderr together until EOF: reading one alone can stall on a full window."""
    out_parts, err_parts = [out], [err]
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CommandTimeoutError("remote command timed out")
        select.select([channel], [], [], min(remaining, 1.0))
        got = False
        while channel.recv_ready():
            out_parts.append(channel.recv(_CHUNK))
            got = True
        while channel.recv_stderr_ready():
            err_parts.append(channel.recv_stderr(_CHUNK))
            got = True
        if not got and channel.exit_status_ready() and channel.eof_received:
            # final sweep: data can land between the checks above and the exit status
            while channel.recv_ready():
                out_parts.append(channel.recv(_CHUNK))
            while channel.recv_stderr_ready():
                err_parts.append(channel.recv_stderr(_CHUNK))
            break
    return b"".join(out_parts), b"".join(err_parts)
