"""``python -m tests.lab up|down|status``: the lab for demos and manual runs."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from tests.lab import netns, procs
from tests.lab.lab import Lab
from tests.lab.state import STATE_FILE, LabError


def _up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    lab = Lab.up(args.dir, bench=args.bench, components=args.components)
    print(f"lab dir:      {lab.dir}")
    print(f"inventory:    {lab.inventory}")
    print(f"known_hosts:  {lab.known_hosts}")
    print(f"ssh_config:   {lab.ssh_config}")
    print(f"key:          {lab.key_file}")
    print(f"bridge netns: {lab.bridge_netns}   (clients: ip netns exec {lab.bridge_netns} ...)")
    if lab.backends:
        print(f"backends:     {len(lab.backends)} TLS backends (https://<name>.backend.lab/), CA {lab.backend_ca}")
    print(f"nodes:        {len(lab.live_nodes)} up in {time.monotonic() - started:.2f}s")
    return 0


def _down(args: argparse.Namespace) -> int:
    if args.octet is not None:
        Lab.reap(args.octet)
        print(f"namespaces fxl{args.octet}-* and their processes are gone")
        return 0
    if args.dir is None:
        raise LabError("down needs --dir (or --octet N to recover a lab whose directory was lost)")
    if not (args.dir / STATE_FILE).exists():
        # Idempotent: a lab that made its own directory removes it on down.
        print(f"no lab state in {args.dir}: nothing to end (already down?)")
        return 0
    lab = Lab.load(args.dir)
    lab.down()
    print(f"lab in {args.dir} is down ({lab.state.timings.get('down', 0):.2f}s)")
    return 0


def _status(args: argparse.Namespace) -> int:
    lab = Lab.load(args.dir)
    st = lab.state
    print(f"status: {st.status}   subnet: 127.77.{st.octet}.0/24   dir: {lab.dir}")
    for name, node in st.nodes.items():
        if node.kind == "absent":
            state = "no node (inventory only)"
        elif node.pid is not None and procs.is_alive(node.pid, node.starttime):
            state = f"sshd pid {node.pid}"
        else:
            state = "not running"
        print(f"  {name:22} {node.ip:16} {node.kind:7} {state}")
    nginx = [x for x in st.extra_pids if x.what == "backend nginx"]
    backends_up = bool(nginx) and procs.is_alive(nginx[0].pid, nginx[0].starttime)
    for backend in lab.backends.values():
        state = "nothing listens (by design)" if backend.cert is None else (
            f"nginx pid {nginx[0].pid}" if backends_up else "not running")
        print(f"  {backend.name:22} {backend.ip:16} backend {backend.url}  {state}")
    namespaces = [n for n in st.netns if netns.netns_exists(n)]
    print(f"netns present: {len(namespaces)}/{len(st.netns)}")
    return 0 if st.status == "up" and not lab_problems(lab) else 1


def lab_problems(lab: Lab) -> list[str]:
    return [
        name
        for name, node in lab.state.nodes.items()
        if node.kind != "absent" and (node.pid is None or not procs.is_alive(node.pid, node.starttime))
    ] + [x.what for x in lab.state.extra_pids if x.what == "backend nginx" and not procs.is_alive(x.pid, x.starttime)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a lab")
    up.add_argument("--dir", type=Path, help="lab directory (default: a new temporary directory)")
    up.add_argument(
        "--bench", type=int, metavar="N", help="N healthy MPs mp001..mpNNN instead of the scenarios"
    )
    up.add_argument(
        "--components", action=argparse.BooleanOptionalAction, default=None,
        help="start the apigee components / nginx (default: yes, no with --bench)",
    )
    up.set_defaults(func=_up)
    down = sub.add_parser("down", help="end a lab from its state file")
    down.add_argument("--dir", type=Path)
    down.add_argument("--octet", type=int, help="recovery: end lab 127.77.N.0/24 whose --dir is lost")
    down.set_defaults(func=_down)
    status = sub.add_parser("status", help="show what a lab runs")
    status.add_argument("--dir", type=Path, required=True)
    status.set_defaults(func=_status)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        code: int = args.func(args)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return code
