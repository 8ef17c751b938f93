"""`fixer probe TARGET...`: TLS handshakes from the control machine, or from a node with `--from` (issue 4).

With `--from HOST` every handshake is tunnelled through HOST's SSH connection (`direct-tcpip`: the node's
name resolution, routes and firewall); when HOST forbids TCP forwarding, `openssl s_client` runs on HOST.

`--ciphers` also lists, per accepted protocol, the cipher suites the server accepts (fixer.probe.suites):
through a tunnel too, not with the `openssl s_client` fallback.

Exit codes: 0 every target completed at least one handshake, 1 some target completed none, 2 bad usage,
3 the --from host could not be used (unreachable, auth, host key, the fallback script failed).
"""

from __future__ import annotations

import dataclasses
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import click

from fixer.cli.common import SSHArgs, fail_usage, ssh_options
from fixer.errors import FixerError, HostError
from fixer.inventory.loader import load_inventory
from fixer.inventory.model import Host
from fixer.probe.engine import probe as run_probe
from fixer.probe.engine import sni_name
from fixer.probe.model import ProbeResult, ProbeTarget
from fixer.probe.render import render_json, render_text
from fixer.probe.suites import scan_suites, unavailable

if TYPE_CHECKING:
    from fixer.probe.tunnel import TunnelConnector

MAX_TARGETS_AT_ONCE = 4
EXIT_HOST = 3


def parse_target(text: str, servername: str | None = None) -> ProbeTarget:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 literal; port defaults to 443."""
    raw = text.strip()
    if not raw:
        raise ValueError("empty target")
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"bad target {text!r}: expected [ADDRESS]:PORT")
        port_text = rest[1:] if rest else ""
    elif raw.count(":") == 1:
        host, _, port_text = raw.partition(":")
    else:  # a name, or a bare IPv6 address (two or more colons)
        host, port_text = raw, ""
    if not host:
        raise ValueError(f"bad target {text!r}: no host")
    port = 443
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"bad target {text!r}: port must be 1..65535")
        port = int(port_text)
    return ProbeTarget(host=host, port=port, servername=servername or None)


def vantage_host(inventory: str, limit: str | None, name: str) -> Host:
    """The one inventory host named `name` (within --limit); UsageError otherwise."""
    inv = load_inventory(inventory)
    for host in inv.select(limit):
        if host.name == name:
            return host
    within = f" matched by --limit {limit!r}" if limit else ""
    raise FixerError(f"--from {name!r}: not a host of {inventory}{within}")


NODE_OPENSSL_SUITES = "not available via node openssl (the node forbids TCP forwarding, so no tunnel to scan through)"


def _with_suites(result: ProbeResult, timeout: float, connector: TunnelConnector) -> ProbeResult:
    """`result` (from `probe_from`) with its suite scan: tunnelled like its handshakes, for its accepted protocols."""
    if result.via != "tunnel":
        return dataclasses.replace(result, suites=unavailable(NODE_OPENSSL_SUITES))
    accepted = [p for p, ok in result.protocols.items() if ok]
    scan = scan_suites(result.target, timeout, connector, protocols=accepted, servername=sni_name(result.target))
    return dataclasses.replace(result, suites=scan)


def _probe_from(host: Host, ssh: SSHArgs, targets: list[ProbeTarget], timeout: float,
                ciphers: bool = False) -> list[ProbeResult]:
    from fixer.probe.tunnel import connect_via, probe_from
    from fixer.transport.ssh import Session

    options = ssh.connect_options()
    session = Session(host, options)
    try:
        try:
            session.connect()
        except HostError as exc:
            click.echo(f"fixer: error: --from {host.name}: {exc.category}: {exc}", err=True)
            sys.exit(EXIT_HOST)
        connector = connect_via(session)
        with ThreadPoolExecutor(max_workers=min(MAX_TARGETS_AT_ONCE, len(targets))) as pool:
            def one(t: ProbeTarget) -> ProbeResult:
                result = probe_from(session, t, timeout, connector)
                return _with_suites(result, timeout, connector) if ciphers else result

            return list(pool.map(one, targets))
    except HostError as exc:
        click.echo(f"fixer: error: --from {host.name}: {exc.category}: {exc}", err=True)
        sys.exit(EXIT_HOST)
    finally:
        session.close()


@click.command()
@click.argument("targets", metavar="TARGET...", nargs=-1, required=True)
@click.option("--from", "vantage", metavar="HOST",
              help="Probe from this inventory host (needs -i): tunnelled through its SSH connection, or "
                   "`openssl s_client` run there when it forbids TCP forwarding.")
@click.option("--servername", metavar="NAME", help="SNI name to send (default: the host, when it is a name).")
@click.option("-T", "--timeout", type=click.FloatRange(min=0.1, max=300), default=5.0, show_default=True,
              help="Seconds per handshake, connect included.")
@click.option("--ciphers", is_flag=True,
              help="Also list the cipher suites accepted per protocol (IANA names, in the server's order where it has "
                   "one): N+1 handshakes per protocol for N suites, +1 to learn whose order it is. TLS 1.3 suites "
                   "are found with pyOpenSSL >= 25.2 (Python's ssl cannot restrict them), else only the negotiated "
                   "one is shown. Not available with the node-openssl fallback of --from.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@ssh_options(command_timeout=60.0, inventory_required=False, timeout_flags=("--ssh-timeout",))
def probe(targets: tuple[str, ...], vantage: str | None, servername: str | None, timeout: float, ciphers: bool,
          fmt: str, inventory: str | None, limit: str | None, forks: int, ssh: SSHArgs) -> None:
    """Probe TLS on TARGET (HOST[:PORT], default port 443) from this machine, or from a node (--from).

    Reports the protocols the server accepts (TLSv1..TLSv1.3), whether it needs SNI or shows another
    certificate without it, the certificate chains and the negotiated suite. Certificates are not verified.
    With --ciphers, also the cipher suites accepted per protocol.
    """
    try:
        parsed = [parse_target(t, servername) for t in targets]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="TARGET") from None
    if vantage is not None:
        if inventory is None:
            fail_usage("--from needs -i/--inventory")
        try:
            host = vantage_host(inventory, limit, vantage)
        except (FixerError, OSError) as exc:
            fail_usage(exc)
        results = _probe_from(host, ssh, parsed, timeout, ciphers)
    else:
        if inventory is not None:
            fail_usage("-i/--inventory is only used with --from HOST")
        with ThreadPoolExecutor(max_workers=min(MAX_TARGETS_AT_ONCE, len(parsed))) as pool:
            results = list(pool.map(lambda t: run_probe(t, timeout=timeout, ciphers=ciphers), parsed))
    click.echo(render_json(results) if fmt == "json" else render_text(results), nl=False)
    sys.exit(0 if all(r.reachable for r in results) else 1)
