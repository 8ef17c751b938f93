"""Benchmark: a rolling `fixer apply` of enable-sni against an equivalent, fairly tuned `ansible-playbook`.

    python3 -m bench.bench_apply --nodes 20 --repeat 2 --serial 5 --forks 10

A lab of N message processors comes up with their readiness listeners running (tests.lab, root needed).
Before every run each MP is put in the same broken state: its customer file without the SNI token, its
generated system.properties rendered from that file. So every run changes every MP and restarts it
once, in batches of --serial. Each repeat runs both tools, alternating which goes first:

- fixer: `fixer apply playbooks/enable-sni.yml --serial S -f F --journal J --format json`
- ansible: `ansible-playbook bench/ansible/enable-sni.yml` (lineinfile + file, a handler that restarts
  and waits for port 8082 and GET /v1/servers/self/up = true, serial S, forks F, pipelining,
  ControlPersist with a fresh ControlPath directory per run).

Measured per run: wall time and controller CPU of the tool's whole process tree (bench/procmeter.py);
per batch its wall time and the longest restart + readiness of its hosts, fixer's from its journal
(`fixer runs show RUN_ID --format json`: hosts' added/finished and services' started/finished times),
Ansible's from a small timing callback (bench/ansible/callback_plugins/bench_timing.py). A batch's
overhead is its wall time minus the longest restart + readiness among its hosts. Every run must have
changed and restarted every MP exactly once and left `jsse.enableSNIExtension=true` in its generated
system.properties, else the benchmark stops with an error. No timing is asserted; the targets are
reported as met or not met. Results: a table, and bench/results/apply-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.bench_check import (
    REPO,
    BenchError,
    _failure,
    _versions,
    ansible_playbook,
    inventory_hosts,
    lab_unavailable,
    verify_ansible,
    write_ansible_cfg,
    write_results,
)
from bench.procmeter import Measured, Meter

if TYPE_CHECKING:
    from tests.lab import Lab

BENCH_DIR = REPO / "bench"
FIXER_PLAYBOOK = REPO / "playbooks" / "enable-sni.yml"
ANSIBLE_PLAYBOOK = BENCH_DIR / "ansible" / "enable-sni.yml"
CALLBACK_DIR = BENCH_DIR / "ansible" / "callback_plugins"
RESULTS_DIR = BENCH_DIR / "results"

FIXER = "fixer"
ANSIBLE = "ansible"
TOOLS = (FIXER, ANSIBLE)

CUSTOMER_FILE = "/opt/apigee/customer/application/message-processor.properties"
GENERATED_FILE = "/opt/apigee/edge-message-processor/conf/system.properties"
DEFAULTS_FILE = "/opt/apigee/edge-message-processor/token/default.properties"
SERVICE_LOG = "/opt/apigee/var/log/apigee-service.log"
COMPONENT = "edge-message-processor"
SNI_TOKEN = "conf_system_jsse.enableSNIExtension=true"
SNI_GENERATED = "jsse.enableSNIExtension=true"

# the Ansible playbook's first task (a new batch starts when it starts again) and its handlers, in order
ANSIBLE_FIRST_TASK = "set conf_system_jsse.enableSNIExtension=true in message-processor.properties"
ANSIBLE_RESTART = "restart edge-message-processor"
ANSIBLE_READY = "wait until /v1/servers/self/up answers true"

TARGET_OVERHEAD_S = 0.5
RUN_TIMEOUT_S = 1800.0
TIMES = "\N{MULTIPLICATION SIGN}"


@dataclass(frozen=True)
class Batch:
    number: int
    hosts: list[str]
    wall_s: float
    restart_ready_max_s: float  # the longest restart + readiness among the batch's hosts
    overhead_s: float  # wall_s - restart_ready_max_s


@dataclass(frozen=True)
class RunRecord:
    tool: str
    repeat: int
    wall_s: float
    cpu_s: float
    lingering_cpu_s: float
    exit_code: int
    batches: list[Batch]
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Summary:
    tool: str
    runs: int
    wall_best_s: float
    wall_median_s: float
    batch_wall_median_s: float
    restart_ready_median_s: float
    overhead_median_s: float
    overhead_max_s: float
    cpu_median_s: float


def _seconds(start: str, end: str) -> float:
    """Seconds between two journal timestamps (ISO 8601 UTC, microseconds, Z)."""
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    return (datetime.strptime(end, fmt) - datetime.strptime(start, fmt)).total_seconds()


def _batch(number: int, hosts: list[str], wall_s: float, restart_ready: dict[str, float]) -> Batch:
    longest = max(restart_ready[h] for h in hosts)
    return Batch(number, hosts, round(wall_s, 4), round(longest, 4), round(wall_s - longest, 4))


def expected_batches(hosts: Sequence[str], serial: int) -> int:
    return math.ceil(len(hosts) / serial)


# --- the lab: broken starting state, post-conditions ------------------------------------------------

@dataclass(frozen=True)
class BrokenState:
    """Per host: the customer file without the SNI token, and the system.properties a restart renders from it."""
    customer: dict[str, bytes]
    generated: dict[str, bytes]
    uid: int
    gid: int


def broken_state(lab: Lab, hosts: Sequence[str]) -> BrokenState:
    """Derived once from the lab as built (every bench MP starts healthy, with the SNI token)."""
    from tests.lab import apigee_service as svc

    customer: dict[str, bytes] = {}
    generated: dict[str, bytes] = {}
    for host in hosts:
        text = lab.node_path(host, CUSTOMER_FILE).read_text()
        if SNI_TOKEN not in text.splitlines():
            raise BenchError(f"{host}: the bench lab's customer file has no {SNI_TOKEN!r}; the lab changed?")
        broken = "".join(line for line in text.splitlines(keepends=True) if "enableSNIExtension" not in line)
        defaults = svc.parse_properties(lab.node_path(host, DEFAULTS_FILE).read_text())
        rendered = svc.render_system_properties(defaults, svc.parse_properties(broken))
        if SNI_GENERATED in rendered.splitlines():
            raise BenchError(f"{host}: the broken system.properties still enables SNI (defaults changed?)")
        customer[host], generated[host] = broken.encode(), rendered.encode()
    users = lab.state.users
    return BrokenState(customer, generated, users["apigee_uid"], users["apigee_gid"])


def reset(lab: Lab, state: BrokenState) -> None:
    """Every MP back to the broken state (not timed): files rewritten in place, apigee:apigee 0644."""
    for host, data in state.customer.items():
        path = lab.node_path(host, CUSTOMER_FILE)
        path.write_bytes(data)
        os.chown(path, state.uid, state.gid)
        path.chmod(0o644)
        lab.node_path(host, GENERATED_FILE).write_bytes(state.generated[host])
        lock = lab.node_path(host, "/opt/apigee/var/run/fixer.lock")
        if lock.exists():
            raise BenchError(f"{host}: fixer's lock {lock} is still there after a run")


def restart_counts(lab: Lab, hosts: Sequence[str]) -> dict[str, int]:
    """Successful `apigee-service edge-message-processor restart` runs so far, from each node's service log."""
    counts: dict[str, int] = {}
    for host in hosts:
        path = lab.node_path(host, SERVICE_LOG)
        lines = path.read_text().splitlines() if path.exists() else []
        counts[host] = sum(1 for line in lines if line.split()[1:] == [COMPONENT, "restart", "ok"])
    return counts


def check_fixed(lab: Lab, hosts: Sequence[str], restarts_before: dict[str, int], tool: str) -> None:
    """Every MP fixed by this run: token set, apigee:apigee 0644, restarted exactly once, generated file has SNI."""
    restarts = restart_counts(lab, hosts)
    problems: list[str] = []
    for host in hosts:
        path = lab.node_path(host, CUSTOMER_FILE)
        st = path.stat()
        lines = path.read_text().splitlines()
        if lines.count(SNI_TOKEN) != 1:
            problems.append(f"{host}: customer file holds {lines.count(SNI_TOKEN)} times {SNI_TOKEN!r}")
        if (st.st_uid, st.st_gid, st.st_mode & 0o7777) != (lab.state.users["apigee_uid"],
                                                          lab.state.users["apigee_gid"], 0o644):
            problems.append(f"{host}: customer file is uid {st.st_uid} gid {st.st_gid} mode {st.st_mode & 0o7777:o}")
        if SNI_GENERATED not in lab.node_path(host, GENERATED_FILE).read_text().splitlines():
            problems.append(f"{host}: generated system.properties lacks {SNI_GENERATED}")
        if restarts[host] != restarts_before[host] + 1:
            problems.append(f"{host}: {restarts[host] - restarts_before[host]} restarts instead of 1")
    if problems:
        raise BenchError(f"{tool} did not fix every MP exactly once: " + "; ".join(problems[:10])
                         + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""))


# --- fixer -------------------------------------------------------------------------------------------

def fixer_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "fixer.cli", *args]


def verify_fixer_report(proc: subprocess.CompletedProcess[str], output: Path, hosts: list[str],
                        serial: int) -> dict[str, Any]:
    """Exit 0; every host `ok` with a change and one restart; batches of `serial` hosts. Returns the run id."""
    if proc.returncode != 0:
        raise _failure("fixer apply", proc, "exit code is not 0")
    try:
        report = json.loads(output.read_text())
    except (OSError, ValueError) as exc:
        raise _failure("fixer apply", proc, f"no readable JSON report at {output}: {exc}") from exc
    if len(report["plays"]) != 1 or not report.get("run_id"):
        raise _failure("fixer apply", proc, "expected one play and a run id in the report")
    play = report["plays"][0]
    seen = {h["name"]: h for h in play["hosts"]}
    if sorted(seen) != hosts:
        raise _failure("fixer apply", proc, f"report hosts differ from the lab: {sorted(set(seen) ^ set(hosts))}")
    bad = {name: (h["status"], h["message"], len(h["changes"]), [s["action"] for s in h["services"]])
           for name, h in seen.items()
           if h["status"] != "ok" or not h["changes"] or [s["action"] for s in h["services"]] != ["restart"]}
    if bad:
        raise _failure("fixer apply", proc, f"{len(bad)} host(s) not changed and restarted once: {bad}")
    sizes = [len(b) for b in play["batches"]]
    if len(sizes) != expected_batches(hosts, serial) or any(n != serial for n in sizes[:-1]):
        raise _failure("fixer apply", proc, f"batches of {sizes} hosts, expected serial {serial}")
    return {"run_id": report["run_id"], "batch_sizes": sizes}


def fixer_batches(journal: Path, run_id: str, hosts: list[str]) -> tuple[list[Batch], dict[str, Any]]:
    """Per batch: wall (first host added .. last host finished) and restart + readiness, from the journal."""
    proc = subprocess.run(fixer_cli("runs", "--journal", str(journal), "--format", "json", "show", run_id),
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise _failure("fixer runs show", proc, "could not read the run from the journal")
    doc = json.loads(proc.stdout)
    if doc["run"]["status"] != "ok":
        raise _failure("fixer runs show", proc, f"run {run_id} is {doc['run']['status']!r} in the journal")
    services: dict[str, list[dict[str, Any]]] = {}
    for s in doc["services"]:
        services.setdefault(s["host"], []).append(s)
    odd = {h: [(s["action"], s["outcome"]) for s in services.get(h, [])] for h in hosts
           if [(s["action"], s["outcome"]) for s in services.get(h, [])] != [("restart", "ok")]}
    if odd:
        raise BenchError(f"journal of {run_id}: hosts without exactly one successful restart: {odd}")
    restart_ready = {h: _seconds(services[h][0]["started_at"], services[h][0]["finished_at"]) for h in hosts}
    by_batch: dict[int, list[dict[str, Any]]] = {}
    for h in doc["hosts"]:
        by_batch.setdefault(int(h["batch"]), []).append(h)
    done_at = {e["host"]: e["at"] for e in doc["events"]
               if e["kind"] == "progress" and e["host"] and e["message"].startswith("ok:")}
    batches = []
    # Where a batch's overhead goes, for whoever tunes fixer. The end of a host's work is its last progress
    # event ("ok: ..."); if fixer's progress messages change, that part is left out (None).
    where: list[dict[str, float | None]] = []
    for number in sorted(by_batch):
        rows = by_batch[number]
        start, end = min(r["added_at"] for r in rows), max(r["finished_at"] for r in rows)
        batches.append(_batch(number, sorted(r["host"] for r in rows), _seconds(start, end), restart_ready))
        names = [r["host"] for r in rows]
        after = [_seconds(services[h][0]["finished_at"], done_at[h]) for h in names if h in done_at]
        complete = len(after) == len(names)
        where.append({
            # connect, sudo, lock, re-read, journal backup, write: batch start .. a host's restart begins
            "before_restart_max_s": round(max(_seconds(start, services[h][0]["started_at"]) for h in names), 4),
            # verify and unlock: a host's restart + readiness done .. that host done
            "after_restart_max_s": round(max(after), 4) if complete else None,
            # last host done .. batch recorded as finished (pool shutdown, journal)
            "closing_s": round(_seconds(max(done_at[h] for h in names), end), 4) if complete else None,
        })
    run = doc["run"]
    first_added = min(h["added_at"] for h in doc["hosts"])
    last_finished = max(h["finished_at"] for h in doc["hosts"])
    phases = {
        "journal_run_s": run["duration_s"],
        "before_first_batch_s": round(_seconds(run["started_at"], first_added), 4),  # planning: every host read
        "after_last_batch_s": round(_seconds(last_finished, run["finished_at"]), 4),
        "batch_phases": where,
    }
    return batches, phases


def run_fixer(lab: Lab, meter: Meter, hosts: list[str], serial: int, forks: int, journal: Path,
              work: Path) -> tuple[Measured, list[Batch], dict[str, Any]]:
    output = work / "fixer-apply.json"
    output.unlink(missing_ok=True)
    argv = fixer_cli(
        "apply", str(FIXER_PLAYBOOK), "-i", str(lab.inventory), "--known-hosts", str(lab.known_hosts),
        "--ssh-config", "/dev/null", "--serial", str(serial), "-f", str(forks), "--journal", str(journal),
        "--format", "json", "-o", str(output),
    )
    measured = meter.run(lambda: lab.run(
        argv, cwd=str(REPO), capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    ))
    detail = verify_fixer_report(measured.proc, output, hosts, serial)
    batches, phases = fixer_batches(journal, detail["run_id"], hosts)
    return measured, batches, {**detail, **phases}


# --- Ansible -----------------------------------------------------------------------------------------

def ansible_batches(timing: Path, hosts: list[str], serial: int) -> tuple[list[Batch], dict[str, Any]]:
    """Per batch (the first task starting again): wall (first task start .. last host result) and, per host,
    restart + readiness = start of the restart handler .. end of the readiness handler (both by the callback)."""
    try:
        events: list[list[Any]] = json.loads(timing.read_text())
    except (OSError, ValueError) as exc:
        raise BenchError(f"no timing from the bench_timing callback at {timing}: {exc}") from exc
    groups: list[list[list[Any]]] = []
    for event in events:
        t, kind, task, _host = event
        if kind == "task_start" and task == ANSIBLE_FIRST_TASK:
            groups.append([])
        if groups and kind != "stats":
            groups[-1].append(event)
    restart_start: dict[str, float] = {}
    ready_end: dict[str, float] = {}
    for t, kind, task, host in events:
        if kind == "host_start" and task == ANSIBLE_RESTART:
            if host in restart_start:
                raise BenchError(f"ansible restarted {host} more than once")
            restart_start[host] = t
        elif kind == "host_ok" and task == ANSIBLE_READY:
            ready_end[host] = t
    missing = sorted(set(hosts) - (set(restart_start) & set(ready_end)))
    if missing:
        raise BenchError(f"ansible: no restart + readiness recorded for {missing}")
    restart_ready = {h: ready_end[h] - restart_start[h] for h in hosts}
    batches = []
    for number, group in enumerate(groups, start=1):
        members = sorted({e[3] for e in group if e[3] is not None})
        batches.append(_batch(number, members, group[-1][0] - group[0][0], restart_ready))
    sizes = [len(b.hosts) for b in batches]
    if len(sizes) != expected_batches(hosts, serial) or any(n != serial for n in sizes[:-1]):
        raise BenchError(f"ansible ran batches of {sizes} hosts, expected serial {serial}")
    return batches, {"batch_sizes": sizes}


def run_ansible(lab: Lab, meter: Meter, hosts: list[str], serial: int, forks: int,
                run_dir: Path) -> tuple[Measured, list[Batch], dict[str, Any]]:
    cfg = write_ansible_cfg(run_dir, forks, Path(lab.known_hosts),
                            [f"callback_plugins = {CALLBACK_DIR}", "callbacks_enabled = bench_timing"])
    timing = run_dir / "timing.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(cfg), ANSIBLE_NOCOLOR="1", BENCH_TIMING_FILE=str(timing))
    argv = [ansible_playbook(), "-i", str(lab.inventory), "-e", f"bench_serial={serial}", str(ANSIBLE_PLAYBOOK)]
    measured = meter.run(lambda: lab.run(
        argv, cwd=str(run_dir), env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    ))
    detail = verify_ansible(measured.proc, hosts)
    unchanged = sorted(set(hosts) - set(detail["hosts_changed"]))
    if unchanged:
        raise _failure("ansible-playbook", measured.proc, f"PLAY RECAP shows changed=0 for {unchanged}")
    batches, more = ansible_batches(timing, hosts, serial)
    return measured, batches, {**detail, **more}


# --- orchestration -----------------------------------------------------------------------------------

def _record(tool: str, repeat: int, result: tuple[Measured, list[Batch], dict[str, Any]]) -> RunRecord:
    m, batches, detail = result
    rec = RunRecord(tool, repeat, round(m.wall_s, 4), round(m.cpu_s, 4), round(m.lingering_cpu_s, 4),
                    m.proc.returncode, batches, detail)
    walls = ", ".join(f"{b.wall_s:.2f}" for b in batches)
    overheads = ", ".join(f"{b.overhead_s:.2f}" for b in batches)
    print(f"  repeat {repeat + 1}  {tool:<8} wall {m.wall_s:6.2f} s  cpu {m.cpu_s:5.2f} s  batches [{walls}] s  "
          f"overhead [{overheads}] s", file=sys.stderr, flush=True)
    return rec


def bench_lab(lab: Lab, nodes: int, repeat: int, serial: int, forks: int, work: Path,
              records: list[RunRecord]) -> None:
    """Append one record per run to ``records`` (kept by the caller even when a run fails)."""
    hosts = inventory_hosts(Path(lab.inventory))
    if len(hosts) != nodes:
        raise BenchError(f"the lab has {len(hosts)} message processors, expected {nodes}")
    state = broken_state(lab, hosts)
    journal = work / "journal.sqlite3"
    with Meter() as meter:
        for r in range(repeat):
            for tool in (TOOLS if r % 2 == 0 else TOOLS[::-1]):
                reset(lab, state)
                before = restart_counts(lab, hosts)
                if tool == FIXER:
                    result = run_fixer(lab, meter, hosts, serial, forks, journal, work)
                else:
                    # a fresh ControlPath directory: no ssh master from an earlier run helps this one
                    run_dir = Path(tempfile.mkdtemp(prefix=f"a{r}-", dir=work))
                    result = run_ansible(lab, meter, hosts, serial, forks, run_dir)
                    meter.reap()  # the ControlPersist masters end here, outside any timed run
                check_fixed(lab, hosts, before, tool)
                records.append(_record(tool, r, result))


def summarize(records: Sequence[RunRecord]) -> list[Summary]:
    out: list[Summary] = []
    for tool in TOOLS:
        runs = [r for r in records if r.tool == tool]
        if not runs:
            continue
        walls = [r.wall_s for r in runs]
        batches = [b for r in runs for b in r.batches]
        out.append(Summary(
            tool, len(runs), min(walls), statistics.median(walls),
            statistics.median(b.wall_s for b in batches), statistics.median(b.restart_ready_max_s for b in batches),
            statistics.median(b.overhead_s for b in batches), max(b.overhead_s for b in batches),
            statistics.median(r.cpu_s for r in runs),
        ))
    return out


def _find(summaries: Sequence[Summary], tool: str) -> Summary | None:
    return next((s for s in summaries if s.tool == tool), None)


def _where_line(phases: Sequence[dict[str, float | None]]) -> str:
    def median(key: str) -> str:
        values = [v for p in phases if (v := p[key]) is not None]
        return f"{statistics.median(values):.3f} s" if values else "n/a"

    return ("fixer batch overhead, where (medians; per batch its slowest host): before the restart (connect, sudo, "
            f"lock, re-read, journal, write) {median('before_restart_max_s')}, after it (verify, unlock) "
            f"{median('after_restart_max_s')}, closing the batch {median('closing_s')}")


def report(summaries: Sequence[Summary], records: Sequence[RunRecord], nodes: int, serial: int,
           forks: int) -> tuple[str, dict[str, Any]]:
    """The printed table and verdict lines, and the same verdicts as data."""
    lines = [
        f"rolling apply of enable-sni: fixer apply vs ansible-playbook  ({nodes} MPs, serial {serial}, forks "
        f"{forks}; medians; a batch's overhead = its wall - the longest restart + readiness among its hosts)",
        "",
        f"{'tool':<8} {'runs':>4}  {'total wall':>10}  {'best':>7}  {'batch wall':>10}  {'restart+ready':>13}  "
        f"{'overhead/batch':>14}  {'worst':>6}  {'CPU':>7}",
    ]
    for s in summaries:
        lines.append(
            f"{s.tool:<8} {s.runs:>4}  {s.wall_median_s:>8.2f} s  {s.wall_best_s:>5.2f} s  "
            f"{s.batch_wall_median_s:>8.2f} s  {s.restart_ready_median_s:>11.2f} s  {s.overhead_median_s:>12.2f} s  "
            f"{s.overhead_max_s:>4.2f} s  {s.cpu_median_s:>5.2f} s"
        )
    lines.append("(ansible's restart+ready spans its three handler tasks, so it includes Ansible's own cost of "
                 "running three modules: its overhead is understated)")
    verdicts: dict[str, Any] = {}
    fx, an = _find(summaries, FIXER), _find(summaries, ANSIBLE)
    if fx is not None:
        fixer_runs = [r for r in records if r.tool == FIXER]
        numbers = sorted({b.number for r in fixer_runs for b in r.batches})
        lines.append("")
        per_batch = []
        for n in numbers:
            same = [b for r in fixer_runs for b in r.batches if b.number == n]
            per_batch.append(f"#{n} wall {statistics.median(b.wall_s for b in same):.2f} s, overhead "
                             f"{statistics.median(b.overhead_s for b in same):.2f} s")
        lines.append("fixer per batch (median over runs): " + "; ".join(per_batch))
        lines.append(_where_line([p for r in fixer_runs for p in r.detail["batch_phases"]]))
        outside = statistics.median(r.wall_s - sum(b.wall_s for b in r.batches) for r in fixer_runs)
        planning = statistics.median(r.detail["before_first_batch_s"] for r in fixer_runs)
        lines.append(f"fixer outside the batches: {outside:.2f} s per run (start-up, planning every host "
                     f"{planning:.2f} s, report)")
        met = fx.overhead_median_s <= TARGET_OVERHEAD_S
        verdicts.update(fixer_overhead_per_batch_s=round(fx.overhead_median_s, 3),
                        fixer_overhead_worst_batch_s=round(fx.overhead_max_s, 3), overhead_target_met=met)
        lines.append("")
        lines.append(f"fixer overhead per batch: {fx.overhead_median_s:.2f} s (target ≤ {TARGET_OVERHEAD_S} s): "
                     f"{'met' if met else 'NOT met'}")
        lines.append(f"  (median over {sum(len(r.batches) for r in fixer_runs)} batches of {len(fixer_runs)} runs; "
                     f"worst batch {fx.overhead_max_s:.2f} s)")
    if fx is not None and an is not None:
        speedup = round(an.wall_median_s / fx.wall_median_s, 1)
        verdicts.update(speedup_wall_median=speedup, faster_than_ansible=speedup > 1.0)
        lines.append(f"fixer apply is {speedup:.1f}{TIMES} faster than ansible-playbook (serial {serial}, "
                     f"{nodes} nodes)")
        lines.append(f"controller CPU: fixer {fx.cpu_median_s:.2f} s, ansible-playbook {an.cpu_median_s:.2f} s "
                     f"({an.cpu_median_s / fx.cpu_median_s:.1f}{TIMES})")
    return "\n".join(lines), verdicts


# --- main --------------------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 -m bench.bench_apply", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=20, help="message processors in the lab (default 20)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool (default 3)")
    parser.add_argument("--serial", type=int, default=5, help="hosts per batch, both tools (default 5)")
    parser.add_argument("--forks", type=int, default=10, help="fixer -f and Ansible forks (default 10)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON results go")
    args = parser.parse_args(argv)
    if not 1 <= args.nodes <= 250:
        parser.error("--nodes must be 1..250")
    if args.repeat < 1 or args.forks < 1 or args.serial < 1:
        parser.error("--repeat, --serial and --forks must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    why = lab_unavailable("sshd per node")
    if why is not None:
        print(f"bench: {why}", file=sys.stderr)
        return 2
    from tests.lab import Lab
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    versions = _versions()
    records: list[RunRecord] = []
    lab_info: dict[str, Any] = {}
    error: str | None = None
    work = Path(tempfile.mkdtemp(prefix="fxa-"))  # short: ssh ControlPath sockets live below it
    try:
        print(f"bench: lab up with {args.nodes} message processors and their readiness listeners",
              file=sys.stderr, flush=True)
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        lab = Lab.up(bench=args.nodes, components=True)
        up_s = time.perf_counter() - t0
        try:
            bench_lab(lab, args.nodes, args.repeat, args.serial, args.forks, work, records)
        finally:
            t0 = time.perf_counter()
            lab.down()
            lab_info = {"up_s": round(up_s, 2), "down_s": round(time.perf_counter() - t0, 2),
                        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    except BenchError as exc:
        error = str(exc)
        print(f"bench: FAILED: {exc}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    summaries = summarize(records)
    table, verdicts = report(summaries, records, args.nodes, args.serial, args.forks)
    print(table)
    if lab_info:
        before, after = lab_info["loadavg_1m"]
        print(f"1-minute load average before/after the lab: {before:.2f}/{after:.2f} ({os.cpu_count()} CPUs); "
              "other work on the machine skews these timings")
    doc = {
        "benchmark": "apply",
        "started_at": stamp,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": versions,
        "config": {"nodes": args.nodes, "repeat": args.repeat, "serial": args.serial, "forks": args.forks,
                   "fixer_playbook": str(FIXER_PLAYBOOK), "ansible_playbook": str(ANSIBLE_PLAYBOOK)},
        "lab": lab_info,
        "runs": [asdict(r) for r in records],
        "summary": [asdict(s) for s in summaries],
        "verdicts": verdicts,
        "error": error,
    }
    return write_results(doc, args.results_dir / f"apply-{stamp}.json", error)


if __name__ == "__main__":
    sys.exit(main())
