"""Options and helpers shared by the subcommands that talk to hosts."""

from __future__ import annotations

import functools
import getpass
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from fixer.errors import FixerError
from fixer.transport.policy import HOST_KEY_POLICIES

if TYPE_CHECKING:
    from fixer.transport.ssh import ConnectOptions

EXIT_USAGE = 2
F = TypeVar("F", bound=Callable[..., Any])


def default_forks() -> int:
    # sessions mostly wait on the network and the nodes; ~8 per core keeps the controller busy, not swamped
    return max(5, min(50, 8 * (os.cpu_count() or 1)))


def configure_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="fixer: %(levelname)s: %(message)s", stream=sys.stderr, force=True)
    # paramiko's debug log is a firehose; only -vv (debug) shows it
    logging.getLogger("paramiko").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)


def fail_usage(exc: BaseException | str) -> NoReturn:
    click.echo(f"fixer: error: {exc}", err=True)
    sys.exit(EXIT_USAGE)


@dataclass(frozen=True)
class SSHArgs:
    known_hosts: str
    host_key_policy: str
    ssh_config: str
    ask_become_pass: bool
    timeout: float
    command_timeout: float

    def connect_options(self) -> ConnectOptions:
        """Everything is read and checked before any host is contacted (bad input: exit 2)."""
        import paramiko

        from fixer.transport.hostkeys import load_known_hosts
        from fixer.transport.ssh import ConnectOptions

        try:
            kh = Path(os.path.expanduser(self.known_hosts))
            host_keys = load_known_hosts(kh, self.host_key_policy)
            cfg_path = Path(os.path.expanduser(self.ssh_config))
            config = paramiko.SSHConfig.from_path(str(cfg_path)) if cfg_path.is_file() else None
        except (FixerError, OSError) as exc:
            fail_usage(exc)
        password = os.environ.get("FIXER_BECOME_PASSWORD")
        if self.ask_become_pass:
            password = getpass.getpass("BECOME password: ")
        return ConnectOptions(
            known_hosts=kh, host_key_policy=self.host_key_policy, ssh_config=config, host_keys=host_keys,
            connect_timeout=self.timeout, command_timeout=self.command_timeout, become_password=password,
        )


def ssh_options(command_timeout: float = 60.0, inventory_required: bool = True,
                timeout_flags: tuple[str, ...] = ("-T", "--timeout")) -> Callable[[F], F]:
    """-i/-l/-f and the SSH options, collected into `inventory`, `limit`, `forks` and `ssh: SSHArgs`.

    `timeout_flags` names the SSH connect timeout option (a command may need -T for its own timeout).
    """

    def decorate(func: F) -> F:
        @click.option("-i", "--inventory", required=inventory_required, type=click.Path(dir_okay=False),
                      help="Ansible-format YAML inventory.")
        @click.option("-l", "--limit", help="Host/group pattern, as Ansible's --limit (e.g. 'routers:!rt-02').")
        @click.option("-f", "--forks", type=click.IntRange(1, 500), default=default_forks, show_default=True,
                      help="Hosts worked on at once.")
        @click.option("--known-hosts", type=click.Path(dir_okay=False), default="~/.ssh/known_hosts",
                      show_default=True, help="OpenSSH known_hosts file to check host keys against.")
        @click.option("--host-key-policy", type=click.Choice(HOST_KEY_POLICIES), default="strict",
                      show_default=True,
                      help="strict: unknown hosts are refused; accept-new: record unknown hosts' keys (never replace).")
        @click.option("--ssh-config", type=click.Path(dir_okay=False), default="~/.ssh/config", show_default=True,
                      help="OpenSSH client config (HostName, User, Port, IdentityFile, ProxyJump).")
        @click.option("-K", "--ask-become-pass", is_flag=True,
                      help="Prompt for the sudo password (else ansible_become_password or $FIXER_BECOME_PASSWORD).")
        @click.option(*timeout_flags, "ssh_timeout", type=click.FloatRange(0.1), default=10.0, show_default=True,
                      help="SSH connect timeout in seconds.")
        @click.option("--command-timeout", type=click.FloatRange(0.1), default=command_timeout, show_default=True,
                      help="Time allowed for one remote step (a read, a write, a restart with its readiness gate).")
        @click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
        @functools.wraps(func)
        def wrapper(known_hosts: str, host_key_policy: str, ssh_config: str, ask_become_pass: bool,
                    ssh_timeout: float, command_timeout: float, verbose: int, **kwargs: Any) -> Any:
            if verbose:
                configure_logging(verbose)
            ssh = SSHArgs(known_hosts, host_key_policy, ssh_config, ask_become_pass, ssh_timeout, command_timeout)
            return func(ssh=ssh, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def write_output(text: str, output: str | None) -> None:
    """stdout, or FILE written atomically (temp file in the same directory, then rename)."""
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    target = Path(output)
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as `> FILE` would create it (mkstemp makes 0600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
