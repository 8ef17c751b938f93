"""Process bookkeeping for the lab: identify, inspect and end processes by recorded PID.

Nothing here finds processes by name: a PID is acted on only when it was recorded by the lab together
with its start time (so a recycled PID is never hit), or when it lives inside a network namespace
the lab created itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    return raw.rpartition(")")[2].split()


def proc_state(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def proc_starttime(pid: int) -> int | None:
    fields = _stat_fields(pid)
    # starttime is field 22 of /proc/PID/stat; fields[0] here is field 3 (state).
    return int(fields[19]) if fields else None


def proc_ppid(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def is_alive(pid: int, starttime: int | None = None) -> bool:
    """Running and, if given, the same process as recorded. Zombies count as dead: PID 1 reaps late here."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return starttime is None or int(fields[19]) == starttime


def netns_inode_of(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def own_lineage() -> set[int]:
    """This process and its ancestors: never to be killed even if they joined a lab namespace."""
    lineage: set[int] = set()
    pid: int | None = os.getpid()
    while pid and pid not in lineage:
        lineage.add(pid)
        pid = proc_ppid(pid)
    return lineage


def pids_in_netns(inodes: set[int]) -> list[int]:
    if not inodes:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and netns_inode_of(int(entry)) in inodes:
            found.append(int(entry))
    return found


def wait_dead(pids: Iterable[int], timeout: float) -> list[int]:
    """Poll until every PID is gone or a zombie; return the ones still alive at the deadline."""
    pending = list(pids)
    deadline = time.monotonic() + timeout
    while True:
        pending = [p for p in pending if is_alive(p)]
        if not pending or time.monotonic() > deadline:
            return pending
        time.sleep(0.02)


def terminate(pids: Iterable[int], grace: float = 3.0) -> list[int]:
    """SIGTERM, then SIGKILL what survives the grace period. Returns PIDs that still would not die."""
    targets = sorted(set(pids))
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        for pid in targets:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        targets = wait_dead(targets, wait)
        if not targets:
            break
    return targets
