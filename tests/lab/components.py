"""Starting the Apigee stand-in components of a lab (readiness listeners, router nginx)."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from tests.lab import apigee_service as svc
from tests.lab import netns, procs
from tests.lab.scenarios import NodeSpec
from tests.lab.state import ExtraPid, LabError

if TYPE_CHECKING:
    from tests.lab.lab import Lab

SERVICE = "/opt/apigee/apigee-service/bin/apigee-service"
READY_TIMEOUT = 30.0
LOCALHOST = "127.0.0.1"


def start_components(lab: Lab, nodes: list[NodeSpec]) -> None:
    """``apigee-service <component> start`` on every MP/router, then wait until each listener listens."""

    def start(spec: NodeSpec) -> None:
        component = svc.MP if spec.kind == "mp" else svc.ROUTER
        proc = lab.node_exec(spec.name, [SERVICE, component.name, "start"])
        if proc.returncode != 0:
            raise LabError(f"{component.name} start on {spec.name} failed: {proc.stdout!s}{proc.stderr!s}")

    # Two cores: more parallel python start-ups than this only add contention. JVM listeners (~1 s to
    # compile and start) are launched first, so that they come up while the python ones start.
    with ThreadPoolExecutor(max_workers=4) as pool:
        ordered = sorted(nodes, key=lambda spec: not spec.java_process)
        for future in [pool.submit(start, spec) for spec in ordered]:
            future.result()
    listeners: dict[str, tuple[int, int, Path]] = {}  # node -> listener pid, port, listener log
    for spec in nodes:
        component = svc.MP if spec.kind == "mp" else svc.ROUTER
        label = f"{component.name} (java)" if spec.java_process else component.name
        pid_files = [(lab.node_path(spec.name, component.pid_file), label)]
        if spec.kind == "router":
            pid_files.append((lab.node_path(spec.name, svc.NGINX_PID), "nginx"))
        for pid_file, what in pid_files:
            pid = int(pid_file.read_text())
            starttime = procs.proc_starttime(pid)
            if starttime is not None:
                lab.state.extra_pids.append(ExtraPid(pid, starttime, f"{what} on {spec.name}"))
        log = lab.node_path(spec.name, svc.VAR / "log" / f"{component.name}-listener.log")
        listeners[spec.name] = (int(pid_files[0][0].read_text()), component.port, log)
    lab.state.save(lab.dir)
    # Readiness seen from the host through /proc (no exec per node): the listener answers "true"
    # as soon as it listens, unless a never-ready knob is set, which up never does. Bounded, and a
    # listener that died (say a JVM that failed to compile its source) fails at once with its log.
    deadline = time.monotonic() + READY_TIMEOUT
    while pending := [
        n for n, (pid, port, _) in listeners.items() if not netns.listening(pid, "127.0.0.1", port)
    ]:
        dead = [n for n in pending if not procs.is_alive(listeners[n][0])]
        if dead:
            first_log = _tail(listeners[dead[0]][2])
            raise LabError(f"readiness listener died on {dead}; log of {dead[0]}:\n{first_log}")
        if time.monotonic() > deadline:
            raise LabError(f"readiness listeners not up on {pending} after {READY_TIMEOUT}s")
        time.sleep(0.01)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def reload_nginx(lab: Lab, name: str) -> None:
    """Apply a hand edit the way an operator would (nginx reload), without re-rendering tokens."""
    pid_file = lab.node_path(name, svc.NGINX_PID)
    if not pid_file.exists():
        return  # components not started: nothing serves yet
    master = int(pid_file.read_text())
    inode = procs.netns_inode_of(master)
    workers = [p for p in procs.pids_in_netns({inode} if inode else set()) if procs.proc_ppid(p) == master]
    os.kill(master, signal.SIGHUP)
    # Reload is asynchronous: old workers leave once the new config is live.
    if procs.wait_dead(workers, 5.0):
        raise LabError(f"nginx on {name} did not reload")
