"""`fixer bundles scan`: list the TargetEndpoints of API proxy bundles with their URL/TargetServers and SSLInfo.

Exit codes: 0 listed (even none); 2 bad usage or input (unreadable, unsafe or malformed bundle: nothing listed).
"""

from __future__ import annotations

import json

import click

from fixer.bundles.parse import SSLInfo, TargetEndpoint
from fixer.bundles.scan import scan_paths
from fixer.cli.common import fail_usage
from fixer.errors import UsageError


@click.group()
def bundles() -> None:
    """API proxy bundles (exploded directories or zips): TargetEndpoints and their TLS settings."""


def _flag(value: bool | None) -> str:
    return "(default)" if value is None else ("true" if value else "false")


def _names(values: tuple[str, ...] | None) -> str:
    if values is None:
        return "(JVM default)"
    return " ".join(values) if values else "(empty)"


def _ssl_lines(ssl: SSLInfo) -> list[str]:
    lines = [f"  ssl: enabled {_flag(ssl.enabled)}, client auth {_flag(ssl.client_auth_enabled)}, "
             f"ignore validation errors {_flag(ssl.ignore_validation_errors)}"]
    stores = [f"{label} {value}" for label, value in (("keystore", ssl.key_store), ("key alias", ssl.key_alias),
                                                       ("truststore", ssl.trust_store)) if value]
    if stores:
        lines.append(f"  stores: {', '.join(stores)}")
    lines.append(f"  protocols: {_names(ssl.protocols)}")
    lines.append(f"  ciphers: {_names(ssl.ciphers)}")
    return lines


def render_text(endpoints: list[TargetEndpoint]) -> str:
    if not endpoints:
        return "no TargetEndpoint found"
    out: list[str] = []
    for ep in endpoints:
        where = f"{ep.file}:{ep.line}" if ep.line else ep.file
        out.append(f"{ep.name}  ({where})")
        if ep.connection != "HTTPTargetConnection":
            out.append(f"  connection: {ep.connection or 'none'} (no TLS settings)")
            continue
        if ep.url:
            out.append(f"  url: {ep.url}")
        if ep.servers:
            out.append(f"  target servers: {', '.join(ep.servers)} "
                       "(each TargetServer carries its own sSLInfo: Management API)")
        if ep.ssl is None:
            out.append("  ssl: no <SSLInfo>" + (" (https URL without SSLInfo)" if ep.tls else ""))
        else:
            out.extend(_ssl_lines(ep.ssl))
    return "\n".join(out)


@bundles.command("scan")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def scan(paths: tuple[str, ...], fmt: str) -> None:
    """List every TargetEndpoint under PATHS: exploded bundles (a directory holding apiproxy/), bundle zips, or
    directories of those. XML with a DOCTYPE or entities, and zips with unsafe member names, are refused."""
    try:
        endpoints = scan_paths(paths)
    except UsageError as exc:
        fail_usage(exc)
    if fmt == "json":
        click.echo(json.dumps({"endpoints": [ep.to_dict() for ep in endpoints]}, indent=2))
    else:
        click.echo(render_text(endpoints))
