"""Command line: `fixer check`, `apply`, `rollback`, `runs`, `probe`, `cert`, `bundles`.

Exit codes are documented per command and in the README; 2 always means bad usage or input, with no host
contacted. Subcommands are imported when invoked (the SSH stack alone costs ~80 ms to import): `fixer probe`
and `fixer cert verify` start fast.
"""

from __future__ import annotations

import importlib

import click

from fixer import __version__
from fixer.cli.common import configure_logging

# name -> (module, attribute), in the order `fixer --help` lists them
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("fixer.cli.check", "check"),
    "apply": ("fixer.cli.apply", "apply"),
    "rollback": ("fixer.cli.apply", "rollback"),
    "runs": ("fixer.cli.apply", "runs"),
    "probe": ("fixer.cli.probe", "probe"),
    "cert": ("fixer.cli.cert", "cert"),
    "bundles": ("fixer.cli.bundles", "bundles"),
    "pcap": ("fixer.cli.pcap", "pcap"),
    "capture": ("fixer.cli.capture", "capture"),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        command = getattr(importlib.import_module(spec[0]), spec[1])
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fixer")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Find and fix TLS/SSL handshake failures in Apigee Edge for Private Cloud fleets."""
    configure_logging(verbose)
