"""Ansible callback for bench/bench_apply.py: when each task and each host's part of it started and ended.

Enabled only by the bench (``callbacks_enabled = bench_timing`` in the ansible.cfg it writes); the stdout
callback stays the default one. Events are kept in memory and written once, as JSON, at the end of the
playbook to the file named by ``$BENCH_TIMING_FILE``: a list of ``[t, event, task, host]`` with ``t``
from ``time.monotonic()`` in the controller process (when Ansible's main loop saw the event).
A task starting again means a new serial batch; a host's restart + readiness is the time from the start
of its first handler to the end of its last one.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from ansible.plugins.callback import CallbackBase  # type: ignore[import-untyped]

Event = tuple[float, str, str, str | None]


def _names(result: Any) -> tuple[str, str]:
    """(task name, host name) of a task result, on ansible-core 2.15 (``_task``/``_host``) and later."""
    task = getattr(result, "task", None) or result._task
    host = getattr(result, "host", None) or result._host
    return str(task.get_name()), str(host.get_name())


class CallbackModule(CallbackBase):  # type: ignore[misc]
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._events: list[Event] = []

    def _add(self, event: str, task: str, host: str | None = None) -> None:
        self._events.append((time.monotonic(), event, task, host))

    def v2_playbook_on_task_start(self, task: Any, is_conditional: Any) -> None:
        self._add("task_start", str(task.get_name()))

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self._add("handler_start", str(task.get_name()))

    def v2_runner_on_start(self, host: Any, task: Any) -> None:
        self._add("host_start", str(task.get_name()), str(host.get_name()))

    def v2_runner_on_ok(self, result: Any) -> None:
        self._add("host_ok", *_names(result))

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._add("host_failed", *_names(result))

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._add("host_unreachable", *_names(result))

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._add("host_skipped", *_names(result))

    def v2_playbook_on_stats(self, stats: Any) -> None:
        self._add("stats", "")
        path = os.environ.get("BENCH_TIMING_FILE")
        if path:
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(self._events, fh)
