"""`fixer probe TARGET...`: TLS handshakes from the control machine (issue 4, item 1).

Exit codes: 0 every target completed at least one handshake, 1 some target completed none, 2 bad usage.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import click

from fixer.probe.engine import probe as run_probe
from fixer.probe.model import ProbeResult, ProbeTarget
from fixer.probe.render import render_json, render_text

MAX_TARGETS_AT_ONCE = 4


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


@click.command()
@click.argument("targets", metavar="TARGET...", nargs=-1, required=True)
@click.option("--servername", metavar="NAME", help="SNI name to send (default: the host, when it is a name).")
@click.option("-T", "--timeout", type=click.FloatRange(min=0.1, max=300), default=5.0, show_default=True,
              help="Seconds per handshake, connect included.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def probe(targets: tuple[str, ...], servername: str | None, timeout: float, fmt: str) -> None:
    """Probe TLS on TARGET (HOST[:PORT], default port 443) from this machine.

    Reports the protocols the server accepts (TLSv1..TLSv1.3), whether it needs SNI or shows another
    certificate without it, the certificate chains and the negotiated suite. Certificates are not verified.
    """
    try:
        parsed = [parse_target(t, servername) for t in targets]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="TARGET") from None
    with ThreadPoolExecutor(max_workers=min(MAX_TARGETS_AT_ONCE, len(parsed))) as pool:
        results: list[ProbeResult] = list(pool.map(lambda t: run_probe(t, timeout=timeout), parsed))
    click.echo(render_json(results) if fmt == "json" else render_text(results), nl=False)
    sys.exit(0 if all(r.reachable for r in results) else 1)
