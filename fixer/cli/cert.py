"""`fixer cert verify`: check a certificate chain (and hostname) like `openssl verify` does.

Exit codes: 0 valid (chain, and hostname when given); 1 invalid; 2 bad usage or input.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sys

import click

from fixer.certs.load import PasswordSource, load_certificates
from fixer.certs.verify import VerifyResult, verify_chain
from fixer.cli.common import fail_usage
from fixer.errors import UsageError

EXIT_VALID = 0
EXIT_INVALID = 1


@click.group()
def cert() -> None:
    """Certificate checks on files (the same code checks the chains that probes see)."""


def _parse_at(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise UsageError(f"--at {value!r}: not an ISO 8601 date/time (e.g. 2026-01-31T12:00:00Z)") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _password(env: str | None) -> tuple[str | None, PasswordSource | None]:
    """(password, prompt): from `--password-env VAR`, else a prompt when stdin is a terminal."""
    if env is not None:
        if env not in os.environ:
            raise UsageError(f"--password-env {env}: environment variable is not set")
        return os.environ[env], None
    if sys.stdin.isatty():
        return None, lambda: getpass.getpass("PKCS#12 password: ")
    return None, None


def render_text(result: VerifyResult, leaf_name: str) -> str:
    lines = [f"{leaf_name}: {'OK' if result.valid else 'INVALID'}"]
    if result.ok:
        lines.append(f"  chain: ok ({' <- '.join(result.chain)})")
    else:
        lines.append(f"  chain: error {result.code} at depth {result.depth}: {result.message}")
        lines.append(f"  failing link: {result.failing_link}")
    if result.hostname is not None:
        lines.append(f"  hostname: {'ok' if result.hostname_ok else 'MISMATCH'}: {result.hostname_message}")
    if result.at is not None:
        lines.append(f"  verified at: {result.at}")
    if result.modern_client is not None:
        lines.append(f"  info: strict web-PKI client (cryptography) {result.modern_client}")
    return "\n".join(lines)


@cert.command("verify")
@click.argument("leaf", type=click.Path(dir_okay=False))
@click.option("--untrusted", "untrusted_files", multiple=True, type=click.Path(dir_okay=False),
              help="Intermediate certificates (PEM/DER/PKCS#12), repeatable; like openssl's -untrusted.")
@click.option("--cafile", type=click.Path(dir_okay=False), help="Trusted roots (PEM with several, DER, PKCS#12).")
@click.option("--capath", type=click.Path(file_okay=False), help="Directory of hashed trusted roots (c_rehash).")
@click.option("--hostname", help="Check the leaf against this DNS name or IP address (RFC 6125).")
@click.option("--at", "at_value", metavar="ISO8601", help="Verify as of this time instead of now.")
@click.option("--password-env", metavar="VAR", help="Environment variable holding the PKCS#12 password.")
@click.option("--modern", is_flag=True, help="Also report cryptography's strict web-PKI verifier's opinion (info).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def verify(leaf: str, untrusted_files: tuple[str, ...], cafile: str | None, capath: str | None,
           hostname: str | None, at_value: str | None, password_env: str | None, modern: bool, fmt: str) -> None:
    """Verify LEAF's chain like `openssl verify -CAfile F -untrusted I LEAF` and name the failing link.

    Extra certificates after the first one in LEAF (a fullchain file, a PKCS#12 bundle) count as untrusted.
    """
    if (cafile is None) == (capath is None):
        fail_usage("give exactly one of --cafile and --capath")
    try:
        at = _parse_at(at_value)
        password, prompt = _password(password_env)
        leaf_certs = load_certificates(leaf, password, prompt)
        untrusted = list(leaf_certs.rest)
        for f in untrusted_files:
            untrusted.extend(load_certificates(f, password, prompt).certificates)
        roots = list(load_certificates(cafile, password, prompt).certificates) if cafile is not None else None
        result = verify_chain(leaf_certs.first, untrusted, roots, capath, hostname, at, modern_opinion=modern)
    except UsageError as exc:
        fail_usage(exc)
    if fmt == "json":
        click.echo(json.dumps({"leaf": leaf, **result.to_dict()}, indent=2))
    else:
        click.echo(render_text(result, leaf))
    sys.exit(EXIT_VALID if result.valid else EXIT_INVALID)
