"""Network namespace helpers: joining a lab namespace in-process and driving ``ip``.

Every address the lab uses lies in 127.0.0.0/8 (see reference/lab.md): a client started by mistake
outside the lab's namespaces then reaches at worst this machine's own loopback, never the network.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import subprocess
from pathlib import Path

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
LAB_NAME_RE = re.compile(r"^fxl(\d+)-")
FIRST_OCTET, SECOND_OCTET = 127, 77


class NetnsError(RuntimeError):
    pass


def enter_netns(name: str) -> None:
    """Move the calling thread into the named network namespace (Python 3.11 has no ``os.setns``).

    Namespaces are per thread: call this from the main thread before starting other threads, so that
    they inherit it, or from a dedicated worker thread that then opens its own sockets.
    """
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    fd = os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def run_ip(args: list[str], *, stdin: str | None = None, timeout: float = 30.0) -> None:
    proc = subprocess.run(
        ["ip", *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)} failed: {proc.stderr.strip()}")


def ip_batch(lines: list[str], *, netns: str | None = None, force: bool = False) -> None:
    """One ``ip -batch`` for many commands: one exec instead of one per veth keeps 50 nodes fast."""
    if not lines:
        return
    args = (["-n", netns] if netns else []) + (["-force"] if force else []) + ["-batch", "-"]
    run_ip(args, stdin="\n".join(lines) + "\n", timeout=60.0)


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def netns_inode(name: str) -> int | None:
    try:
        return os.stat(NETNS_DIR / name).st_ino
    except OSError:
        return None


def list_netns() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def _octets_in_use() -> set[int]:
    """Third octets already used by a lab (ours by name, anyone else's by its 127.77.X addresses)."""
    used: set[int] = set()
    pattern = re.compile(rf"inet {FIRST_OCTET}\.{SECOND_OCTET}\.(\d+)\.")
    for name in list_netns():
        match = LAB_NAME_RE.match(name)
        if match:
            used.add(int(match.group(1)))
            continue
        proc = subprocess.run(
            ["ip", "-n", name, "-4", "-o", "addr", "show"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        used.update(int(m) for m in pattern.findall(proc.stdout))
    return used


def claim_octet() -> int:
    """Pick a free third octet X and claim it by creating the bridge namespace ``fxlX-br``.

    ``ip netns add`` fails when the name exists, so two labs starting at once cannot both win the
    same X: the loser simply tries the next one.
    """
    used = _octets_in_use()
    for octet in range(1, 254):
        if octet in used:
            continue
        proc = subprocess.run(
            ["ip", "netns", "add", bridge_netns_name(octet)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if proc.returncode == 0:
            return octet
        if "File exists" not in proc.stderr:
            raise NetnsError(f"ip netns add failed: {proc.stderr.strip()}")
    raise NetnsError("no free 127.77.X.0/24 lab subnet left")


def prefix_for(octet: int) -> str:
    return f"fxl{octet}"


def bridge_netns_name(octet: int) -> str:
    return f"{prefix_for(octet)}-br"


def node_netns_name(octet: int, host: int) -> str:
    return f"{prefix_for(octet)}-{host}"


def backend_netns_name(octet: int) -> str:
    """The namespace of the lab's TLS backends (tests/lab/backends.py)."""
    return f"{prefix_for(octet)}-be"


def lab_ip(octet: int, host: int) -> str:
    return f"{FIRST_OCTET}.{SECOND_OCTET}.{octet}.{host}"


def listening(pid: int, ip: str, port: int) -> bool:
    """Whether ``ip:port`` listens in the network namespace of ``pid``, read from /proc (no exec).

    /proc/PID/net/tcp shows the sockets of that process's namespace, so the host can watch sshd come
    up inside a node without entering it.
    """
    a, b, c, d = (int(x) for x in ip.split("."))
    want = f"{d:02X}{c:02X}{b:02X}{a:02X}:{port:04X}"
    try:
        lines = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(f[1] == want and f[3] == "0A" for f in (line.split() for line in lines))
