"""Run the fixer CLI under cProfile in every thread and write the merged stats to a file.

    python3 -m bench.profile_fixer OUT.prof -- check -i INV ...

Every thread (the main one, the worker pool and paramiko's transport threads) gets its own profiler
timed with ``time.thread_time``, so the numbers are CPU seconds of that thread, not time spent waiting
on the network. The per-call timer slows the run down; compare functions with each other, not with the
unprofiled wall time.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import threading
import time
from collections.abc import Callable

_lock = threading.Lock()
_profiles: list[cProfile.Profile] = []


def _new_profile() -> cProfile.Profile:
    prof = cProfile.Profile(time.thread_time)
    with _lock:
        _profiles.append(prof)
    return prof


def _install_thread_profiling() -> None:
    """Wrap the run() of every thread started from now on, including subclasses overriding run()."""
    original_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        inner: Callable[[], None] = self.run

        def run() -> None:
            prof = _new_profile()
            prof.enable()
            try:
                inner()
            finally:
                prof.disable()

        self.run = run  # type: ignore[method-assign]
        original_start(self)

    threading.Thread.start = start  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] != "--":
        print("usage: python3 -m bench.profile_fixer OUT.prof -- FIXER-ARGS...", file=sys.stderr)
        return 2
    out, fixer_args = argv[0], argv[2:]
    _install_thread_profiling()
    main_prof = cProfile.Profile(time.thread_time)
    code = 0
    main_prof.enable()
    try:
        from fixer.cli import main as fixer_main  # the import cost is part of every fixer run

        fixer_main.main(args=fixer_args, prog_name="fixer", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        main_prof.disable()
    stats = pstats.Stats(main_prof)
    with _lock:
        others = list(_profiles)
    for prof in others:  # threads still running (daemon threads) are cut off here
        stats.add(prof)
    stats.dump_stats(out)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
