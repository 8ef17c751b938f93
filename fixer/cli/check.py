"""`fixer check`: the dry-run diagnosis of a fleet.

Exit codes: 0 no error-severity finding; 1 error findings; 2 bad usage or input (nothing contacted);
3 at least one host could not be inspected.
"""

from __future__ import annotations

import functools
import sys

import click

from fixer.checks.southbound import SouthboundConfig
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
@click.option("--bundles", "bundles", multiple=True, metavar="PATH",
              help="API proxy bundles (exploded apiproxy/ trees, bundle zips, or directories of them): every "
                   "message processor probes their https TargetEndpoints. Repeatable.")
@click.option("--truststore", metavar="FILE",
              help="PEM CA bundle that anchors backend certificates (default for targets without their own "
                   "truststore; host var fixer_truststore wins).")
def check(inventory: str, limit: str | None, forks: int, ssh: SSHArgs, fmt: str, output: str | None,
          bundles: tuple[str, ...], truststore: str | None) -> None:
    """Dry-run report: what is wrong on each message processor and router. Changes nothing.

    Message processors also probe their backends from where they run (host var fixer_targets, --bundles):
    protocols, ciphers, SNI and certificates, each finding grouped per backend in the report.

    Exit status: 0 no error finding, 1 error findings, 2 bad usage/input, 3 a host could not be inspected.
    """
    try:
        hosts, skipped = select_hosts(inventory, limit)
        southbound = southbound_config(bundles, truststore)
    except FixerError as exc:
        fail_usage(exc)
    options = ssh.connect_options()
    if skipped:
        click.echo(f"fixer: note: {len(skipped)} host(s) without a role (not in message_processors or routers, "
                   f"no fixer_role) not inspected: {', '.join(h.name for h in skipped)}", err=True)
    if not hosts:
        fail_usage("no message processor or router among the selected hosts")
    run = _run_with_progress(inventory, hosts, options, forks, southbound)
    report = _render(run, fmt, color=fmt == "text" and (output in (None, "-")) and sys.stdout.isatty())
    write_output(report, output)
    sys.exit(run.exit_code)


def southbound_config(bundles: tuple[str, ...], truststore: str | None) -> SouthboundConfig:
    """The bundles' https TargetEndpoints as targets (UsageError on a bad bundle or truststore, before any
    host is contacted); TargetEndpoints that cannot be probed are listed on stderr."""
    if truststore is not None:
        from fixer.probe.targets import load_truststore

        certs, error = load_truststore(truststore)
        if certs is None:
            raise UsageError(f"--truststore {truststore}: {error}")
    if not bundles:
        return SouthboundConfig(truststore=truststore)
    from fixer.bundles.scan import scan_sources
    from fixer.checks.southbound import endpoint_targets

    specs, notes = endpoint_targets(scan_sources(bundles))  # truststore: per host (SouthboundConfig.specs_for)
    for note in notes:
        click.echo(f"fixer: note: {note}", err=True)
    if not specs:
        click.echo("fixer: note: no https TargetEndpoint with a URL in the given bundles", err=True)
    return SouthboundConfig(tuple(specs), truststore)


def _run_with_progress(inventory: str, hosts: list[Host], options: ConnectOptions, forks: int,
                       southbound: SouthboundConfig) -> CheckRun:
    """A live progress bar on a terminal; silent when stderr is not a TTY (CI, pipes)."""
    from fixer.inspection import run_check

    run = functools.partial(run_check, southbound=southbound)
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
