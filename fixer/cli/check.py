"""`fixer check`: the dry-run diagnosis of a fleet.

Exit codes: 0 no error-severity finding; 1 error findings; 2 bad usage or input (nothing contacted);
3 at least one host could not be inspected.
"""

from __future__ import annotations

import sys

import click

from fixer.cli.common import SSHArgs, fail_usage, ssh_options, write_output
from fixer.errors import FixerError, UsageError
from fixer.inventory.loader import load_inventory
from fixer.inventory.model import ROLES, Host
from fixer.result import CheckRun, HostResult
from fixer.transport.ssh import ConnectOptions


def select_hosts(inventory: str, limit: str | None) -> tuple[list[Host], list[Host]]:
    """(hosts with a role, hosts without one) among the selection."""
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


@click.command()
@ssh_options(command_timeout=60.0)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write the report to FILE (atomically) instead of stdout.")
def check(inventory: str, limit: str | None, forks: int, ssh: SSHArgs, fmt: str, output: str | None) -> None:
    """Dry-run report: what is wrong on each message processor and router. Changes nothing.

    Exit status: 0 no error finding, 1 error findings, 2 bad usage/input, 3 a host could not be inspected.
    """
    try:
        hosts, skipped = select_hosts(inventory, limit)
    except FixerError as exc:
        fail_usage(exc)
    options = ssh.connect_options()
    if skipped:
        click.echo(f"fixer: note: {len(skipped)} host(s) without a role (not in message_processors or routers, "
                   f"no fixer_role) not inspected: {', '.join(h.name for h in skipped)}", err=True)
    if not hosts:
        fail_usage("no message processor or router among the selected hosts")
    run = _run_with_progress(inventory, hosts, options, forks)
    report = _render(run, fmt, color=fmt == "text" and (output in (None, "-")) and sys.stdout.isatty())
    write_output(report, output)
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
