"""Benchmark: `fixer pcap` against tshark extracting the same handshake fields from one lab-made capture.

    python3 -m bench.bench_pcap --repeat 7 --inner 3

The capture (>= 10,000 packets) is made by bench/pcap_capture.py in the scenario lab (tests.lab, root needed)
unless a copy made by the same generator is cached (``~/.cache/fixer-bench/pcap/capture-<hash>.pcap``, the hash
is over the generator's source: the traffic plan, the client and server scripts, the tcpdump command). tcpdump
``-i any -s 0`` runs in the lab's bridge netns while several client processes make mixed TLS traffic against
the routers (nginx on 443), the TLS backends and a bulk-transfer TLS server on an odd port (8443): short TLS
1.0/1.2/1.3 handshakes with and without SNI, the backends' failures (protocol mismatch, SNI required,
untrusted/expired/incomplete chains, wrong host name, no common cipher, connection refused), bulk downloads and
uploads. Then the lab goes down; the timed part reads the file only (no network).

Compared, side by side on that file (each tool in its own process, rotating which goes first):

- ``fixer pcap FILE --format json`` (the CLI: interpreter start-up, imports, analysis, the JSON report);
- ``tshark -r FILE -n -o ... -Y 'tls.handshake or tls.alert_message' -T fields -e ...`` (``tshark_argv``): the
  same handshake and alert fields of every TLS record carrying a handshake message or an alert, with TCP and TLS
  reassembly on (out-of-order segments too) and TLS found on any port;
- fixer's engine in-process: ``fixer.pcap.analyze.analyze([FILE])`` in a child interpreter, after one warm-up
  run (imports, caches), timed ``--inner`` times;
- the start-up floors: ``fixer --version`` and tshark on a one-packet capture with the same arguments.

Measured per run: wall time, CPU (user + system, from ``wait4``) and peak RSS of the process. Both tools must
agree on what the capture holds (ClientHellos, ServerHellos, alerts; within a small tolerance), else the bench
fails. No timing is asserted; the target (fixer at least 1.5x faster than tshark, medians, wall) is reported as
met or not. Results: a table, and bench/results/pcap-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.bench_check import REPO, BenchError, profile_summary, write_results
from bench.pcap_capture import CACHE_DIR, ensure_capture

RESULTS_DIR = REPO / "bench" / "results"

TARGET_SPEEDUP = 1.5  # tshark's wall time / fixer's, medians
RUN_TIMEOUT_S = 600.0
EXIT_NO_TSHARK = 3
TIMES = "\N{MULTIPLICATION SIGN}"

FIXER_CLI = "fixer pcap (CLI)"
TSHARK_CLI = "tshark (CLI)"
FIXER_API = "fixer analyze() (in-process)"
FIXER_FLOOR = "fixer --version (start-up)"
TSHARK_FLOOR = "tshark, 1-packet file (start-up)"
CLI_TOOLS = (FIXER_CLI, TSHARK_CLI, FIXER_FLOOR, TSHARK_FLOOR)
TOOLS = (FIXER_CLI, TSHARK_CLI, FIXER_API, FIXER_FLOOR, TSHARK_FLOOR)


@dataclass(frozen=True)
class Row:
    name: str
    fixer: str
    tshark: str


ROWS = (
    Row("CLI: fixer pcap vs tshark", FIXER_CLI, TSHARK_CLI),
    Row("engine analyze() vs tshark CLI", FIXER_API, TSHARK_CLI),
    Row("start-up floors", FIXER_FLOOR, TSHARK_FLOOR),
)


@dataclass(frozen=True)
class RunRecord:
    tool: str
    repeat: int
    wall_s: float
    cpu_s: float
    maxrss_mb: float  # peak resident set of the process (ru_maxrss)
    exit_code: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Summary:
    tool: str
    runs: int
    wall_best_s: float
    wall_median_s: float
    cpu_median_s: float
    maxrss_mb: float  # the largest peak RSS of any run


# --- tshark ------------------------------------------------------------------------------------------


class TsharkUnavailable(RuntimeError):
    """tshark is not installed and could not be installed: nothing to compare with."""


def tshark_version(tshark: str) -> str:
    out = subprocess.run([tshark, "--version"], capture_output=True, text=True, timeout=60, check=False).stdout
    return out.splitlines()[0].strip() if out else "?"


def ensure_tshark() -> tuple[str, str]:
    """(tshark's path, its version line); installs Debian's tshark package (apt-get) when it is missing."""
    found = shutil.which("tshark")
    if found:
        return found, tshark_version(found)
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise TsharkUnavailable("tshark is not installed, and this is not root with apt-get to install it "
                                "(Debian: apt-get install tshark)")
    print("bench: tshark is missing; installing Debian's tshark package (apt-get, non-interactive; "
          "wireshark-common's non-root capture question preseeded to 'no')", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["debconf-set-selections"], input="wireshark-common wireshark-common/install-setuid "
                       "boolean false\n", text=True, capture_output=True, env=env, timeout=60, check=False)
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "tshark"]
        done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900, check=False)
        if done.returncode != 0:  # an empty or stale package list: update once, then try again
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True, env=env, timeout=600,
                           check=False)
            done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise TsharkUnavailable(f"apt-get install tshark failed: {exc}") from exc
    found = shutil.which("tshark")
    if done.returncode != 0 or not found:
        raise TsharkUnavailable(f"apt-get install tshark failed (exit {done.returncode}): "
                                f"{(done.stderr or done.stdout).strip()[-800:]}")
    return found, tshark_version(found)


# --- the commands ------------------------------------------------------------------------------------

# tshark's fields for what fixer reads from each handshake record (the mapping is in bench/README.md)
TSHARK_FIELDS = (
    "frame.time_epoch",
    "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",  # endpoints, who sent it
    "tcp.seq_raw",  # the segment: the same record seen twice (-i any) is one record
    "tls.record.content_type",  # 21 without a description: an encrypted alert
    "tls.record.version",
    "tls.handshake.type",
    "tls.handshake.version",  # ClientHello legacy_version / ServerHello version
    "tls.handshake.extensions.supported_version",
    "tls.handshake.ciphersuite",  # offered (ClientHello) / chosen (ServerHello)
    "tls.handshake.extensions_server_name",
    "tls.handshake.extension.type",
    "tls.handshake.extensions_alpn_str",
    "x509sat.uTF8String", "x509sat.printableString",  # subject and issuer attribute values
    "x509ce.dNSName", "x509ce.iPAddress",  # SANs
    "x509af.utcTime", "x509af.generalizedTime",  # validity
    "tls.alert_message.level", "tls.alert_message.desc",
)
TSHARK_OPTIONS = (
    "-n",  # no name resolution (fixer resolves nothing)
    "-o", "tcp.desegment_tcp_streams:TRUE",  # reassemble TCP (the default, stated)
    "-o", "tls.desegment_ssl_records:TRUE",  # TLS records and handshake messages across segments (default, stated)
    "-o", "tcp.reassemble_out_of_order:TRUE",  # fixer reorders out-of-order segments; tshark's default is off
    "--enable-heuristic", "tls_tcp",  # TLS on any port, as fixer finds it (on by default in 4.0, stated)
)
TSHARK_FILTER = "tls.handshake or tls.alert_message"


def tshark_argv(tshark: str, capture: Path) -> list[str]:
    argv = [tshark, "-r", str(capture), *TSHARK_OPTIONS, "-Y", TSHARK_FILTER, "-T", "fields",
            "-E", "occurrence=a", "-E", "aggregator=,"]
    for name in TSHARK_FIELDS:
        argv += ["-e", name]
    return argv


def fixer_argv(capture: Path) -> list[str]:
    return [sys.executable, "-m", "fixer.cli", "pcap", str(capture), "--format", "json"]


# one child interpreter: imports, one warm-up analysis (caches), `inner` timed ones; prints one JSON document
FIXER_INPROCESS = """
import json, resource, sys, time
from fixer.pcap.analyze import analyze
from fixer.pcap.render import analysis_to_dict
path, inner = sys.argv[1], int(sys.argv[2])
analysis = analyze([path])
runs = []
for _ in range(inner):
    analysis = None
    w, c = time.perf_counter(), time.process_time()
    analysis = analyze([path])
    runs.append([time.perf_counter() - w, time.process_time() - c])
maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"runs": runs, "maxrss_mb": maxrss_mb, "report": analysis_to_dict(analysis)}))
"""

# --- what each tool found: the sanity check ---------------------------------------------------------------

# RFC 8446 / IANA alert descriptions (tshark prints the numbers, fixer the names)
ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
          22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure", 41: "no_certificate",
          42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
          46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied",
          50: "decode_error", 51: "decrypt_error", 60: "export_restriction", 70: "protocol_version",
          71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
          100: "no_renegotiation", 109: "missing_extension", 110: "unsupported_extension",
          111: "certificate_unobtainable", 112: "unrecognized_name", 113: "bad_certificate_status_response",
          114: "bad_certificate_hash_value", 115: "unknown_psk_identity", 116: "certificate_required",
          120: "no_application_protocol"}
VERSION_NAMES = {0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}
CHECKS = ("client_hellos", "client_hellos_with_sni", "server_hellos", "certificate_messages", "plaintext_alerts",
          "encrypted_alert_records_tls12")
TOLERANCE_ABS, TOLERANCE_REL = 3, 0.005  # "a few": 3, or 0.5 % of the count when that is more


def _vname(text: str) -> str:
    code = int(text, 16) if text.startswith("0x") else int(text)
    return VERSION_NAMES.get(code, f"0x{code:04x}")


def tshark_counts(stdout: str) -> dict[str, Any]:
    """What tshark's rows show: one row per frame that completes a handshake message or alert record (after
    reassembly); a record that -i any captured twice is dissected once (the copy is a retransmission), but
    rows are keyed by (endpoints, raw sequence number) anyway."""
    n = len(TSHARK_FIELDS)
    col = {name: i for i, name in enumerate(TSHARK_FIELDS)}
    seen: set[tuple[str, ...]] = set()
    hellos = sni = certs = encrypted = 0
    server_hellos: Counter[str] = Counter()
    plain: Counter[str] = Counter()
    for line in stdout.splitlines():
        f = line.split("\t")
        if len(f) != n:
            raise ValueError(f"a row with {len(f)} fields, expected {n}: {line[:200]!r}")
        src = f[col["ip.src"]] or f[col["ipv6.src"]]
        dst = f[col["ip.dst"]] or f[col["ipv6.dst"]]
        key = (src, f[col["tcp.srcport"]], dst, f[col["tcp.dstport"]], f[col["tcp.seq_raw"]])
        if key in seen:
            continue
        seen.add(key)
        types = [t for t in f[col["tls.handshake.type"]].split(",") if t]
        if "1" in types:
            hellos += 1
            sni += bool(f[col["tls.handshake.extensions_server_name"]])
        if "2" in types:
            chosen = f[col["tls.handshake.extensions.supported_version"]].split(",")[0]
            server_hellos[_vname(chosen or f[col["tls.handshake.version"]].split(",")[0])] += 1
        certs += types.count("11")
        descs = [int(d) for d in f[col["tls.alert_message.desc"]].split(",") if d]
        for d in descs:
            plain[ALERTS.get(d, str(d))] += 1
        encrypted += f[col["tls.record.content_type"]].split(",").count("21") - len(descs)
    return {"rows": len(seen), "client_hellos": hellos, "client_hellos_with_sni": sni,
            "server_hellos": dict(sorted(server_hellos.items())), "certificate_messages": certs,
            "plaintext_alerts": dict(sorted(plain.items())), "encrypted_alert_records_tls12": encrypted}


def fixer_counts(doc: dict[str, Any]) -> dict[str, Any]:
    """The same counts from fixer's JSON report (fixer/pcap/schema.json)."""
    conns = doc["connections"]
    server_hellos: Counter[str] = Counter()
    plain: Counter[str] = Counter()
    verdicts: Counter[str] = Counter()
    hellos = sni = certs = encrypted = 0
    for c in conns:
        verdicts[c["verdict"]["kind"]] += 1
        ch, sh = c["client_hello"], c["server_hello"]
        if ch is not None:
            hellos += 1
            sni += ch["server_name"] is not None
        if sh is not None:
            server_hellos[sh["version"]] += 1
        certs += bool(c["certificates"])
        tls13 = sh is not None and sh["version"] == "TLSv1.3"
        for a in c["alerts"]:
            if not a["encrypted"]:
                plain[a["description"]] += 1
            elif not tls13:  # TLS 1.3 alerts travel as application_data: no alert record for tshark to count
                encrypted += 1
    return {"packets": doc["packets"], "connections": len(conns), "verdicts": dict(sorted(verdicts.items())),
            "client_hellos": hellos, "client_hellos_with_sni": sni,
            "server_hellos": dict(sorted(server_hellos.items())), "certificate_messages": certs,
            "plaintext_alerts": dict(sorted(plain.items())), "encrypted_alert_records_tls12": encrypted,
            "partial": doc["partial"], "notes": doc["notes"][:10]}


def _close(a: int, b: int) -> bool:
    return abs(a - b) <= max(TOLERANCE_ABS, TOLERANCE_REL * max(a, b))


def compare_counts(fixer: dict[str, Any], tshark: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(lines of the side-by-side table, the disagreements beyond the tolerance)."""
    lines, bad = [], []
    for check in CHECKS:
        a, b = fixer[check], tshark[check]
        if isinstance(a, dict):
            for key in sorted(set(a) | set(b), key=str):
                x, y = int(a.get(key, 0)), int(b.get(key, 0))
                ok = _close(x, y)
                lines.append(f"  {check + ' ' + str(key):<46} {x:>7} {y:>7}  {'' if ok else 'DISAGREE'}")
                if not ok:
                    bad.append(f"{check} {key}: fixer {x}, tshark {y}")
        else:
            ok = _close(int(a), int(b))
            lines.append(f"  {check:<46} {a:>7} {b:>7}  {'' if ok else 'DISAGREE'}")
            if not ok:
                bad.append(f"{check}: fixer {a}, tshark {b}")
    return lines, bad


# --- running ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float
    maxrss_mb: float
    exit_code: int
    stdout: str
    stderr: str
    t_fork: float = 0.0  # time.perf_counter (CLOCK_MONOTONIC, the same in every process) at fork and at reaping
    t_reaped: float = 0.0


# Every measured tool starts from this small launcher (python -I -S: a few MB), which forks, execs the tool,
# times it, and reads its CPU and peak RSS from wait4. Linux carries the peak RSS of the address space a process
# had before exec into its ru_maxrss: a tool forked straight from this bench would report at least the bench's
# own peak (tens of MB after reading a report), so `fixer --version` would seem to need 40 MB.
LAUNCHER = """
import json, os, signal, sys, time
out, timeout, argv = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))  # not reaped yet: pid is still ours
signal.setitimer(signal.ITIMER_REAL, timeout)
while True:
    try:
        _, status, ru = os.wait4(pid, 0)
        break
    except InterruptedError:
        continue
wall = time.perf_counter() - t0
signal.setitimer(signal.ITIMER_REAL, 0)
with open(out, "w") as fh:
    json.dump({"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_kb": ru.ru_maxrss,
               "exit_code": os.waitstatus_to_exitcode(status), "t_fork": t0, "t_reaped": t0 + wall}, fh)
"""


def run_measured(argv: Sequence[str], work: Path, timeout: float = RUN_TIMEOUT_S) -> Run:
    """One tool to completion, through LAUNCHER: wall time, and the tool's CPU (user + system) and peak RSS from
    wait4 (neither tool starts children of its own here). stdout and stderr go to files: nothing waits on a pipe."""
    out_path, err_path, measure = work / "run.stdout", work / "run.stderr", work / "run.measure.json"
    measure.unlink(missing_ok=True)
    with out_path.open("wb") as out, err_path.open("wb") as err:
        done = subprocess.run([sys.executable, "-I", "-S", "-c", LAUNCHER, str(measure), str(timeout), *argv],
                              cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout + 60,
                              check=False)
    stdout, stderr = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    try:
        m = json.loads(measure.read_text())
    except (OSError, ValueError) as exc:
        raise BenchError(f"the launcher of {argv[0]} failed (exit {done.returncode}): {exc}\n{stderr[-1500:]}") \
            from exc
    return Run(float(m["wall_s"]), float(m["cpu_s"]), m["maxrss_kb"] / 1024, int(m["exit_code"]), stdout, stderr,
               float(m["t_fork"]), float(m["t_reaped"]))


def _failure(what: str, run: Run, why: str) -> BenchError:
    tail = "\n".join
    return BenchError(f"{what}: {why} (exit {run.exit_code})\n--- stdout (tail) ---\n"
                      f"{tail(run.stdout.splitlines()[-15:])}\n--- stderr (tail) ---\n"
                      f"{tail(run.stderr.splitlines()[-25:])}")


FIXER_EXIT_OK = (0, 1, 4)  # 1: some handshake failed (the capture has failures on purpose); 4: partial


def one_packet_capture(capture: Path, out: Path) -> None:
    """The capture's header and first packet: tshark's start-up floor with the same arguments."""
    with capture.open("rb") as fh:
        head = fh.read(24)
        endian = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        rec = fh.read(16)
        body = fh.read(struct.unpack(endian + "IIII", rec)[2])
    out.write_bytes(head + rec + body)


def run_tool(tool: str, capture: Path, tiny: Path, tshark: str, inner: int,
             work: Path) -> list[tuple[Run, dict[str, Any]]]:
    """Run one tool once (the in-process child: `inner` timed analyses); check its result; return the runs."""
    if tool == FIXER_API:
        run = run_measured([sys.executable, "-c", FIXER_INPROCESS, str(capture), str(inner)], work)
        if run.exit_code != 0:
            raise _failure(tool, run, "exit code is not 0")
        try:
            doc = json.loads(run.stdout)
            counts = fixer_counts(doc["report"])
            timed = [(float(w), float(c)) for w, c in doc["runs"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise _failure(tool, run, f"unreadable result: {exc}") from exc
        return [(Run(w, c, float(doc["maxrss_mb"]), 0, "", ""), counts) for w, c in timed]
    if tool == FIXER_CLI:
        run = run_measured(fixer_argv(capture), work)
        if run.exit_code not in FIXER_EXIT_OK:
            raise _failure(tool, run, f"exit code is not one of {FIXER_EXIT_OK}")
        try:
            counts = fixer_counts(json.loads(run.stdout))
        except (ValueError, KeyError, TypeError) as exc:
            raise _failure(tool, run, f"unreadable JSON report: {exc}") from exc
        return [(run, counts)]
    if tool == TSHARK_CLI:
        run = run_measured(tshark_argv(tshark, capture), work)
        if run.exit_code != 0:
            raise _failure(tool, run, "exit code is not 0")
        try:
            counts = tshark_counts(run.stdout)
        except ValueError as exc:
            raise _failure(tool, run, str(exc)) from exc
        return [(run, counts)]
    argv = [sys.executable, "-m", "fixer.cli", "--version"] if tool == FIXER_FLOOR else tshark_argv(tshark, tiny)
    run = run_measured(argv, work)
    if run.exit_code != 0:
        raise _failure(tool, run, "exit code is not 0")
    return [(run, {})]


def rotation(tools: Sequence[str], repeat: int) -> list[str]:
    """The order of the tools in repeat `repeat`: rotated by one each time, so none is always first."""
    k = repeat % len(tools)
    return [*tools[k:], *tools[:k]]


def _print(rec: RunRecord) -> None:
    print(f"  repeat {rec.repeat + 1}  {rec.tool:<34} wall {rec.wall_s * 1000:8.1f} ms  cpu "
          f"{rec.cpu_s * 1000:8.1f} ms  rss {rec.maxrss_mb:6.1f} MB", file=sys.stderr, flush=True)


def bench(capture: Path, tshark: str, repeat: int, inner: int, work: Path, records: list[RunRecord],
          found: dict[str, dict[str, Any]]) -> None:
    """Append one record per run to ``records``; ``found``: what each tool found (its first run)."""
    tiny = work / "one-packet.pcap"
    one_packet_capture(capture, tiny)
    for r in range(repeat):
        for tool in rotation((*CLI_TOOLS, FIXER_API), r):
            runs = run_tool(tool, capture, tiny, tshark, inner, work)
            for i, (run, counts) in enumerate(runs):
                if counts and tool not in found:
                    found[tool] = counts
                rec = RunRecord(tool, r, round(run.wall_s, 4), round(run.cpu_s, 4), round(run.maxrss_mb, 1),
                                run.exit_code, {"iteration": i} if tool == FIXER_API else {})
                records.append(rec)
            if tool == FIXER_API:
                _print(RunRecord(tool, r, statistics.median(x.wall_s for x, _ in runs),
                                 statistics.median(x.cpu_s for x, _ in runs), runs[0][0].maxrss_mb))
            else:
                _print(records[-1])
        if r == 0:  # after the first round: do both tools see the same handshakes?
            check_agreement(found)


def check_agreement(found: dict[str, dict[str, Any]]) -> list[str]:
    lines, bad = compare_counts(found[FIXER_CLI], found[TSHARK_CLI])
    print(f"  {'what the capture holds':<46} {'fixer':>7} {'tshark':>7}", file=sys.stderr)
    print("\n".join(lines), file=sys.stderr, flush=True)
    if found[FIXER_API] != found[FIXER_CLI]:
        bad.append("fixer's engine and CLI disagree")
    if bad:
        raise BenchError("fixer and tshark disagree on what the capture holds (more than "
                         f"max({TOLERANCE_ABS}, {TOLERANCE_REL:.1%})): " + "; ".join(bad))
    return lines


# --- results -------------------------------------------------------------------------------------------


def summarize(records: Sequence[RunRecord]) -> list[Summary]:
    out: list[Summary] = []
    for tool in TOOLS:
        runs = [r for r in records if r.tool == tool]
        if runs:
            walls = [r.wall_s for r in runs]
            out.append(Summary(tool, len(runs), min(walls), statistics.median(walls),
                               statistics.median(r.cpu_s for r in runs), max(r.maxrss_mb for r in runs)))
    return out


def _find(summaries: Sequence[Summary], tool: str) -> Summary | None:
    return next((s for s in summaries if s.tool == tool), None)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def report(summaries: Sequence[Summary], packets: int) -> tuple[str, dict[str, Any]]:
    """The printed tables and verdict lines, and the same verdicts as data."""
    lines = [
        f"fixer pcap vs tshark on one capture of {packets} packets; medians",
        "",
        f"{'tool':<35} {'runs':>4}  {'wall best':>10}  {'wall median':>11}  {'CPU median':>10}  {'peak RSS':>9}",
    ]
    for s in summaries:
        lines.append(f"{s.tool:<35} {s.runs:>4}  {_ms(s.wall_best_s):>10}  {_ms(s.wall_median_s):>11}  "
                     f"{_ms(s.cpu_median_s):>10}  {s.maxrss_mb:>6.0f} MB")
    lines += ["", f"{'side by side':<32} {'fixer':>9}  {'tshark':>9}  {'tshark/fixer':>12}  {'CPU ratio':>9}  "
              f"target ≥{TARGET_SPEEDUP:g}{TIMES}"]
    verdicts: dict[str, Any] = {"rows": {}}
    for row in ROWS:
        fx, ts = _find(summaries, row.fixer), _find(summaries, row.tshark)
        if fx is None or ts is None:
            continue
        ratio = round(ts.wall_median_s / fx.wall_median_s, 3)
        cpu_ratio = round(ts.cpu_median_s / fx.cpu_median_s, 3) if fx.cpu_median_s else None
        met = ratio >= TARGET_SPEEDUP
        target = row.fixer != FIXER_FLOOR
        verdicts["rows"][row.name] = {"fixer_wall_median_s": fx.wall_median_s, "tshark_wall_median_s":
                                      ts.wall_median_s, "speedup": ratio, "cpu_speedup": cpu_ratio,
                                      "target_met": met if target else None}
        cpu_text = f"{cpu_ratio:.2f}" if cpu_ratio is not None else "n/a"
        lines.append(f"{row.name:<32} {_ms(fx.wall_median_s):>9}  {_ms(ts.wall_median_s):>9}  {ratio:>11.2f}{TIMES}  "
                     f"{cpu_text:>9}  {('met' if met else 'NOT met') if target else '(floor)'}")
    fx_cli, ts_cli = _find(summaries, FIXER_CLI), _find(summaries, TSHARK_CLI)
    fx_floor, ts_floor = _find(summaries, FIXER_FLOOR), _find(summaries, TSHARK_FLOOR)
    if fx_cli and ts_cli and fx_floor and ts_floor:
        fx_net, ts_net = fx_cli.wall_median_s - fx_floor.wall_median_s, ts_cli.wall_median_s - ts_floor.wall_median_s
        verdicts["work_without_startup_s"] = {"fixer": round(fx_net, 4), "tshark": round(ts_net, 4)}
        if fx_net > 0:
            lines.append(f"{'CLI minus start-up floor':<32} {_ms(fx_net):>9}  {_ms(ts_net):>9}  "
                         f"{ts_net / fx_net:>11.2f}{TIMES}  {'':>9}  (information)")
    cli = verdicts["rows"].get(ROWS[0].name)
    if cli is not None:
        verdicts["target_met"] = cli["target_met"]
        lines += ["", f"target: fixer pcap ≥{TARGET_SPEEDUP:g}{TIMES} faster than tshark (CLI, wall, medians): "
                  f"{'met' if cli['target_met'] else 'NOT met'} ({cli['speedup']:.2f}{TIMES})"]
    return "\n".join(lines), verdicts


# --- profile -------------------------------------------------------------------------------------------


def _importtime(stderr: str, top: int = 14) -> dict[str, Any]:
    """`python -X importtime` lines -> the total, own time per top-level package, and the heaviest imports at
    any depth (cumulative, with their nesting depth) so that a chain like a -> b -> cryptography shows."""
    rows = []
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), (len(m.group(3)) - 1) // 2, m.group(4)))
    own_by_package: Counter[str] = Counter()
    for own, _, _, name in rows:
        own_by_package[name.split(".")[0]] += own
    heaviest = sorted(rows, key=lambda r: r[1], reverse=True)[:top]
    return {"total_ms": round(sum(c for _, c, depth, _ in rows if depth == 0) / 1000, 1),
            "own_by_package_ms": {k: round(v / 1000, 1) for k, v in own_by_package.most_common(top)},
            "heaviest": [f"{c / 1000:7.1f} ms  {'  ' * depth}{name}" for _, c, depth, name in heaviest]}


# The CLI's phases, timed one after the other in one interpreter (what `fixer pcap FILE --format json` does,
# split at the seams of fixer.pcap's API); `compact_dumps_s` is a what-if: the same dict without indent (C encoder).
PHASES = """
import time
t_first = time.perf_counter()
import json, os, sys
t0 = time.perf_counter()
import fixer.cli
t1 = time.perf_counter()
from fixer.pcap.analyze import judge_all
from fixer.pcap.reader import read_connections
from fixer.pcap.render import analysis_to_dict, render_json
t2 = time.perf_counter()
path = sys.argv[1]
read = read_connections([path])
t3 = time.perf_counter()
analysis = judge_all([path], read.connections, read.packets, read.notes, read.partial)
t4 = time.perf_counter()
doc = analysis_to_dict(analysis)
t5 = time.perf_counter()
text = json.dumps(doc, indent=2, ensure_ascii=False) + "\\n"
t6 = time.perf_counter()
with open(os.devnull, "w") as out:
    out.write(text)
t7 = time.perf_counter()
compact = json.dumps(doc, ensure_ascii=False)
t8 = time.perf_counter()
same = render_json(analysis) == text
del doc, compact  # what the CLI holds at exit: the analysis and the report text
t_last = time.perf_counter()
print(json.dumps({"t_first": t_first, "t_last": t_last, "import_json_os_sys_s": t0 - t_first,
                  "import_fixer_cli_s": t1 - t0, "import_pcap_path_s": t2 - t1, "read_connections_s": t3 - t2,
                  "judge_s": t4 - t3, "analysis_to_dict_s": t5 - t4, "json_dumps_indent2_s": t6 - t5,
                  "write_s": t7 - t6, "compact_dumps_s": t8 - t7, "render_json_is_dict_plus_dumps": same,
                  "json_bytes": len(text)}))
"""


def profile_fixer(capture: Path, work: Path, prof_out: Path) -> dict[str, Any]:
    """fixer pcap once under cProfile, once with -X importtime, and its phases timed in one interpreter."""
    argv = fixer_argv(capture)
    prof = run_measured([sys.executable, "-m", "cProfile", "-o", str(prof_out), *argv[1:]], work)
    if prof.exit_code not in FIXER_EXIT_OK:
        raise _failure("fixer pcap under cProfile", prof, "exit code")
    imports = run_measured([sys.executable, "-X", "importtime", *argv[1:]], work)
    if imports.exit_code not in FIXER_EXIT_OK:
        raise _failure("fixer pcap -X importtime", imports, "exit code")
    phases: dict[str, Any] | None = None
    timed = [run_measured([sys.executable, "-c", PHASES, str(capture)], work) for _ in range(3)]
    if all(t.exit_code == 0 for t in timed):
        docs = [json.loads(t.stdout) for t in timed]
        for d, t in zip(docs, timed, strict=True):
            d["startup_s"] = d["t_first"] - t.t_fork  # fork + exec + interpreter start-up (site, encodings)
            d["exit_s"] = t.t_reaped - d["t_last"]  # finalization: freeing the analysis, the report
        phases = {key: round(statistics.median(d[key] for d in docs), 4) if isinstance(docs[0][key], float)
                  else docs[0][key] for key in docs[0] if not key.startswith("t_")}
    else:  # fixer.pcap's internal API moved: the profile still stands
        print(f"bench: the phase timing failed: {timed[0].stderr.strip()[-300:]}", file=sys.stderr)
    return {"wall_s": round(prof.wall_s, 3), "cpu_s": round(prof.cpu_s, 3), "file": str(prof_out),
            "imports": _importtime(imports.stderr), "phases": phases, **profile_summary(prof_out, top=25)}


# --- main --------------------------------------------------------------------------------------------


def _versions(tshark_line: str) -> dict[str, str]:
    fixer_version = subprocess.run([sys.executable, "-m", "fixer.cli", "--version"], cwd=REPO, capture_output=True,
                                   text=True, check=False, timeout=60).stdout.strip()
    dpkt = subprocess.run([sys.executable, "-c", "import dpkt; print(dpkt.__version__)"], capture_output=True,
                          text=True, check=False, timeout=60).stdout.strip()
    return {"fixer": fixer_version, "tshark": tshark_line, "python": platform.python_version(), "dpkt": dpkt}


def print_profile(profile: dict[str, Any]) -> None:
    phases = profile["phases"]
    if phases is not None:
        print("\nWhere fixer pcap's time goes (phases timed in one interpreter, medians of 3; no profiler):")
        for key, label in (("startup_s", "interpreter start-up (fork, exec, site)"),
                           ("import_json_os_sys_s", "import json, os, sys"),
                           ("import_fixer_cli_s", "import fixer.cli"),
                           ("import_pcap_path_s", "imports of the pcap path (analyze, reader, render)"),
                           ("read_connections_s", "read_connections: packets, TCP, TLS"),
                           ("judge_s", "judge: verdicts"),
                           ("analysis_to_dict_s", "analysis_to_dict"),
                           ("json_dumps_indent2_s", f"json.dumps(indent=2): {phases['json_bytes'] / 1e6:.1f} MB"),
                           ("write_s", "write"),
                           ("exit_s", "exit: freeing the analysis and the report")):
            print(f"  {_ms(phases[key]):>9}  {label}")
        print(f"  {_ms(phases['compact_dumps_s']):>9}  (what-if: json.dumps without indent, the C encoder)")
    imports = profile["imports"]
    print(f"\n-X importtime: {imports['total_ms']:.0f} ms of imports; own time by package (ms): "
          + ", ".join(f"{k} {v:g}" for k, v in imports["own_by_package_ms"].items()))
    print("heaviest imports (cumulative, nested by depth):")
    print("\n".join(imports["heaviest"]))
    print(f"\nfixer pcap under cProfile (main thread; the profiler slows it: wall {profile['wall_s']:.2f} s, "
          f"CPU {profile['cpu_s']:.2f} s). Profiled CPU {profile['profiled_cpu_s']:.3f} s, of which imports "
          f"{profile['import_cpu_s']:.3f} s. Top 25 by cumulative time, import machinery left out:")
    print(profile["top_cumulative"])
    print("\nTop 25 by own time (tottime):")
    print(profile["top_tottime"])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 -m bench.bench_pcap", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds of every tool (default 7)")
    parser.add_argument("--inner", type=int, default=3,
                        help="timed analyses per in-process child, after one warm-up (default 3)")
    parser.add_argument("--capture", type=Path, help="analyse this pcap instead of the lab-made one (no lab)")
    parser.add_argument("--fresh-capture", action="store_true", help="make a new capture even if one is cached")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR, help=f"where captures are kept ({CACHE_DIR})")
    parser.add_argument("--profile", action="store_true",
                        help="profile one fixer run (cProfile, -X importtime) even when the target is met")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON results go")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.inner < 1:
        parser.error("--repeat and --inner must be at least 1")
    if args.capture is not None and not args.capture.is_file():
        parser.error(f"--capture {args.capture}: no such file")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.capture is None and os.geteuid() != 0:
        print("bench: making the capture needs root (the lab: network namespaces, tcpdump); or pass --capture FILE",
              file=sys.stderr)
        return 2
    try:
        tshark, tshark_line = ensure_tshark()
    except TsharkUnavailable as exc:
        print(f"bench: tshark is not available, nothing to compare with: {exc}", file=sys.stderr)
        return EXIT_NO_TSHARK
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    versions = _versions(tshark_line)
    records: list[RunRecord] = []
    found: dict[str, dict[str, Any]] = {}
    capture_info: dict[str, Any] = {}
    agreement: list[str] = []
    profile: dict[str, Any] | None = None
    error: str | None = None
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="fxpcap-"))
    try:
        capture, capture_info = ensure_capture(args, work)
        capture_info = {**capture_info, "file": str(capture)}
        print(f"bench: {capture_info['packets']} packets in {capture}", file=sys.stderr, flush=True)
        load_before = os.getloadavg()[0]
        bench(capture, tshark, args.repeat, args.inner, work, records, found)
        agreement = compare_counts(found[FIXER_CLI], found[TSHARK_CLI])[0]
    except BenchError as exc:
        error = str(exc)
        print(f"bench: FAILED: {exc}", file=sys.stderr)
    summaries = summarize(records)
    table, verdicts = report(summaries, int(capture_info.get("packets", 0)))
    if error is None and (args.profile or verdicts.get("target_met") is False):
        try:
            profile = profile_fixer(capture, work, args.results_dir / f"pcap-{stamp}.prof")
        except BenchError as exc:
            print(f"bench: profiling failed: {exc}", file=sys.stderr)
    load_after = os.getloadavg()[0]
    shutil.rmtree(work, ignore_errors=True)
    print(table)
    if agreement:
        print(f"\n{'what the capture holds':<48} {'fixer':>7} {'tshark':>7}")
        print("\n".join(agreement))
    if profile is not None:
        print_profile(profile)
    doc = {
        "benchmark": "pcap",
        "started_at": stamp,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_1m": [round(load_before, 2), round(load_after, 2)]},
        "versions": versions,
        "config": {"repeat": args.repeat, "inner": args.inner, "fixer": fixer_argv(Path("FILE"))[1:],
                   "tshark": tshark_argv("tshark", Path("FILE")), "target_speedup": TARGET_SPEEDUP},
        "capture": capture_info,
        "found": found,
        "runs": [asdict(r) for r in records],
        "summary": [asdict(s) for s in summaries],
        "verdicts": verdicts,
        "profile": profile,
        "error": error,
    }
    return write_results(doc, args.results_dir / f"pcap-{stamp}.json", error)


if __name__ == "__main__":
    sys.exit(main())
