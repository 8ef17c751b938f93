"""Controller cost of one child process tree: wall time and CPU (user + system), lingering helpers included.

CPU comes from ``getrusage(RUSAGE_CHILDREN)`` deltas around each run: it holds every descendant that was
waited for (ansible-playbook's forks and their ssh clients, fixer's single process). OpenSSH's
ControlPersist masters are not waited for: they detach and outlive the run. While a ``Meter`` is open
this process is a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``), so those orphans become our
children; their CPU so far is read from ``/proc/PID/stat`` after each run and charged to it, and
``reap()`` ends them (by PID, SIGTERM) and waits for them outside any measured window.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

PR_SET_CHILD_SUBREAPER = 36
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measured:
    wall_s: float
    cpu_s: float  # waited descendants + lingering helpers (e.g. ssh ControlPersist masters)
    lingering_cpu_s: float  # the part of cpu_s from helpers still alive after the run
    proc: subprocess.CompletedProcess[str]


def _set_subreaper(on: bool) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(err)}")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may contain spaces and parentheses: split after its closing parenthesis
    return raw[raw.rindex(")") + 2:].split()


def own_children() -> dict[int, float]:
    """Direct children of this process (zombies included) -> their own CPU seconds so far."""
    me = os.getpid()
    found: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        # after the comm: [0] state, [1] ppid, ..., [11] utime, [12] stime (fields 14 and 15 of stat)
        if fields is None or len(fields) < 13 or int(fields[1]) != me:
            continue
        found[int(entry)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return found


class Meter:
    """Measures runs; children that existed before it opened (e.g. the lab's sshd nodes) are ignored."""

    def __init__(self) -> None:
        self._ignored: set[int] = set()
        self._charged: dict[int, float] = {}  # lingering child -> CPU already charged to some run

    def __enter__(self) -> Meter:
        self._ignored = set(own_children())
        _set_subreaper(True)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.reap()
        finally:
            _set_subreaper(False)

    def _lingering(self) -> dict[int, float]:
        return {pid: cpu for pid, cpu in own_children().items() if pid not in self._ignored}

    def run(self, start: Callable[[], subprocess.CompletedProcess[str]]) -> Measured:
        """Time ``start()`` (which runs one tool to completion) and charge it its whole process tree."""
        cpu0 = _children_cpu()
        t0 = time.perf_counter()
        proc = start()
        wall = time.perf_counter() - t0
        cpu = _children_cpu() - cpu0
        lingering = 0.0
        for pid, total in self._lingering().items():
            lingering += total - self._charged.get(pid, 0.0)
            self._charged[pid] = total
        return Measured(wall, cpu + lingering, lingering, proc)

    def reap(self, timeout: float = 10.0) -> int:
        """End the lingering helpers (by PID) and wait for them; returns how many there were."""
        pids = list(self._lingering())
        for pid in pids:
            fields = _stat_fields(pid)
            if fields is not None and fields[0] != "Z":
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for pid in pids:
            try:
                while not os.waitpid(pid, os.WNOHANG)[0]:
                    if time.monotonic() > deadline:
                        os.kill(pid, signal.SIGKILL)
                        os.waitpid(pid, 0)
                        break
                    time.sleep(0.02)
            except ChildProcessError:
                pass  # already waited for
            self._charged.pop(pid, None)
        return len(pids)
