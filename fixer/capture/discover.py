"""The preflight, the first exec on the node (`Session.run_script`, with become when the inventory says
so): where tcpdump (host var `fixer_tcpdump`, default `tcpdump` looked up in PATH plus the sbin directories)
and `timeout` are, the uid, and the peer's addresses when given by name (`getent ahosts`, IP literals only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fixer.capture.script import preflight_script
from fixer.capture.validate import PROGRAM_RE, TCPDUMP_VAR, CaptureSpec, ip_literal, tcpdump_program
from fixer.errors import CaptureRunError

if TYPE_CHECKING:
    from fixer.transport.ssh import Session


@dataclass(frozen=True)
class Preflight:
    tcpdump: str
    timeout: str
    uid: int
    addresses: tuple[str, ...]


def parse_preflight(text: str) -> tuple[str, str, int | None, tuple[str, ...]]:
    values: dict[str, str] = {}
    addresses: list[str] = []
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key == "addr":
            ip = ip_literal(value.strip())
            if ip is not None and ip not in addresses:
                addresses.append(ip)
        else:
            values.setdefault(key, value.strip())
    uid_text = values.get("uid", "")
    return (values.get("tcpdump", ""), values.get("timeout", ""), int(uid_text) if uid_text.isdigit() else None,
            tuple(addresses))


def preflight(session: Session, spec: CaptureSpec, become: bool) -> Preflight:
    host = session.host
    program = tcpdump_program(host)
    result = session.run_script(preflight_script(program, None if spec.peer.is_ip else spec.peer.host), become)
    tcpdump, timeout_bin, uid, addresses = parse_preflight(result.stdout.decode("utf-8", errors="replace"))
    if uid is None:
        detail = result.stderr.decode("utf-8", errors="replace").strip()
        raise CaptureRunError(f"{host.name}: the preflight script failed (exit {result.exit_status}): {detail}",
                           "protocol")
    if not tcpdump or PROGRAM_RE.fullmatch(tcpdump) is None:
        where = f"{program} is not an executable file" if "/" in program else f"no {program} in PATH"
        raise CaptureRunError(
            f"{host.name}: tcpdump not found ({where}, also looked in /usr/sbin, /sbin, /usr/local/sbin): install "
            f"it on the node (e.g. `apt-get install tcpdump`, `yum install tcpdump`) or set host var "
            f"{TCPDUMP_VAR} to its path", "no-tcpdump")
    if not timeout_bin or PROGRAM_RE.fullmatch(timeout_bin) is None:
        raise CaptureRunError(f"{host.name}: no `timeout` command (coreutils) on the node: the capture could not "
                           "be bounded", "no-timeout")
    if not spec.peer.is_ip and not addresses:
        raise CaptureRunError(f"{host.name}: cannot resolve {spec.peer.host} on the node (getent ahosts found no "
                           "address): give the peer as an IP address", "resolve")
    return Preflight(tcpdump, timeout_bin, uid, addresses if not spec.peer.is_ip else (spec.peer.host,))
