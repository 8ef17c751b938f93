"""`fixer apply`, `fixer rollback` and `fixer runs`.

Exit codes (apply and rollback): 0 done or nothing to do; 1 a host failed (its batch was restored) or
was refused; 2 bad usage or input (nothing contacted); 3 a host could not be reached or planned.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from fixer.cli.common import SSHArgs, fail_usage, ssh_options, write_output
from fixer.errors import FixerError, UsageError


def _extra_vars(pairs: tuple[str, ...]) -> dict[str, Any]:
    """`-e key=value` (repeatable), like Ansible's key=value form; values stay strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-e {pair!r}: expected key=value")
        out[key.strip()] = value
    return out


def _journal(path: str | None) -> Any:
    from fixer.journal import Journal

    return Journal.open(Path(path).expanduser() if path else None)


def _notify(verbose_progress: bool) -> Any:
    if not verbose_progress:
        return None

    def say(host: str, message: str) -> None:
        click.echo(f"  {host}: {message}" if host != "*" else message, err=True)

    return say


def _finish(run: Callable[[], Any], journal: Any, fmt: str, output: str | None) -> NoReturn:
    """Run, close the journal whatever happens, print the report and the run id, exit with the run's code."""
    from fixer.apply.report import render_json, render_text

    try:
        report = run()
    except UsageError as exc:
        fail_usage(exc)
    finally:
        if journal is not None:
            journal.close()
    write_output(render_json(report) if fmt == "json" else render_text(report), output)
    if report.run_id:
        click.echo(f"fixer: run id {report.run_id}", err=True)
    sys.exit(report.exit_code)


journal_option = click.option(
    "--journal", "journal_path", type=click.Path(dir_okay=False), envvar="FIXER_JOURNAL",
    help="SQLite journal of runs [env FIXER_JOURNAL; default ~/.local/state/fixer/journal.sqlite3].",
)
format_option = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                             show_default=True)
output_option = click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
                             help="Write the report to FILE (atomically) instead of stdout.")


@click.command()
@click.argument("playbook")
@ssh_options(command_timeout=600.0)
@click.option("-C", "--check", "check_mode", is_flag=True,
              help="Dry run: read the hosts, print the diffs, change nothing anywhere (not even the journal).")
@click.option("--serial", help="Override every play's serial, e.g. '1,25%,100%'.")
@click.option("-e", "--extra-vars", "extra", multiple=True, help="key=value, highest precedence (repeatable).")
@journal_option
@format_option
@output_option
def apply(playbook: str, inventory: str, limit: str | None, forks: int, ssh: SSHArgs, check_mode: bool,
          serial: str | None, extra: tuple[str, ...], journal_path: str | None, fmt: str,
          output: str | None) -> None:
    """Apply PLAYBOOK (a file, or a shipped name like `enable-sni`): plan every host, then roll out batch by
    batch with readiness gates.

    A failed host restores every changed host of its batch; the run stops unless max_fail_percentage allows
    going on. Every change is journaled before it is made: `fixer rollback RUN_ID` undoes a run exactly.
    """
    from fixer.apply.batches import parse_serial_option
    from fixer.apply.command import RunSettings, apply_playbook
    from fixer.inventory.loader import load_inventory
    from fixer.playbook import find_playbook, load_playbook

    try:
        book = load_playbook(find_playbook(playbook))
        inv = load_inventory(inventory)
        if limit is not None:
            inv.select(limit)  # a limit matching nothing is bad input: exit 2 before any contact
        settings_serial = parse_serial_option(serial) if serial else None
        extra_vars = _extra_vars(extra)
        journal = None if check_mode else _journal(journal_path)
    except (FixerError, OSError) as exc:
        fail_usage(exc)
    settings = RunSettings(ssh.connect_options(), forks, settings_serial, extra_vars, check_mode,
                           notify=_notify(sys.stderr.isatty() and not check_mode))
    _finish(lambda: apply_playbook(book, inv, limit, settings, journal, sys.argv), journal, fmt, output)


@click.command()
@click.argument("run_id")
@ssh_options(command_timeout=600.0)
@click.option("-C", "--check", "check_mode", is_flag=True, help="Show what would be restored; change nothing.")
@click.option("--force", is_flag=True, help="Restore files even where they changed since the run wrote them.")
@click.option("--serial", help="Batches, e.g. '1,100%' (default: all hosts at once).")
@journal_option
@format_option
@output_option
def rollback(run_id: str, inventory: str, limit: str | None, forks: int, ssh: SSHArgs, check_mode: bool,
             force: bool, serial: str | None, journal_path: str | None, fmt: str, output: str | None) -> None:
    """Undo RUN_ID: every file back to its exact bytes, owner and mode; services restarted and ready.

    A host whose files changed since the run wrote them is refused (with a three-way view) unless --force.
    A rollback is a run itself, and can be rolled back.
    """
    from fixer.apply.batches import parse_serial_option
    from fixer.apply.command import RunSettings, rollback_run
    from fixer.inventory.loader import load_inventory

    try:
        inv = load_inventory(inventory)
        if limit is not None:
            inv.select(limit)
        settings_serial = parse_serial_option(serial) if serial else None
        journal = _journal(journal_path)
        source = journal.run(run_id).id
    except (FixerError, OSError) as exc:
        fail_usage(exc)
    settings = RunSettings(ssh.connect_options(), forks, settings_serial, {}, check_mode, force,
                           notify=_notify(sys.stderr.isatty() and not check_mode))
    _finish(lambda: rollback_run(source, inv, limit, settings, journal, sys.argv), journal, fmt, output)


@click.group(invoke_without_command=True)
@journal_option
@format_option
@click.pass_context
def runs(ctx: click.Context, journal_path: str | None, fmt: str) -> None:
    """List runs of the journal (newest first); `fixer runs show RUN_ID` details one."""
    ctx.obj = (journal_path, fmt)
    if ctx.invoked_subcommand is not None:
        return
    import json

    from fixer.journal import render_runs_table, runs_to_list

    try:
        journal = _journal(journal_path)
    except (FixerError, OSError) as exc:
        fail_usage(exc)
    with journal:
        records = journal.runs()
        click.echo(json.dumps(runs_to_list(records), indent=2) if fmt == "json" else render_runs_table(records))


@runs.command("show")
@click.argument("run_id")
@journal_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default=None)
@click.pass_context
def runs_show(ctx: click.Context, run_id: str, journal_path: str | None, fmt: str | None) -> None:
    """Everything the journal knows of RUN_ID (a unique prefix is enough)."""
    import json

    from fixer.journal import render_run_detail, run_to_dict

    # options work before or after `show`, as users type them
    group_journal, group_fmt = ctx.obj
    journal_path = journal_path or group_journal
    fmt = fmt or group_fmt
    try:
        journal = _journal(journal_path)
        with journal:
            exact = journal.run(run_id).id
            text = json.dumps(run_to_dict(journal, exact), indent=2) if fmt == "json" else render_run_detail(
                journal, exact)
    except (FixerError, OSError) as exc:
        fail_usage(exc)
    click.echo(text)
