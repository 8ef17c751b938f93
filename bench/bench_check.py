"""Benchmark: `fixer check` against an equivalent, fairly tuned `ansible-playbook --check --diff`.

    python3 -m bench.bench_check --nodes 20,50 --repeat 3 --forks 10 [--profile]

For each node count N a lab of N healthy message processors comes up (tests.lab, root needed). Each
repeat runs fixer and Ansible side by side, alternating which goes first. Ansible runs twice in a row:
"cold" with a fresh ControlPath directory (the timed comparison), then "warm" reusing the ControlPersist
masters the cold run left behind (reported separately). Both tools run inside the lab's bridge network
namespace, where the nodes' 127.77.x.y addresses are reachable.

Measured per run: wall time, and controller CPU (user + system) of the tool's whole process tree,
including ssh ControlPersist masters that outlive the run (see bench/procmeter.py). Every run must have
succeeded on every host, else the benchmark stops with an error: a fast failure is not a result.
Results are printed as a table and written to bench/results/check-<timestamp>.json. No timing is
asserted; the targets are reported as met or not met.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bench.procmeter import Measured, Meter

if TYPE_CHECKING:
    from tests.lab import Lab

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"
PLAYBOOK = BENCH_DIR / "ansible" / "check.yml"
RESULTS_DIR = BENCH_DIR / "results"

FIXER = "fixer"
ANSIBLE_COLD = "ansible (cold)"
ANSIBLE_WARM = "ansible (warm)"
TOOLS = (FIXER, ANSIBLE_COLD, ANSIBLE_WARM)

TARGET_SPEEDUP = 15.0
TARGET_SPEEDUP_NODES = 50
TARGET_CPU_MS_PER_HOST = 20.0
RUN_TIMEOUT_S = 1800.0
TIMES = "\N{MULTIPLICATION SIGN}"

_RECAP_LINE = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)"
)


class BenchError(RuntimeError):
    """A tool did not do the whole job (or the bench could not run it); the numbers would be meaningless."""


@dataclass(frozen=True)
class RunRecord:
    nodes: int
    tool: str
    repeat: int
    wall_s: float
    cpu_s: float
    lingering_cpu_s: float
    exit_code: int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Summary:
    nodes: int
    tool: str
    runs: int
    wall_best_s: float
    wall_median_s: float
    cpu_median_s: float
    cpu_ms_per_host: float


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _failure(what: str, proc: subprocess.CompletedProcess[str], why: str) -> BenchError:
    return BenchError(
        f"{what}: {why} (exit {proc.returncode})\n--- stdout (tail) ---\n{_tail(proc.stdout)}"
        f"\n--- stderr (tail) ---\n{_tail(proc.stderr)}"
    )


def inventory_hosts(inventory: Path) -> list[str]:
    """Names of the lab's message processors, read from its inventory."""
    doc = yaml.safe_load(inventory.read_text())
    hosts = doc["all"]["children"]["message_processors"]["hosts"]
    return sorted(str(name) for name in hosts)


# --- fixer -------------------------------------------------------------------------------------------

def fixer_args(lab: Lab, forks: int, output: Path) -> list[str]:
    return [
        "check", "-i", str(lab.inventory), "--known-hosts", str(lab.known_hosts), "--ssh-config", "/dev/null",
        "-f", str(forks), "--format", "json", "-o", str(output),
    ]


def verify_fixer(proc: subprocess.CompletedProcess[str], output: Path, hosts: list[str]) -> dict[str, Any]:
    """Every host inspected (status ok or findings); returns what the report said, for the record."""
    if proc.returncode not in (0, 1):
        raise _failure("fixer check", proc, "exit code is not 0 or 1 (3: a host could not be inspected)")
    try:
        report = json.loads(output.read_text())
    except (OSError, ValueError) as exc:
        raise _failure("fixer check", proc, f"no readable JSON report at {output}: {exc}") from exc
    seen = {h["name"]: h for h in report["hosts"]}
    if sorted(seen) != hosts:
        missing, extra = sorted(set(hosts) - set(seen)), sorted(set(seen) - set(hosts))
        raise _failure("fixer check", proc,
                       f"report hosts differ from the lab: missing {missing}, extra {extra}")
    bad = {name: h["status"] for name, h in seen.items() if h["status"] not in ("ok", "findings")}
    if bad:
        errors = {name: seen[name]["error"] for name in list(bad)[:5]}
        raise _failure("fixer check", proc,
                       f"{len(bad)} host(s) not inspected: {bad}; first errors: {errors}")
    findings = Counter(f["id"] for h in seen.values() for f in h["findings"])
    return {
        "by_status": report["summary"]["by_status"],
        "findings_by_id": dict(findings),
        "fixer_reported_duration_s": report.get("duration_s"),
    }


def run_fixer(
    lab: Lab, meter: Meter, forks: int, hosts: list[str], work: Path
) -> tuple[Measured, dict[str, Any]]:
    output = work / "fixer-report.json"
    output.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "fixer.cli", *fixer_args(lab, forks, output)]
    measured = meter.run(lambda: lab.run(
        argv, cwd=str(REPO), capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    ))
    return measured, verify_fixer(measured.proc, output, hosts)


# --- Ansible -----------------------------------------------------------------------------------------

def ansible_playbook() -> str:
    """The real ansible-playbook script beside this interpreter (not a pyenv shim, whose bash costs CPU)."""
    beside = Path(sys.executable).with_name("ansible-playbook")
    if beside.is_file():
        return str(beside)
    found = shutil.which("ansible-playbook")
    if found is None:
        raise BenchError("ansible-playbook not found: pip install ansible-core (part of the dev extras)")
    return found


def write_ansible_cfg(directory: Path, forks: int, known_hosts: Path, extra_defaults: Sequence[str] = ()) -> Path:
    """An ansible.cfg tuned as a careful operator would: forks as fixer's, pipelining, ControlPersist.
    ``extra_defaults``: more ``key = value`` lines for its [defaults] section."""
    (directory / "cp").mkdir(mode=0o700)
    (directory / "local").mkdir(mode=0o700)
    cfg = directory / "ansible.cfg"
    cfg.write_text(
        "[defaults]\n"
        f"forks = {forks}\n"
        "host_key_checking = True\n"
        "interpreter_python = /usr/bin/python3\n"
        "gathering = explicit\n"
        "retry_files_enabled = False\n"
        "stdout_callback = default\n"
        "nocolor = True\n"
        f"local_tmp = {directory / 'local'}\n"
        + "".join(f"{line}\n" for line in extra_defaults)
        + "\n"
        "[ssh_connection]\n"
        "pipelining = True\n"
        "ssh_args = -o ControlMaster=auto -o ControlPersist=60s "
        f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes\n"
        f"control_path_dir = {directory / 'cp'}\n"
    )
    return cfg


def verify_ansible(proc: subprocess.CompletedProcess[str], hosts: list[str]) -> dict[str, Any]:
    """PLAY RECAP lists every lab host with failed=0 unreachable=0."""
    recap_at = proc.stdout.rfind("PLAY RECAP")
    if recap_at < 0:
        raise _failure("ansible-playbook", proc, "no PLAY RECAP in its output")
    recap: dict[str, dict[str, int]] = {}
    for line in proc.stdout[recap_at:].splitlines()[1:]:
        match = _RECAP_LINE.match(line.strip())
        if match:
            recap[match["host"]] = {k: int(v) for k, v in match.groupdict().items() if k != "host"}
    if sorted(recap) != hosts:
        missing, extra = sorted(set(hosts) - set(recap)), sorted(set(recap) - set(hosts))
        raise _failure("ansible-playbook", proc, f"PLAY RECAP hosts differ from the lab: missing {missing}, "
                                                 f"extra {extra}")
    bad = {h: r for h, r in recap.items() if r["failed"] or r["unreachable"] or not r["ok"]}
    if bad:
        raise _failure("ansible-playbook", proc, f"{len(bad)} host(s) failed or unreachable: {bad}")
    if proc.returncode != 0:
        raise _failure("ansible-playbook", proc, "PLAY RECAP is clean but the exit code is not 0")
    changed = sorted(h for h, r in recap.items() if r["changed"])
    return {"tasks_ok_per_host": sorted({r["ok"] for r in recap.values()}), "hosts_changed": changed}


def run_ansible(lab: Lab, meter: Meter, cfg: Path, hosts: list[str]) -> tuple[Measured, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(cfg), ANSIBLE_NOCOLOR="1")
    argv = [ansible_playbook(), "--check", "--diff", "-i", str(lab.inventory), str(PLAYBOOK)]
    measured = meter.run(lambda: lab.run(
        argv, cwd=str(cfg.parent), env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
        check=False,
    ))
    return measured, verify_ansible(measured.proc, hosts)


# --- orchestration -----------------------------------------------------------------------------------

def _record(nodes: int, tool: str, repeat: int, result: tuple[Measured, dict[str, Any]]) -> RunRecord:
    m, detail = result
    rec = RunRecord(nodes, tool, repeat, round(m.wall_s, 4), round(m.cpu_s, 4), round(m.lingering_cpu_s, 4),
                    m.proc.returncode, detail)
    print(f"  N={nodes:<3} repeat {repeat + 1}  {tool:<15} wall {m.wall_s:7.2f} s  cpu {m.cpu_s:6.2f} s"
          + (f" (lingering ssh {m.lingering_cpu_s:.2f} s)" if m.lingering_cpu_s else ""),
          file=sys.stderr, flush=True)
    return rec


def bench_lab(lab: Lab, nodes: int, repeat: int, forks: int, work: Path, records: list[RunRecord]) -> None:
    """Append one record per run to ``records`` (kept by the caller even when a run fails)."""
    hosts = inventory_hosts(Path(lab.inventory))
    if len(hosts) != nodes:
        raise BenchError(f"the lab has {len(hosts)} message processors, expected {nodes}")
    with Meter() as meter:
        for r in range(repeat):
            order = ("fixer", "ansible") if r % 2 == 0 else ("ansible", "fixer")
            for tool in order:
                if tool == "fixer":
                    records.append(_record(nodes, FIXER, r, run_fixer(lab, meter, forks, hosts, work)))
                    continue
                # a fresh ControlPath directory: no ssh master from an earlier run helps the timed one
                run_dir = Path(tempfile.mkdtemp(prefix=f"a{r}-", dir=work))
                cfg = write_ansible_cfg(run_dir, forks, Path(lab.known_hosts))
                records.append(_record(nodes, ANSIBLE_COLD, r, run_ansible(lab, meter, cfg, hosts)))
                records.append(_record(nodes, ANSIBLE_WARM, r, run_ansible(lab, meter, cfg, hosts)))
                meter.reap()  # the ControlPersist masters end here, outside any timed run


def summarize(records: Sequence[RunRecord]) -> list[Summary]:
    out: list[Summary] = []
    for nodes in sorted({r.nodes for r in records}):
        for tool in TOOLS:
            runs = [r for r in records if r.nodes == nodes and r.tool == tool]
            if not runs:
                continue
            walls = [r.wall_s for r in runs]
            cpu = statistics.median(r.cpu_s for r in runs)
            out.append(Summary(nodes, tool, len(runs), min(walls), statistics.median(walls), cpu,
                               1000.0 * cpu / nodes))
    return out


def _find(summaries: Sequence[Summary], nodes: int, tool: str) -> Summary | None:
    return next((s for s in summaries if s.nodes == nodes and s.tool == tool), None)


def report(summaries: Sequence[Summary], forks: int) -> tuple[str, dict[str, Any]]:
    """The printed table and verdict lines, and the same verdicts as data."""
    lines = [
        f"fixer check vs ansible-playbook --check --diff  (forks {forks}, controller CPU = user+sys of the "
        "whole process tree)",
        "",
        f"{'nodes':>5}  {'tool':<15} {'runs':>4}  {'wall best':>9}  {'wall median':>11}  {'CPU median':>10}  "
        f"{'CPU/host':>9}",
    ]
    for s in summaries:
        lines.append(
            f"{s.nodes:>5}  {s.tool:<15} {s.runs:>4}  {s.wall_best_s:>7.2f} s  {s.wall_median_s:>9.2f} s  "
            f"{s.cpu_median_s:>8.2f} s  {s.cpu_ms_per_host:>6.1f} ms"
        )
    lines.append("")
    verdicts: dict[str, Any] = {"speedup_wall_median": {}, "speedup_vs_warm_wall_median": {},
                                "fixer_cpu_ms_per_host": {}}
    for nodes in sorted({s.nodes for s in summaries}):
        fx, cold, warm = (_find(summaries, nodes, t) for t in TOOLS)
        if fx is None or cold is None or warm is None:
            continue
        speedup = round(cold.wall_median_s / fx.wall_median_s, 1)  # rounded once: printed and judged alike
        warm_speedup = warm.wall_median_s / fx.wall_median_s
        verdicts["speedup_wall_median"][str(nodes)] = speedup
        verdicts["speedup_vs_warm_wall_median"][str(nodes)] = round(warm_speedup, 2)
        verdicts["fixer_cpu_ms_per_host"][str(nodes)] = round(fx.cpu_ms_per_host, 2)
        lines.append(f"fixer is {speedup:.1f}{TIMES} faster than ansible-playbook at {nodes} nodes "
                     f"(wall, median); {warm_speedup:.1f}{TIMES} against a warm ansible-playbook "
                     "(ControlPersist masters up)")
        cpu_ok = "met" if fx.cpu_ms_per_host <= TARGET_CPU_MS_PER_HOST else "NOT met"
        lines.append(f"fixer controller CPU per host: {fx.cpu_ms_per_host:.1f} ms (target ≤ "
                     f"{TARGET_CPU_MS_PER_HOST:.0f} ms: {cpu_ok}) at {nodes} nodes; ansible-playbook "
                     f"{cold.cpu_ms_per_host:.1f} ms cold, {warm.cpu_ms_per_host:.1f} ms warm")
    fixer_rows = [s for s in summaries if s.tool == FIXER]
    if len(fixer_rows) >= 2:
        small, large = min(fixer_rows, key=lambda s: s.nodes), max(fixer_rows, key=lambda s: s.nodes)
        marginal_s = (large.cpu_median_s - small.cpu_median_s) / (large.nodes - small.nodes)
        fixed_s = small.cpu_median_s - marginal_s * small.nodes
        verdicts["fixer_cpu_marginal_ms_per_host"] = round(1000.0 * marginal_s, 2)
        verdicts["fixer_cpu_fixed_s"] = round(fixed_s, 3)
        lines.append(f"fixer CPU split ({small.nodes}→{large.nodes} nodes): {1000.0 * marginal_s:.1f} ms per "
                     f"extra host + {fixed_s:.2f} s fixed (interpreter, imports, report)")
    at = verdicts["speedup_wall_median"].get(str(TARGET_SPEEDUP_NODES))
    if at is None:
        verdict = f"target ≥{TARGET_SPEEDUP:.0f}{TIMES} at {TARGET_SPEEDUP_NODES} nodes: not measured"
        met: bool | None = None
    else:
        met = at >= TARGET_SPEEDUP
        verdict = (f"target ≥{TARGET_SPEEDUP:.0f}{TIMES} at {TARGET_SPEEDUP_NODES} nodes: "
                   f"{'met' if met else 'NOT met'} ({at:.1f}{TIMES})")
    lines.append(verdict)
    verdicts["target_speedup_met"] = met
    cpu_values = list(verdicts["fixer_cpu_ms_per_host"].values())
    verdicts["target_cpu_met"] = all(v <= TARGET_CPU_MS_PER_HOST for v in cpu_values) if cpu_values else None
    return "\n".join(lines), verdicts


# --- profile -----------------------------------------------------------------------------------------

_IMPORT_FRAMES = ("<frozen importlib", "<frozen zipimport")
_IMPORT_BUILTINS = ("<built-in method builtins.exec>", "<built-in method builtins.__import__>",
                    "<built-in method _imp.create_dynamic>", "<built-in method _imp.exec_dynamic>")
FuncKey = tuple[str, int, str]  # (file, line, function) as pstats keys them


def _short(key: FuncKey) -> str:
    file, line, func = key
    if file == "~":
        return func
    parts = Path(file).parts
    where = "/".join(parts[-2:]) if parts[-1] == "__init__.py" else parts[-1]
    return f"{where}:{line}({func})"


def profile_summary(prof_file: Path, top: int = 15) -> dict[str, Any]:
    """Import CPU, top functions by cumulative time without the import machinery, and by own time."""
    stats = pstats.Stats(str(prof_file))
    raw: dict[FuncKey, tuple[int, int, float, float, object]] = vars(stats)["stats"]
    total = float(vars(stats)["total_tt"])
    imports = max((v[3] for k, v in raw.items() if k[2] == "_find_and_load"), default=0.0)

    def is_import(key: FuncKey) -> bool:
        return key[0].startswith(_IMPORT_FRAMES) or key[2] == "<module>" or key[2] in _IMPORT_BUILTINS

    def table(keys: list[FuncKey]) -> str:
        rows = [f"{'ncalls':>10}  {'tottime':>8}  {'cumtime':>8}  function"]
        for key in keys:
            cc, nc, tt, ct, _ = raw[key]
            calls = str(nc) if cc == nc else f"{nc}/{cc}"
            rows.append(f"{calls:>10}  {tt:>8.3f}  {ct:>8.3f}  {_short(key)}")
        return "\n".join(rows)

    by_cum = sorted((k for k in raw if not is_import(k)), key=lambda k: raw[k][3], reverse=True)[:top]
    by_own = sorted(raw, key=lambda k: raw[k][2], reverse=True)[:top]
    return {"profiled_cpu_s": round(total, 3), "import_cpu_s": round(imports, 3),
            "top_cumulative": table(by_cum), "top_tottime": table(by_own)}


def profile_fixer(lab: Lab, forks: int, hosts: list[str], work: Path, prof_out: Path) -> dict[str, Any]:
    """fixer check once under cProfile (every thread, CPU time); returns its top functions as text."""
    output = work / "fixer-profile-report.json"
    argv = [sys.executable, "-m", "bench.profile_fixer", str(prof_out), "--", *fixer_args(lab, forks, output)]
    with Meter() as meter:
        measured = meter.run(lambda: lab.run(
            argv, cwd=str(REPO), capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
        ))
    verify_fixer(measured.proc, output, hosts)
    return {"nodes": len(hosts), "wall_s": round(measured.wall_s, 3), "cpu_s": round(measured.cpu_s, 3),
            "file": str(prof_out), **profile_summary(prof_out)}


# --- main --------------------------------------------------------------------------------------------

def _versions() -> dict[str, str]:
    fixer_version = subprocess.run(
        [sys.executable, "-m", "fixer.cli", "--version"], cwd=REPO, capture_output=True, text=True,
        check=False, timeout=60,
    ).stdout.strip()
    ansible_version = subprocess.run(
        [ansible_playbook(), "--version"], capture_output=True, text=True, check=False, timeout=60,
    ).stdout.splitlines()
    return {"fixer": fixer_version, "ansible": ansible_version[0] if ansible_version else "?",
            "python": platform.python_version()}


def _node_counts(text: str) -> list[int]:
    try:
        counts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of node counts: {text!r}") from exc
    if not counts or any(not 1 <= n <= 250 for n in counts):
        raise argparse.ArgumentTypeError("node counts must be 1..250")
    return counts


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 -m bench.bench_check",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=_node_counts, default=[20, 50], help="lab sizes, e.g. 20,50")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool per lab size (default 3)")
    parser.add_argument("--forks", type=int, default=10, help="fixer -f and Ansible forks (default 10)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one fixer run at the largest size; print its top functions")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON results go")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.forks < 1:
        parser.error("--repeat and --forks must be at least 1")
    return args


def lab_unavailable(needs: str) -> str | None:
    """Why this process cannot start a lab (not root, tests.lab not importable), or None when it can."""
    if os.geteuid() != 0:
        return f"the lab needs root (network namespaces, {needs})"
    try:
        import tests.lab  # noqa: F401
    except ImportError as exc:
        return f"the lab package is not available ({exc}); run from the repository root"
    return None


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
    labs: list[dict[str, Any]] = []
    profile: dict[str, Any] | None = None
    error: str | None = None
    work = Path(tempfile.mkdtemp(prefix="fxb-"))  # short: ssh ControlPath sockets live below it
    try:
        for nodes in args.nodes:
            print(f"bench: lab up with {nodes} message processors", file=sys.stderr, flush=True)
            load_before = os.getloadavg()[0]
            t0 = time.perf_counter()
            lab = Lab.up(bench=nodes, components=False)
            up_s = time.perf_counter() - t0
            try:
                bench_lab(lab, nodes, args.repeat, args.forks, work, records)
                if args.profile and nodes == max(args.nodes):
                    prof_out = args.results_dir / f"check-{stamp}-{nodes}.prof"
                    hosts = inventory_hosts(Path(lab.inventory))
                    profile = profile_fixer(lab, args.forks, hosts, work, prof_out)
            finally:
                t0 = time.perf_counter()
                lab.down()
                down_s = time.perf_counter() - t0
                labs.append({"nodes": nodes, "up_s": round(up_s, 2), "down_s": round(down_s, 2),
                             # other work on the machine skews timings: the 1-minute load, before and after
                             "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]})
    except BenchError as exc:
        error = str(exc)
        print(f"bench: FAILED: {exc}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    summaries = summarize(records)
    table, verdicts = report(summaries, args.forks)
    print(table)
    if profile is not None:
        print(f"\nfixer check under cProfile at {profile['nodes']} nodes, every thread, CPU time (the "
              f"profiler slows it: wall {profile['wall_s']:.2f} s, CPU {profile['cpu_s']:.2f} s).\n"
              f"Profiled CPU {profile['profiled_cpu_s']:.3f} s, of which imports "
              f"{profile['import_cpu_s']:.3f} s.\nTop 15 by cumulative time, import machinery left out:")
        print(profile["top_cumulative"])
        print("\nTop 15 by own time (tottime):")
        print(profile["top_tottime"])
    doc = {
        "benchmark": "check",
        "started_at": stamp,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": versions,
        "config": {
            "nodes": args.nodes, "repeat": args.repeat, "forks": args.forks, "playbook": str(PLAYBOOK),
        },
        "labs": labs,
        "runs": [asdict(r) for r in records],
        "summary": [asdict(s) for s in summaries],
        "verdicts": verdicts,
        "profile": profile,
        "error": error,
    }
    return write_results(doc, args.results_dir / f"check-{stamp}.json", error)


def write_results(doc: dict[str, Any], out: Path, error: str | None) -> int:
    """Save a benchmark's results as JSON and turn its outcome into the exit status."""
    out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print(f"\nresults: {out}")
    if error is not None:
        print("bench: FAILED (the table above holds only the runs before the failure)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
