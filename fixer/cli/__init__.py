"""Command line: `fixer check`, `fixer apply`, `fixer rollback`, `fixer runs`.

Exit codes are documented per command and in the README; 2 always means bad usage or input, with no host
contacted.
"""

from __future__ import annotations

import click

from fixer import __version__
from fixer.cli.apply import apply, rollback, runs
from fixer.cli.bundles import bundles
from fixer.cli.cert import cert
from fixer.cli.check import check
from fixer.cli.common import configure_logging
from fixer.cli.probe import probe


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fixer")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Find and fix TLS/SSL handshake failures in Apigee Edge for Private Cloud fleets."""
    configure_logging(verbose)


main.add_command(check)
main.add_command(apply)
main.add_command(rollback)
main.add_command(runs)
main.add_command(probe)
main.add_command(cert)
main.add_command(bundles)
