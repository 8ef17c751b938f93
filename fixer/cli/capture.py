"""`fixer capture -i INV --host HOST --peer ADDR[:PORT]`: tcpdump on a node, downloaded and explained (issue 5).

tcpdump runs on HOST over its SSH connection (with become when the inventory says so), bounded in time
(--seconds) and size (--max-mb), filtered on the peer's address and port only; with --probe fixer makes
a probe handshake from HOST to the peer while capturing. The file is downloaded (written atomically to
-o, default ./capture-HOST-TIMESTAMP.pcap), removed from the node, and analysed as `fixer pcap` does.

Exit codes: 0 every handshake captured completed (or none was captured), 1 the capture shows a failed
handshake, 2 bad usage or input (no host contacted), 3 the host could not be reached or the capture could
not run (tcpdump missing, no permission, sudo refused, the peer's name does not resolve on the node, the
file cannot be read), 4 partial result and nothing failed (as `fixer pcap`: a handshake cut by the start or
end of the capture), 130 interrupted (the node is cleaned up first).
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click

from fixer.cli.common import SSHArgs, fail_usage, ssh_options
from fixer.errors import FixerError, HostError
from fixer.inventory.loader import load_inventory
from fixer.inventory.model import Host

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_HOST = 3
EXIT_INTERRUPTED = 130


def capture_host(inventory: str, limit: str | None, name: str) -> Host:
    """The one inventory host named `name` (within --limit); FixerError otherwise."""
    inv = load_inventory(inventory)
    for host in inv.select(limit):
        if host.name == name:
            return host
    within = f" matched by --limit {limit!r}" if limit else ""
    raise FixerError(f"--host {name!r}: not a host of {inventory}{within}")


class _Ticker:
    """`capturing on HOST ... N/M s` on one terminal line (stderr), only when stderr is a terminal."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.shown = False

    def __call__(self, elapsed: float, total: float) -> None:
        sys.stderr.write(f"\r{self.what} ... {int(elapsed)}/{int(total)} s ")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.shown = False


@click.command()
@click.option("--host", "host_name", required=True, metavar="HOST", help="Inventory host to capture on.")
@click.option("--peer", required=True, metavar="ADDR[:PORT]",
              help="The other end: an IP address or a host name (resolved on HOST), port 443 by default. "
                   "The capture filter is `host <ip> and port <port>`.")
@click.option("--seconds", type=click.IntRange(1, 600), default=10, show_default=True,
              help="How long to capture (with --probe: at least until the probe is done).")
@click.option("--max-mb", type=click.IntRange(1, 2048), default=50, show_default=True,
              help="Stop tcpdump when its file reaches this size; never download more.")
@click.option("--probe", "do_probe", is_flag=True,
              help="Also make probe handshakes from HOST to the peer while capturing (as `fixer probe --from`).")
@click.option("--servername", metavar="NAME", help="SNI name the probe sends (default: the peer, when a name).")
@click.option("--interface", default="any", show_default=True, metavar="IF",
              help="Interface on HOST ([A-Za-z0-9_.:-], at most 15 characters); `any` captures all of them.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), metavar="FILE.pcap",
              help="Where to write the capture [default: ./capture-HOST-TIMESTAMP.pcap].")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True,
              help="Format of the analysis printed on stdout.")
@ssh_options(command_timeout=60.0, timeout_flags=("-T", "--timeout"))
def capture(host_name: str, peer: str, seconds: int, max_mb: int, do_probe: bool, servername: str | None,
            interface: str, output: str | None, fmt: str, inventory: str, limit: str | None, forks: int,
            ssh: SSHArgs) -> None:
    """Capture TLS traffic between HOST and a peer with tcpdump on HOST, then explain the handshakes.

    Runs `tcpdump -i IF -s 0 -U -w FILE 'host IP and port PORT'` on HOST over SSH (sudo with
    ansible_become), bounded by --seconds and --max-mb, downloads the file, removes it from HOST and
    prints what `fixer pcap` says about it.

    \b
    Exit status:
      0  every handshake captured completed (or none was captured)
      1  the capture shows a failed handshake
      2  bad input (no host contacted)
      3  HOST could not be reached, or the capture could not run (tcpdump missing, no permission, sudo)
      4  partial result, nothing failed (a handshake cut by the start or end of the capture)
    """
    from fixer.capture import MB, CaptureRunError, CaptureSpec, default_output, parse_peer, run_capture

    try:
        parsed = parse_peer(peer)
        spec = CaptureSpec(peer=parsed, interface=interface, seconds=seconds, max_bytes=max_mb * MB,
                           probe=do_probe, servername=servername or None)
    except ValueError as exc:
        fail_usage(exc)
    if output == "-":
        fail_usage("-o -: the capture is binary; give a file name")
    dest = Path(output) if output else default_output(host_name)
    if not dest.parent.is_dir():
        fail_usage(f"-o {dest}: no such directory {dest.parent}")
    try:
        host = capture_host(inventory, limit, host_name)
        from fixer.capture import tcpdump_program

        tcpdump_program(host)
    except (FixerError, OSError, ValueError) as exc:
        fail_usage(exc)
    options = ssh.connect_options()
    from fixer.transport.ssh import Session

    transport_log = logging.getLogger("paramiko.transport")
    if transport_log.getEffectiveLevel() > logging.DEBUG:  # a refused probe channel is data here, not an error
        transport_log.setLevel(logging.CRITICAL)
    ticker = _Ticker(f"capturing on {host.name} ({interface}, peer {parsed})")
    session = Session(host, options)
    try:
        session.connect()
        outcome = run_capture(session, spec, dest, ticker if sys.stderr.isatty() else None)
    except CaptureRunError as exc:
        ticker.done()
        click.echo(f"fixer: error: capture on {host_name}: {exc}", err=True)
        sys.exit(EXIT_HOST)
    except HostError as exc:
        ticker.done()
        click.echo(f"fixer: error: capture on {host_name}: {exc.category}: {exc}", err=True)
        sys.exit(EXIT_HOST)
    except (OSError, EOFError) as exc:  # the connection dropped mid-stream, or the local file could not be written
        ticker.done()
        click.echo(f"fixer: error: capture on {host_name} failed: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_HOST)
    except KeyboardInterrupt:
        ticker.done()
        click.echo(f"fixer: interrupted; the capture on {host_name} was stopped and its files removed", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        session.close()
    ticker.done()
    _summary(outcome)
    sys.exit(_report(outcome.path, fmt, parsed.port))


def _summary(outcome: object) -> None:
    from fixer.capture import CaptureOutcome

    assert isinstance(outcome, CaptureOutcome)
    stats = "; ".join(outcome.tcpdump_stats)
    link = f", {outcome.link_type}" if outcome.link_type else ""
    click.echo(f"fixer: captured {outcome.size} bytes in {outcome.seconds:g} s on {outcome.host} "
               f"({outcome.interface}{link}, filter `{outcome.filter}`{'; ' + stats if stats else ''}) "
               f"-> {outcome.path}", err=True)
    if outcome.remote_dir:
        state = "removed" if outcome.removed else "COULD NOT BE REMOVED"
        click.echo(f"fixer: {outcome.host}:{outcome.remote_dir} {state}", err=True)
    if outcome.probe is not None:
        result = outcome.probe
        accepted = [p for p, ok in result.protocols.items() if ok]
        failures = sorted({f"alert {h.failure.alert}" if h.failure.alert else h.failure.kind
                           for h in result.handshakes if h.failure is not None})
        said = f"accepted {', '.join(accepted)}" if accepted else "no handshake completed"
        click.echo(f"fixer: probe from {outcome.host} ({result.via}) to {result.target}: {said}"
                   f"{' (failures: ' + ', '.join(failures) + ')' if failures else ''}", err=True)
    if outcome.probe_error:
        click.echo(f"fixer: probe failed: {outcome.probe_error}", err=True)
    for note in outcome.notes:
        click.echo(f"fixer: note: {note}", err=True)


def _report(path: Path, fmt: str, port: int) -> int:
    """Print the `fixer pcap` analysis of `path`; its exit status (0 ok, 1 failures, 4 partial; 3 unreadable)."""
    from fixer.pcap.analyze import analyze, exit_code
    from fixer.pcap.render import render_html, render_json, render_text

    started = time.monotonic()
    try:
        analysis = analyze([str(path)], port=port)
    except Exception as exc:  # the reader's CaptureError, or anything else: never a traceback
        logging.getLogger(__name__).debug("reading %s failed", path, exc_info=True)
        click.echo(f"fixer: error: the capture {path} cannot be analysed: {type(exc).__name__}: {exc}", err=True)
        return EXIT_HOST
    if fmt == "json":
        text = render_json(analysis)
    elif fmt == "html":
        text = render_html(analysis)
    else:
        text = render_text(analysis, color=sys.stdout.isatty())
    click.echo(text, nl=False)
    logging.getLogger(__name__).debug("analysis took %.3f s", time.monotonic() - started)
    return exit_code(analysis)
