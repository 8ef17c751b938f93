"""Benchmark: one backend's full `fixer probe` against sslyze's equivalent scan commands on the same server.

    python3 -m bench.bench_probe --repeat 7 --inner 5

The scenario lab comes up (tests.lab, root needed) and every tool probes its router rt-healthy (nginx, TLSv1.2
and TLSv1.3, two TLS 1.2 suites) at 127.77.X.31:443 with SNI `rt-healthy`, from the lab's bridge netns:

- fixer CLI: `fixer probe IP --servername rt-healthy --format json` (4 protocols with SNI, one handshake without
  SNI, the chains), and the same with `--ciphers` (the accepted suites per protocol as well);
- sslyze CLI: `sslyze --mozilla_config disable --tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3 --certinfo
  --json_out F --quiet rt-healthy:443{IP}`. sslyze learns protocol support only from its per-protocol cipher
  suite scans (one handshake per suite it knows), and `--certinfo` fetches the chain with and without SNI
  (`certificate_deployment_with_sni_disabled`), so this one command is the equivalent of both fixer rows;
- in-process (no interpreter start-up, after one warm-up): fixer's engine `probe(target[, ciphers=True])`
  against sslyze's `Scanner` API with the same scan commands, each in its own interpreter in the netns
  timing `--inner` scans.

sslyze runs from its own venv (created here, `pip install sslyze`), so it does not pin this project's
cryptography. Each repeat runs every CLI tool once, rotating which goes first, plus `fixer --version` (the CLI's
start-up floor); then both in-process children, alternating. Every run must have found what the lab serves
(protocols, suites, a chain, the no-SNI certificate), else the bench stops with an error. No timing is asserted;
the target (fixer at most half of sslyze's wall time, medians) is reported as met or not met, per row.
Results: a table, and bench/results/probe-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import ssl
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

from bench.bench_check import REPO, BenchError, _failure, lab_unavailable, write_results
from bench.procmeter import Measured, Meter

if TYPE_CHECKING:
    from tests.lab import Lab

RESULTS_DIR = REPO / "bench" / "results"
DEFAULT_VENV = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fixer-bench" / "sslyze-venv"

ROUTER = "rt-healthy"
SSLYZE_COMMANDS = ("--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3", "--certinfo")
EXPECTED_PROTOCOLS = {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True}
EXPECTED_SUITES = {  # the lab's HEALTHY_CIPHERS, and OpenSSL 3.0's default TLS 1.3 suites (nginx leaves them)
    "TLSv1.2": {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
    "TLSv1.3": {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"},
}
TARGET_RATIO = 0.5  # fixer's wall time at most half of sslyze's
RUN_TIMEOUT_S = 300.0
PIP_TIMEOUT_S = 900.0
EXIT_NO_SSLYZE = 3

FIXER_CLI = "fixer probe (CLI)"
FIXER_CLI_CIPHERS = "fixer probe --ciphers (CLI)"
FIXER_FLOOR = "fixer --version (CLI start-up)"
SSLYZE_CLI = "sslyze (CLI)"
FIXER_API = "fixer engine"
FIXER_API_CIPHERS = "fixer engine, ciphers"
SSLYZE_API = "sslyze Scanner API"
CLI_TOOLS = (FIXER_CLI, FIXER_CLI_CIPHERS, SSLYZE_CLI, FIXER_FLOOR)
TOOLS = (FIXER_CLI, FIXER_CLI_CIPHERS, SSLYZE_CLI, FIXER_FLOOR, FIXER_API, FIXER_API_CIPHERS, SSLYZE_API)


@dataclass(frozen=True)
class Row:
    """One side-by-side comparison: a fixer tool against an sslyze tool."""

    name: str
    fixer: str
    sslyze: str


ROWS = (
    Row("probe (CLI)", FIXER_CLI, SSLYZE_CLI),
    Row("probe --ciphers (CLI)", FIXER_CLI_CIPHERS, SSLYZE_CLI),
    Row("probe (in-process)", FIXER_API, SSLYZE_API),
    Row("probe --ciphers (in-process)", FIXER_API_CIPHERS, SSLYZE_API),
)


@dataclass(frozen=True)
class RunRecord:
    tool: str
    repeat: int
    wall_s: float
    cpu_s: float  # CLI: the whole process tree; in-process: the interpreter's CPU during the scan
    exit_code: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Summary:
    tool: str
    runs: int
    wall_best_s: float
    wall_median_s: float
    cpu_median_s: float


# --- sslyze in its own venv --------------------------------------------------------------------------


class SslyzeUnavailable(RuntimeError):
    """sslyze could not be installed or imported; the bench cannot compare anything."""


def ensure_sslyze(venv: Path, spec: str = "sslyze") -> tuple[Path, str]:
    """(the venv's python, sslyze's version): the venv is created and sslyze installed when missing."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m, sslyze; print(m.version('sslyze'))"]

    def installed() -> str | None:
        if not python.exists():
            return None
        done = subprocess.run(probe, capture_output=True, text=True, timeout=120, check=False)
        return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None

    version = installed()
    if version is not None:
        return python, version
    print(f"bench: installing {spec} into {venv} (its own venv: sslyze pins its own cryptography)",
          file=sys.stderr, flush=True)
    try:
        if not python.exists():
            venv.parent.mkdir(parents=True, exist_ok=True)
            made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True,
                                  timeout=300, check=False)
            if made.returncode != 0:
                raise SslyzeUnavailable(f"python -m venv {venv} failed: {made.stderr.strip()[-500:]}")
        pip = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", spec],
                             capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SslyzeUnavailable(f"cannot install {spec} into {venv}: {exc}") from exc
    if pip.returncode != 0:
        raise SslyzeUnavailable(f"pip install {spec} failed (exit {pip.returncode}): "
                                f"{(pip.stderr or pip.stdout).strip()[-800:]}")
    version = installed()
    if version is None:
        raise SslyzeUnavailable(f"{spec} was installed into {venv} but `import sslyze` fails there")
    return python, version


# --- the commands ------------------------------------------------------------------------------------


def fixer_argv(ip: str, ciphers: bool) -> list[str]:
    argv = [sys.executable, "-m", "fixer.cli", "probe", ip, "--servername", ROUTER, "--format", "json"]
    return [*argv, "--ciphers"] if ciphers else argv


def sslyze_argv(python: Path, ip: str, json_out: Path) -> list[str]:
    """`ROUTER:443{IP}`: sslyze connects to IP and sends ROUTER as SNI (and, for --certinfo, also none)."""
    return [str(python), "-m", "sslyze", "--mozilla_config", "disable", *SSLYZE_COMMANDS, "--json_out",
            str(json_out), "--quiet", f"{ROUTER}:443{{{ip}}}"]


# the in-process children: one interpreter each, in the lab's netns; one warm-up scan (imports, caches), then
# `inner` timed scans; they print one JSON document: the timings and what the last scan found

FIXER_INPROCESS = """
import json, sys, time
from fixer.probe.engine import probe
from fixer.probe.model import ProbeTarget
from fixer.probe.render import render_json
ip, name, ciphers, inner = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
target = ProbeTarget(ip, 443, name)
probe(target, ciphers=ciphers)
runs = []
for _ in range(inner):
    w, c = time.perf_counter(), time.process_time()
    result = probe(target, ciphers=ciphers)
    runs.append([time.perf_counter() - w, time.process_time() - c])
print(json.dumps({"runs": runs, "report": json.loads(render_json([result]))}))
"""

SSLYZE_INPROCESS = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
from sslyze import Scanner, ScanCommand, ServerNetworkLocation, ServerScanRequest
ip, name, inner = sys.argv[1], sys.argv[2], int(sys.argv[3])
commands = {ScanCommand.TLS_1_0_CIPHER_SUITES, ScanCommand.TLS_1_1_CIPHER_SUITES, ScanCommand.TLS_1_2_CIPHER_SUITES,
            ScanCommand.TLS_1_3_CIPHER_SUITES, ScanCommand.CERTIFICATE_INFO}
FIELDS = {"TLSv1": "tls_1_0_cipher_suites", "TLSv1.1": "tls_1_1_cipher_suites",
          "TLSv1.2": "tls_1_2_cipher_suites", "TLSv1.3": "tls_1_3_cipher_suites"}
def scan():
    scanner = Scanner()
    scanner.queue_scans([ServerScanRequest(server_location=ServerNetworkLocation(name, 443, ip),
                                           scan_commands=commands)])
    return list(scanner.get_results())
def summary(results):
    r = results[0]
    out = {"status": r.scan_status.name, "commands": {}, "accepted": {}, "rejected": {}, "certinfo": None}
    if r.scan_result is None:
        return out
    for proto, attr in FIELDS.items():
        attempt = getattr(r.scan_result, attr)
        out["commands"][proto] = attempt.status.name
        if attempt.result is not None:
            out["accepted"][proto] = [a.cipher_suite.name for a in attempt.result.accepted_cipher_suites]
            out["rejected"][proto] = len(attempt.result.rejected_cipher_suites)
    cert = r.scan_result.certificate_info
    out["commands"]["certinfo"] = cert.status.name
    if cert.result is not None:
        deployments = cert.result.certificate_deployments
        out["certinfo"] = {"deployments": len(deployments),
                           "chain_length": len(deployments[0].received_certificate_chain) if deployments else 0,
                           "sni_disabled_deployment": cert.result.certificate_deployment_with_sni_disabled is not None}
    return out
scan()
runs = []
for _ in range(inner):
    w, c = time.perf_counter(), time.process_time()
    results = scan()
    runs.append([time.perf_counter() - w, time.process_time() - c])
print(json.dumps({"runs": runs, "summary": summary(results)}))
"""

_SSLYZE_FIELDS = {"TLSv1": "tls_1_0_cipher_suites", "TLSv1.1": "tls_1_1_cipher_suites",
                  "TLSv1.2": "tls_1_2_cipher_suites", "TLSv1.3": "tls_1_3_cipher_suites"}


# --- checking what each run found --------------------------------------------------------------------


def verify_fixer_report(doc: dict[str, Any], ciphers: bool) -> dict[str, Any]:
    """fixer's probe JSON for rt-healthy: the lab's protocols, a chain, no SNI needed, suites when asked.
    Raises ValueError naming what is wrong."""
    r = doc["results"][0]
    if r["protocols"] != EXPECTED_PROTOCOLS:
        raise ValueError(f"protocols {r['protocols']}, expected {EXPECTED_PROTOCOLS}")
    if not r["chain_with_sni"] or r["sni_required"] is not False or r["sni_changes_certificate"] is not False:
        raise ValueError(f"chain/SNI verdicts: chain {len(r['chain_with_sni'])} certs, sni_required "
                         f"{r['sni_required']}, changes {r['sni_changes_certificate']}")
    detail: dict[str, Any] = {"handshakes": len(r["handshakes"])}
    suites = r.get("suites")
    if ciphers:
        if not suites or not suites["available"] or suites["stopped"]:
            raise ValueError(f"suite scan incomplete: {suites}")
        found = {p: set(names) for p, names in suites["accepted"].items()}
        if found != EXPECTED_SUITES:
            raise ValueError(f"suites {found}, expected {EXPECTED_SUITES}")
        detail.update(suites=suites["accepted"], suite_handshakes=suites["handshakes"])
    elif suites is not None:
        raise ValueError("suites were scanned without --ciphers")
    return detail


def sslyze_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """sslyze's --json_out document reduced to what the in-process child prints (`summary` there)."""
    r = doc["server_scan_results"][0]
    out: dict[str, Any] = {"status": r["scan_status"], "commands": {}, "accepted": {}, "rejected": {},
                           "certinfo": None}
    result = r.get("scan_result")
    if not result:
        return out
    for proto, key in _SSLYZE_FIELDS.items():
        attempt = result[key]
        out["commands"][proto] = attempt["status"]
        if attempt.get("result"):
            out["accepted"][proto] = [a["cipher_suite"]["name"] for a in attempt["result"]["accepted_cipher_suites"]]
            out["rejected"][proto] = len(attempt["result"]["rejected_cipher_suites"])
    cert = result["certificate_info"]
    out["commands"]["certinfo"] = cert["status"]
    if cert.get("result"):
        deployments = cert["result"]["certificate_deployments"]
        out["certinfo"] = {
            "deployments": len(deployments),
            "chain_length": len(deployments[0]["received_certificate_chain"]) if deployments else 0,
            "sni_disabled_deployment": cert["result"]["certificate_deployment_with_sni_disabled"] is not None,
        }
    return out


def verify_sslyze_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """Every scan command completed and found what the lab serves. Raises ValueError naming what is wrong."""
    if summary["status"] != "COMPLETED":
        raise ValueError(f"scan status {summary['status']}")
    failed = {c: s for c, s in summary["commands"].items() if s != "COMPLETED"}
    if failed or len(summary["commands"]) != len(SSLYZE_COMMANDS):
        raise ValueError(f"scan commands not completed: {failed or summary['commands']}")
    protocols = {p: bool(summary["accepted"].get(p)) for p in EXPECTED_PROTOCOLS}
    if protocols != EXPECTED_PROTOCOLS:
        raise ValueError(f"protocols {protocols}, expected {EXPECTED_PROTOCOLS}")
    found = {p: set(names) for p, names in summary["accepted"].items() if names}
    if found != EXPECTED_SUITES:
        raise ValueError(f"suites {found}, expected {EXPECTED_SUITES}")
    cert = summary["certinfo"]
    if not cert or not cert["chain_length"] or not cert["sni_disabled_deployment"]:
        raise ValueError(f"certinfo: {cert}")
    tried = sum(len(v) for v in summary["accepted"].values()) + sum(summary["rejected"].values())
    return {"suites": summary["accepted"], "suites_tried": tried}


# --- running ------------------------------------------------------------------------------------------


def _json(proc: subprocess.CompletedProcess[str], what: str) -> dict[str, Any]:
    try:
        doc: dict[str, Any] = json.loads(proc.stdout)
    except ValueError as exc:
        raise _failure(what, proc, f"no JSON on stdout: {exc}") from exc
    return doc


def run_cli(lab: Lab, meter: Meter, tool: str, ip: str, sslyze: Path, work: Path) -> tuple[Measured, dict[str, Any]]:
    if tool == SSLYZE_CLI:
        out = work / "sslyze.json"
        out.unlink(missing_ok=True)
        argv = sslyze_argv(sslyze, ip, out)
    elif tool == FIXER_FLOOR:
        argv = [sys.executable, "-m", "fixer.cli", "--version"]
    else:
        argv = fixer_argv(ip, ciphers=tool == FIXER_CLI_CIPHERS)
    measured = meter.run(lambda: lab.run(argv, cwd=str(REPO), capture_output=True, text=True,
                                         timeout=RUN_TIMEOUT_S, check=False))
    proc = measured.proc
    if proc.returncode != 0:
        raise _failure(tool, proc, "exit code is not 0")
    try:
        if tool == SSLYZE_CLI:
            try:
                doc = json.loads(out.read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(f"no readable --json_out at {out}: {exc}") from exc
            detail = verify_sslyze_summary(sslyze_summary(doc))
        elif tool == FIXER_FLOOR:
            detail = {"version": proc.stdout.strip()}
        else:
            detail = verify_fixer_report(_json(proc, tool), ciphers=tool == FIXER_CLI_CIPHERS)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise _failure(tool, proc, f"wrong result: {exc}") from exc
    return measured, detail


def run_inprocess(lab: Lab, tool: str, ip: str, sslyze: Path, inner: int) -> tuple[list[list[float]], dict[str, Any]]:
    """One child interpreter timing `inner` scans in-process; returns [[wall, cpu], ...] and the checked result."""
    if tool == SSLYZE_API:
        argv = [str(sslyze), "-c", SSLYZE_INPROCESS, ip, ROUTER, str(inner)]
    else:
        argv = [sys.executable, "-c", FIXER_INPROCESS, ip, ROUTER, "1" if tool == FIXER_API_CIPHERS else "0",
                str(inner)]
    proc = lab.run(argv, cwd=str(REPO), capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        raise _failure(tool, proc, "exit code is not 0")
    doc = _json(proc, tool)
    try:
        if tool == SSLYZE_API:
            detail = verify_sslyze_summary(doc["summary"])
        else:
            detail = verify_fixer_report(doc["report"], ciphers=tool == FIXER_API_CIPHERS)
        runs = [[float(w), float(c)] for w, c in doc["runs"]]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise _failure(tool, proc, f"wrong result: {exc}") from exc
    if len(runs) != inner:
        raise _failure(tool, proc, f"{len(runs)} timed scans, expected {inner}")
    return runs, detail


def _print(rec: RunRecord) -> None:
    print(f"  repeat {rec.repeat + 1}  {rec.tool:<30} wall {rec.wall_s * 1000:8.1f} ms  cpu "
          f"{rec.cpu_s * 1000:7.1f} ms", file=sys.stderr, flush=True)


def rotation(tools: Sequence[str], repeat: int) -> list[str]:
    """The order of the tools in repeat `repeat`: rotated by one each time, so none is always first."""
    k = repeat % len(tools)
    return [*tools[k:], *tools[:k]]


def bench_lab(lab: Lab, sslyze: Path, repeat: int, inner: int, work: Path, records: list[RunRecord]) -> None:
    """Append one record per run (per timed scan for the in-process tools) to ``records``."""
    ip = lab.nodes[ROUTER]
    with Meter() as meter:
        for r in range(repeat):
            for tool in rotation(CLI_TOOLS, r):
                m, detail = run_cli(lab, meter, tool, ip, sslyze, work)
                rec = RunRecord(tool, r, round(m.wall_s, 4), round(m.cpu_s, 4), m.proc.returncode, detail)
                records.append(rec)
                _print(rec)
            for tool in rotation((FIXER_API, FIXER_API_CIPHERS, SSLYZE_API), r):
                runs, detail = run_inprocess(lab, tool, ip, sslyze, inner)
                for i, (wall, cpu) in enumerate(runs):
                    records.append(RunRecord(tool, r, round(wall, 5), round(cpu, 5), 0,
                                             {**detail, "iteration": i} if i == 0 else {"iteration": i}))
                _print(RunRecord(tool, r, statistics.median(w for w, _ in runs),
                                 statistics.median(c for _, c in runs)))


# --- results -------------------------------------------------------------------------------------------


def summarize(records: Sequence[RunRecord]) -> list[Summary]:
    out: list[Summary] = []
    for tool in TOOLS:
        runs = [r for r in records if r.tool == tool]
        if runs:
            walls = [r.wall_s for r in runs]
            out.append(Summary(tool, len(runs), min(walls), statistics.median(walls),
                               statistics.median(r.cpu_s for r in runs)))
    return out


def _find(summaries: Sequence[Summary], tool: str) -> Summary | None:
    return next((s for s in summaries if s.tool == tool), None)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def report(summaries: Sequence[Summary]) -> tuple[str, dict[str, Any]]:
    """The printed tables and verdict lines, and the same verdicts as data."""
    lines = [
        f"fixer probe vs sslyze ({' '.join(SSLYZE_COMMANDS)}), one backend: the lab's {ROUTER}; medians",
        "",
        f"{'tool':<31} {'runs':>4}  {'wall best':>10}  {'wall median':>11}  {'CPU median':>10}",
    ]
    for s in summaries:
        lines.append(f"{s.tool:<31} {s.runs:>4}  {_ms(s.wall_best_s):>10}  {_ms(s.wall_median_s):>11}  "
                     f"{_ms(s.cpu_median_s):>10}")
    lines += [
        "",
        f"{'side by side':<29} {'fixer':>9}  {'sslyze':>9}  {'fixer/sslyze':>12}  {'CPU ratio':>9}  "
        f"target ≤{TARGET_RATIO:g}",
    ]
    verdicts: dict[str, Any] = {"rows": {}}
    for row in ROWS:
        fx, sz = _find(summaries, row.fixer), _find(summaries, row.sslyze)
        if fx is None or sz is None:
            continue
        ratio = round(fx.wall_median_s / sz.wall_median_s, 3)
        cpu_ratio = round(fx.cpu_median_s / sz.cpu_median_s, 3) if sz.cpu_median_s else None
        met = ratio <= TARGET_RATIO
        verdicts["rows"][row.name] = {"fixer_wall_median_s": fx.wall_median_s, "sslyze_wall_median_s":
                                      sz.wall_median_s, "ratio": ratio, "cpu_ratio": cpu_ratio, "target_met": met}
        cpu_text = f"{cpu_ratio:.2f}" if cpu_ratio is not None else "n/a"
        lines.append(f"{row.name:<29} {_ms(fx.wall_median_s):>9}  {_ms(sz.wall_median_s):>9}  {ratio:>12.2f}  "
                     f"{cpu_text:>9}  {'met' if met else 'NOT met'}")
    floor = _find(summaries, FIXER_FLOOR)
    cli = _find(summaries, FIXER_CLI)
    if floor is not None and cli is not None:
        verdicts["fixer_cli_startup_s"] = floor.wall_median_s
        lines.append("")
        lines.append(f"fixer's CLI start-up alone (`fixer --version`: interpreter + imports of every command) takes "
                     f"{_ms(floor.wall_median_s)} of the {_ms(cli.wall_median_s)} of `fixer probe`")
    return "\n".join(lines), verdicts


# --- main --------------------------------------------------------------------------------------------


def _versions(sslyze_version: str) -> dict[str, str]:
    fixer_version = subprocess.run([sys.executable, "-m", "fixer.cli", "--version"], cwd=REPO, capture_output=True,
                                   text=True, check=False, timeout=60).stdout.strip()
    return {"fixer": fixer_version, "sslyze": sslyze_version, "python": platform.python_version(),
            "openssl": ssl.OPENSSL_VERSION}



def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 -m bench.bench_probe", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds of every tool (default 7)")
    parser.add_argument("--inner", type=int, default=5,
                        help="timed scans per in-process child, after one warm-up (default 5)")
    parser.add_argument("--sslyze-venv", type=Path, default=DEFAULT_VENV,
                        help=f"venv for sslyze, created when missing (default {DEFAULT_VENV})")
    parser.add_argument("--sslyze-spec", default="sslyze", help="what pip installs there (default: sslyze)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON results go")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.inner < 1:
        parser.error("--repeat and --inner must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    why = lab_unavailable("nginx per router")
    if why is not None:
        print(f"bench: {why}", file=sys.stderr)
        return 2
    from tests.lab import Lab
    try:
        sslyze, sslyze_version = ensure_sslyze(args.sslyze_venv, args.sslyze_spec)
    except (SslyzeUnavailable, OSError, subprocess.SubprocessError) as exc:
        print(f"bench: sslyze is not available, nothing to compare with: {exc}", file=sys.stderr)
        return EXIT_NO_SSLYZE
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    versions = _versions(sslyze_version)
    records: list[RunRecord] = []
    lab_info: dict[str, Any] = {}
    error: str | None = None
    work = Path(tempfile.mkdtemp(prefix="fxp-"))
    try:
        print("bench: scenario lab up", file=sys.stderr, flush=True)
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        lab = Lab.up(work / "lab")
        up_s = time.perf_counter() - t0
        try:
            bench_lab(lab, sslyze, args.repeat, args.inner, work, records)
        finally:
            t0 = time.perf_counter()
            lab.down()
            lab_info = {"up_s": round(up_s, 2), "down_s": round(time.perf_counter() - t0, 2),
                        "target": f"{lab.nodes[ROUTER]}:443", "servername": ROUTER,
                        # other work on the machine skews timings: the 1-minute load, before and after
                        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    except BenchError as exc:
        error = str(exc)
        print(f"bench: FAILED: {exc}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    summaries = summarize(records)
    table, verdicts = report(summaries)
    print(table)
    doc = {
        "benchmark": "probe",
        "started_at": stamp,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": versions,
        "config": {"repeat": args.repeat, "inner": args.inner, "router": ROUTER,
                   "fixer": fixer_argv("IP", False)[1:], "sslyze": sslyze_argv(sslyze, "IP", Path("OUT"))[1:]},
        "lab": lab_info,
        "runs": [asdict(r) for r in records],
        "summary": [asdict(s) for s in summaries],
        "verdicts": verdicts,
        "error": error,
    }
    return write_results(doc, args.results_dir / f"probe-{stamp}.json", error)


if __name__ == "__main__":
    sys.exit(main())
