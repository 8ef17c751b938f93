"""Command line: `fixer check` (more subcommands arrive with later issues).

Exit codes: 0 no error-severity finding; 1 error findings; 2 bad usage or input (nothing contacted);
3 at least one host could not be inspected.
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
import tempfile
from pathlib import Path

import click
import paramiko

from fixer import __version__
from fixer.errors import FixerError, UsageError
from fixer.inventory.loader import load_inventory
from fixer.inventory.model import ROLES, Host
from fixer.result import CheckRun, HostResult
from fixer.transport.hostkeys import HOST_KEY_POLICIES, load_known_hosts
from fixer.transport.ssh import ConnectOptions

EXIT_USAGE = 2


def default_forks() -> int:
    # sessions mostly wait on the network and the nodes; ~8 per core keeps the controller busy, not swamped
    return max(5, min(50, 8 * (os.cpu_count() or 1)))


def _write_output(text: str, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    target = Path(output)
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _select_hosts(inventory: str, limit: str | None) -> tuple[list[Host], list[Host]]:
    inv = load_inventory(inventory)
    selected = inv.select(limit)
    for host in selected:
        if host.role is not None and host.role not in ROLES:
            raise UsageError(f"host {host.name}: fixer_role {host.role!r} is not one of {', '.join(ROLES)}")
    return [h for h in selected if h.role], [h for h in selected if not h.role]


def _render(run: CheckRun, fmt: str, color: bool) -> str:
    if fmt == "json":
        from fixer.report.json_report import render_json

        return render_json(run)
    if fmt == "html":
        from fixer.report.html import render_html

        return render_html(run)
    from fixer.report.text import render_text

    return render_text(run, color=color)


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="fixer: %(levelname)s: %(message)s", stream=sys.stderr, force=True)
    # paramiko's debug log is a firehose; only -vv (debug) shows it
    logging.getLogger("paramiko").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fixer")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Find and fix TLS/SSL handshake failures in Apigee Edge for Private Cloud fleets."""
    _configure_logging(verbose)


@main.command()
@click.option("-i", "--inventory", required=True, type=click.Path(dir_okay=False),
              help="Ansible-format YAML inventory.")
@click.option("-l", "--limit", help="Host/group pattern, as Ansible's --limit (e.g. 'routers:!rt-02').")
@click.option("-f", "--forks", type=click.IntRange(1, 500), default=default_forks, show_default=True,
              help="Hosts inspected at once.")
@click.option("--known-hosts", type=click.Path(dir_okay=False), default="~/.ssh/known_hosts",
              show_default=True, help="OpenSSH known_hosts file to check host keys against.")
@click.option("--host-key-policy", type=click.Choice(HOST_KEY_POLICIES), default="strict", show_default=True,
              help="strict: unknown hosts are refused; accept-new: record unknown hosts' keys (never replace).")
@click.option("--ssh-config", type=click.Path(dir_okay=False), default="~/.ssh/config", show_default=True,
              help="OpenSSH client config (HostName, User, Port, IdentityFile, ProxyJump).")
@click.option("-K", "--ask-become-pass", is_flag=True,
              help="Prompt for the sudo password (else ansible_become_password or $FIXER_BECOME_PASSWORD).")
@click.option("-T", "--timeout", type=click.FloatRange(0.1), default=10.0, show_default=True,
              help="SSH connect timeout in seconds.")
@click.option("--command-timeout", type=click.FloatRange(0.1), default=60.0, show_default=True,
              help="Time allowed for the read of one host's facts.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write the report to FILE (atomically) instead of stdout.")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def check(inventory: str, limit: str | None, forks: int, known_hosts: str, host_key_policy: str,
          ssh_config: str, ask_become_pass: bool, timeout: float, command_timeout: float, fmt: str,
          output: str | None, verbose: int) -> None:
    """Dry-run report: what is wrong on each message processor and router. Changes nothing.

    Exit status: 0 no error finding, 1 error findings, 2 bad usage/input, 3 a host could not be inspected.
    """
    if verbose:
        _configure_logging(verbose)
    try:
        hosts, skipped = _select_hosts(inventory, limit)
        kh = Path(os.path.expanduser(known_hosts))
        host_keys = load_known_hosts(kh, host_key_policy)
        cfg_path = Path(os.path.expanduser(ssh_config))
        config = paramiko.SSHConfig.from_path(str(cfg_path)) if cfg_path.is_file() else None
    except (FixerError, OSError) as exc:
        click.echo(f"fixer: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    if skipped:
        click.echo(f"fixer: note: {len(skipped)} host(s) without a role (not in message_processors or routers, "
                   f"no fixer_role) not inspected: {', '.join(h.name for h in skipped)}", err=True)
    if not hosts:
        click.echo("fixer: error: no message processor or router among the selected hosts", err=True)
        sys.exit(EXIT_USAGE)
    password = os.environ.get("FIXER_BECOME_PASSWORD")
    if ask_become_pass:
        password = getpass.getpass("BECOME password: ")
    options = ConnectOptions(
        known_hosts=kh, host_key_policy=host_key_policy, ssh_config=config, host_keys=host_keys,
        connect_timeout=timeout, command_timeout=command_timeout, become_password=password,
    )
    run = _run_with_progress(inventory, hosts, options, forks)
    report = _render(run, fmt, color=fmt == "text" and (output in (None, "-")) and sys.stdout.isatty())
    _write_output(report, output)
    sys.exit(run.exit_code)


def _run_with_progress(inventory: str, hosts: list[Host], options: ConnectOptions, forks: int) -> CheckRun:
    """A live progress bar on a terminal; silent when stderr is not a TTY (CI, pipes)."""
    from fixer.inspection import run_check as run

    if not sys.stderr.isatty():
        return run(inventory, hosts, options, forks)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(TextColumn("[bold]checking"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console, transient=True) as bar:
        task = bar.add_task("", total=len(hosts))

        def tick(res: HostResult) -> None:
            bar.update(task, advance=1, description=f"{res.name}: {res.status}")

        return run(inventory, hosts, options, forks, progress=tick)


if __name__ == "__main__":
    main()
