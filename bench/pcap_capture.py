"""The capture `bench.bench_pcap` analyses: >= 10,000 packets of mixed TLS traffic made in the scenario lab.

tcpdump ``-i any -s 0`` runs in the lab's bridge netns while several client processes (Python ssl on threads,
openssl s_client) make short TLS 1.0/1.2/1.3 handshakes with and without SNI against the routers and backends
(their failures included) and bulk transfers against a TLS server on an odd port. The file is cached under
``CACHE_DIR`` keyed by a hash of this generator's source (`generator_hash`), so a changed plan makes a new one.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.bench_check import BenchError

if TYPE_CHECKING:
    from tests.lab import Lab

CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fixer-bench" / "pcap"
MIN_PACKETS = 10_000
ODD_PORT = 8443  # the bulk server's port: no dissector registered on it in tshark (`tshark -G decodes`)
BULK_HOST = "bastion"  # the node whose netns runs the bulk server
SEED = 5
TRAFFIC_TIMEOUT_S = 900.0

# --- the traffic --------------------------------------------------------------------------------------
#
# Everything from here to "the capture" makes the capture: its source is hashed into the cache key.

# One client process: runs its jobs (a JSON list) on N threads with Python's ssl; prints one outcome per job.
CLIENT_SCRIPT = r"""
import json, socket, ssl, sys, threading
jobs = json.load(open(sys.argv[1]))
threads, ca = int(sys.argv[2]), sys.argv[3]
V = {"1.0": ssl.TLSVersion.TLSv1, "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
results = [None] * len(jobs)
order = iter(range(len(jobs)))
lock = threading.Lock()

def context(job, cache):
    key = (job["min"], job["max"], job["ciphers"], job["verify"], job["sni"] is not None)
    ctx = cache.get(key)
    if ctx is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version, ctx.maximum_version = V[job["min"]], V[job["max"]]
        if job["ciphers"]:
            ctx.set_ciphers(job["ciphers"])
        if job["verify"]:
            ctx.load_verify_locations(ca)
            ctx.check_hostname = job["sni"] is not None
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        cache[key] = ctx
    return ctx

def read_all(s):
    n = 0
    while True:
        try:
            data = s.recv(262144)
        except ssl.SSLEOFError:  # the peer closed without close_notify after its answer: fine, as for curl
            if n:
                return n
            raise
        if not data:
            return n
        n += len(data)

def one(job, cache):
    raw = socket.create_connection((job["ip"], job["port"]), timeout=20)
    try:
        s = context(job, cache).wrap_socket(raw, server_hostname=job["sni"])
    except BaseException:
        raw.close()
        raise
    with s:
        kind, _, size = job["request"].partition(":")
        if kind == "http":
            host = job["sni"] or job["ip"]
            s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            got = read_all(s)
        elif kind == "get":
            s.sendall(f"GET {size}\n".encode())
            got = read_all(s)
            if got != int(size):
                raise RuntimeError(f"short download: {got} of {size}")
        elif kind == "put":
            s.sendall(f"PUT {size}\n".encode())
            block = b"u" * 65536
            left = int(size)
            while left > 0:
                s.sendall(block[:left])
                left -= len(block)
            got = read_all(s)
        elif kind == "hello":
            s.sendall(b"HELLO\n")
            got = read_all(s)
        else:
            got = 0
        if job["close"] == "notify" and kind == "none":
            try:
                s.unwrap()  # our close_notify; the server may close without answering with its own
            except (ssl.SSLEOFError, ConnectionResetError):
                pass
    return "ok"

def worker():
    cache = {}
    while True:
        with lock:
            i = next(order, None)
        if i is None:
            return
        try:
            results[i] = one(jobs[i], cache)
        except Exception as exc:
            results[i] = f"{type(exc).__name__}: {exc}"[:200]

pool = [threading.Thread(target=worker) for _ in range(threads)]
for t in pool:
    t.start()
for t in pool:
    t.join()
print(json.dumps(results))
"""

# One process running `openssl s_client` commands (a JSON list of argv), a few at a time; prints the outcomes.
OPENSSL_DRIVER = r"""
import json, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
jobs, parallel = json.load(open(sys.argv[1])), int(sys.argv[2])
def run(argv):
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=30)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "ok" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.decode(errors='replace')[-160:]}"
with ThreadPoolExecutor(parallel) as pool:
    print(json.dumps(list(pool.map(run, jobs))))
"""

# The bulk server, on an odd port in one node's netns: "GET n" -> n bytes; "PUT n" + n bytes -> "OK";
# "HELLO" -> a short answer. Each answer ends with close_notify (unwrap) and the close.
BULK_SERVER = r"""
import socket, ssl, sys, threading
ip, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(cert, key)
server = socket.create_server((ip, port), backlog=128)
BLOCK = b"d" * 65536

def serve(conn):
    try:
        with ctx.wrap_socket(conn, server_side=True) as s:
            s.settimeout(30)
            line = b""
            while not line.endswith(b"\n") and len(line) < 64:
                data = s.recv(1)
                if not data:
                    return
                line += data
            verb, _, size = line.decode().strip().partition(" ")
            if verb == "GET":
                left = int(size)
                while left > 0:
                    s.sendall(BLOCK[:left])
                    left -= len(BLOCK)
            elif verb == "PUT":
                left = int(size)
                while left > 0:
                    data = s.recv(min(left, 262144))
                    if not data:
                        return
                    left -= len(data)
                s.sendall(b"OK\n")
            else:
                s.sendall(b"hi from the bulk server\n")
            s.unwrap()
    except (OSError, ValueError):
        pass
    finally:
        conn.close()

while True:
    conn, _ = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""

PY_CLIENT_PROCESSES = 2
PY_CLIENT_THREADS = 4
OPENSSL_PARALLEL = 3
ROUNDS = 30
BULK_GETS = (4_000_000,) * 6
BULK_PUTS = (2_000_000,) * 4


def _py_job(ip: str, port: int, sni: str | None, expect: str, *, lo: str = "1.2", hi: str = "1.3",
            ciphers: str | None = None, verify: bool = False, request: str = "http", close: str = "notify",
            target: str = "") -> dict[str, Any]:
    return {"ip": ip, "port": port, "sni": sni, "min": lo, "max": hi, "ciphers": ciphers, "verify": verify,
            "request": request, "close": close, "expect": expect, "target": target}


def traffic_plan(lab: Lab, bulk_ip: str) -> tuple[list[dict[str, Any]], list[tuple[list[str], str, str]],
                                                  list[dict[str, Any]]]:
    """(Python ssl jobs, openssl s_client jobs as (argv, expected, target), bulk jobs), in a seeded order.

    Expected outcomes: "ok" or "fail"; every job records which target it hit for the capture's notes."""
    rng = random.Random(SEED)
    ca = str(lab.ca_file)
    rt = lab.nodes
    be = {name: b.ip for name, b in lab.backends.items()}
    dns = {name: b.dns for name, b in lab.backends.items()}
    weak = "DEFAULT:@SECLEVEL=0"
    py: list[dict[str, Any]] = []
    ossl: list[tuple[list[str], str, str]] = []

    def s_client(ip: str, sni: str | None, expect: str, target: str, *extra: str) -> None:
        argv = ["openssl", "s_client", "-connect", f"{ip}:443", "-brief",
                *(["-servername", sni] if sni else ["-noservername"]), *extra]
        ossl.append((argv, expect, target))

    for r in range(ROUNDS):
        close = "notify" if r % 2 == 0 else "abrupt"
        for name in ("rt-healthy", "rt-owner", "rt-cert-bad", "rt-drift"):
            py.append(_py_job(rt[name], 443, name, "ok", verify=True, target=name))
            py.append(_py_job(rt[name], 443, name, "ok", hi="1.2", verify=True, close=close, target=name))
            py.append(_py_job(rt[name], 443, None, "ok", request="none", close=close, target=name))
        py.append(_py_job(rt["rt-weak-protocol"], 443, "rt-weak-protocol", "fail", lo="1.3", target="rt-weak-protocol"))
        # TLSv1 is enabled there, but its two suites are TLS 1.2-only: handshake_failure
        py.append(_py_job(rt["rt-weak-protocol"], 443, "rt-weak-protocol", "fail", lo="1.0", hi="1.0", ciphers=weak,
                          target="rt-weak-protocol"))
        py.append(_py_job(rt["rt-weak-protocol"], 443, None, "ok", target="rt-weak-protocol"))
        py.append(_py_job(rt["rt-weak-cipher"], 443, "rt-weak-cipher", "ok", target="rt-weak-cipher"))
        py.append(_py_job(rt["rt-cipher-mismatch"], 443, "rt-cipher-mismatch", "fail", hi="1.2",
                          ciphers="ECDHE-RSA-AES128-GCM-SHA256", target="rt-cipher-mismatch"))
        py.append(_py_job(rt["rt-cipher-mismatch"], 443, "rt-cipher-mismatch", "ok", target="rt-cipher-mismatch"))
        py.append(_py_job(be["be-good"], 443, dns["be-good"], "ok", verify=True, target="be-good"))
        py.append(_py_job(be["be-good"], 443, dns["be-good"], "ok", hi="1.2", verify=True, target="be-good"))
        py.append(_py_job(be["be-good"], 443, None, "ok", verify=True, request="none", close=close, target="be-good"))
        py.append(_py_job(be["be-tls10"], 443, dns["be-tls10"], "fail", target="be-tls10"))
        py.append(_py_job(be["be-tls10"], 443, dns["be-tls10"], "ok", lo="1.0", hi="1.0", ciphers=weak,
                          target="be-tls10"))
        py.append(_py_job(be["be-sni"], 443, None, "fail", target="be-sni"))
        py.append(_py_job(be["be-sni"], 443, None, "fail", hi="1.2", target="be-sni"))
        py.append(_py_job(be["be-sni"], 443, dns["be-sni"], "ok", verify=True, target="be-sni"))
        py.append(_py_job(be["be-selfsigned"], 443, dns["be-selfsigned"], "fail", hi="1.2", verify=True,
                          target="be-selfsigned"))
        py.append(_py_job(be["be-selfsigned"], 443, dns["be-selfsigned"], "fail", verify=True, target="be-selfsigned"))
        py.append(_py_job(be["be-selfsigned"], 443, dns["be-selfsigned"], "ok", target="be-selfsigned"))
        py.append(_py_job(be["be-expired"], 443, dns["be-expired"], "fail", hi="1.2", verify=True, target="be-expired"))
        py.append(_py_job(be["be-incomplete"], 443, dns["be-incomplete"], "fail", verify=True, target="be-incomplete"))
        py.append(_py_job(be["be-hostname"], 443, dns["be-hostname"], "fail", hi="1.2", verify=True,
                          target="be-hostname"))
        py.append(_py_job(be["be-cipher"], 443, dns["be-cipher"], "fail", target="be-cipher"))
        py.append(_py_job(be["be-cipher"], 443, dns["be-cipher"], "ok", hi="1.2", ciphers="CAMELLIA256-SHA",
                          target="be-cipher"))
        py.append(_py_job(be["be-unreachable"], 443, dns["be-unreachable"], "fail", target="be-unreachable"))
        py.append(_py_job(bulk_ip, ODD_PORT, "good.backend.lab", "ok", request="hello", target="bulk:8443"))
        py.append(_py_job(bulk_ip, ODD_PORT, None, "ok", hi="1.2", request="hello", target="bulk:8443"))
        # openssl s_client: a different client stack (its own extension set and order)
        s_client(rt["rt-healthy"], "rt-healthy", "ok", "rt-healthy", "-tls1_3")
        s_client(rt["rt-healthy"], None, "ok", "rt-healthy", "-tls1_2")
        s_client(rt["rt-weak-protocol"], None, "fail", "rt-weak-protocol", "-tls1", "-cipher", weak)
        s_client(be["be-good"], dns["be-good"], "ok", "be-good", "-CAfile", ca, "-verify_return_error")
        s_client(be["be-sni"], None, "fail", "be-sni", "-tls1_3")
        s_client(be["be-tls10"], dns["be-tls10"], "fail", "be-tls10")
        s_client(be["be-selfsigned"], dns["be-selfsigned"], "fail", "be-selfsigned", "-tls1_2", "-CAfile", ca,
                 "-verify_return_error")
        s_client(be["be-cipher"], dns["be-cipher"], "fail", "be-cipher")
    bulk = [_py_job(bulk_ip, ODD_PORT, "good.backend.lab", "ok", verify=True, request=f"get:{n}", target="bulk:8443")
            for n in BULK_GETS]
    bulk += [_py_job(bulk_ip, ODD_PORT, "good.backend.lab", "ok", hi="1.2", request=f"put:{n}", target="bulk:8443")
             for n in BULK_PUTS]
    rng.shuffle(py)
    rng.shuffle(ossl)
    rng.shuffle(bulk)
    return py, ossl, bulk


# --- the capture ---------------------------------------------------------------------------------------


def tcpdump_argv(netns: str, out: Path) -> list[str]:
    """Every interface of the lab's bridge netns (br0, each node's veth, lo), whole packets, a 64 MB kernel buffer
    (the bulk transfers arrive as 64 kB GSO packets: with 16 MB, a busy machine dropped thousands); -Z root: no
    privilege drop, so the file can be written anywhere."""
    return ["ip", "netns", "exec", netns, "tcpdump", "-i", "any", "-s", "0", "-B", "65536", "-n", "-Z", "root",
            "-w", str(out)]


def generator_hash() -> str:
    """What makes the capture: the scripts, the plan and the capture procedure (their source text)."""
    h = hashlib.sha256()
    for part in (CLIENT_SCRIPT, OPENSSL_DRIVER, BULK_SERVER, repr((PY_CLIENT_PROCESSES, PY_CLIENT_THREADS,
                 OPENSSL_PARALLEL, ROUNDS, BULK_GETS, BULK_PUTS, SEED, ODD_PORT, BULK_HOST)),
                 inspect.getsource(_py_job), inspect.getsource(traffic_plan), inspect.getsource(tcpdump_argv),
                 inspect.getsource(make_capture)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def count_pcap(path: Path) -> tuple[int, str]:
    """(packets, link type) of a classic pcap file (what tcpdump -w writes), read record header by header."""
    with path.open("rb") as fh:
        head = fh.read(24)
        if len(head) < 24:
            raise BenchError(f"{path}: not a pcap file (too short)")
        magic = head[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            endian = "<"
        elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            endian = ">"
        else:
            raise BenchError(f"{path}: not a classic pcap file (magic {magic.hex()})")
        linktype = struct.unpack(endian + "I", head[20:24])[0] & 0x0FFFFFFF
        packets = 0
        rec = struct.Struct(endian + "IIII")
        while True:
            hdr = fh.read(16)
            if len(hdr) < 16:
                break
            incl = rec.unpack(hdr)[2]
            fh.seek(incl, os.SEEK_CUR)
            packets += 1
    names = {1: "EN10MB (Ethernet)", 113: "LINUX_SLL (cooked v1)", 276: "LINUX_SLL2 (cooked v2)", 101: "RAW",
             0: "NULL (loopback)"}
    return packets, names.get(linktype, str(linktype))


def _wait_for(what: str, ready: Callable[[], bool], alive: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if not alive():
            raise BenchError(f"{what} exited before it was ready")
        if time.monotonic() > deadline:
            raise BenchError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.02)


def _stop(proc: subprocess.Popen[Any], sig: int, what: str, timeout: float = 20.0) -> int:
    """Signal one process we started (by its PID) and wait for it; SIGKILL if it ignores that."""
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"bench: {what} (pid {proc.pid}) ignored signal {sig}; killing it", file=sys.stderr)
            os.kill(proc.pid, signal.SIGKILL)
            return proc.wait(timeout=timeout)
    return proc.returncode if proc.returncode is not None else proc.wait()


def _outcomes(label: str, expected: list[tuple[str, str]], got: list[str]) -> dict[str, Any]:
    """Per target: how many jobs ended as expected; raises when the traffic was not what the plan meant."""
    if len(got) != len(expected):
        raise BenchError(f"{label}: {len(got)} outcomes for {len(expected)} jobs")
    table: dict[str, Counter[str]] = {}
    wrong: list[str] = []
    for (target, want), outcome in zip(expected, got, strict=True):
        ok = outcome == "ok"
        table.setdefault(target, Counter())["as expected" if ok == (want == "ok") else "unexpected"] += 1
        if ok != (want == "ok"):
            wrong.append(f"{target}: expected {want}, got {outcome}")
    # a few stragglers (a timeout under load) are traffic too; more means the lab is not what the plan assumes
    if len(wrong) > max(3, len(got) // 100):
        kinds = Counter(w.split(": ", 1)[0] + ": " + w.split(", got ", 1)[1][:90] for w in wrong)
        raise BenchError(f"{label}: {len(wrong)} of {len(got)} jobs did not end as planned:\n  "
                         + "\n  ".join(f"{n} x {k}" for k, n in kinds.most_common(12)))
    return {"jobs": len(got), "unexpected": wrong, "per_target": {k: dict(v) for k, v in sorted(table.items())}}


class CaptureIncomplete(BenchError):
    """tcpdump dropped packets (a busy machine): the capture would not hold all the planned traffic."""


CAPTURE_ATTEMPTS = 3


def make_capture(lab: Lab, out: Path, work: Path) -> dict[str, Any]:
    """Run the traffic plan against the lab with tcpdump recording in the bridge netns; returns the notes."""
    bulk_node = lab.state.nodes[BULK_HOST]
    bulk_ip, bulk_netns = bulk_node.ip, bulk_node.netns
    if bulk_netns is None:
        raise BenchError(f"lab node {BULK_HOST} has no netns")
    py, ossl, bulk = traffic_plan(lab, bulk_ip)
    files: list[Path] = []
    chunks = [py[i::PY_CLIENT_PROCESSES] for i in range(PY_CLIENT_PROCESSES)]
    for i, chunk in enumerate([*chunks, bulk]):
        files.append(work / f"jobs-{i}.json")
        files[-1].write_text(json.dumps(chunk))
    ossl_file = work / "openssl-jobs.json"
    ossl_file.write_text(json.dumps([argv for argv, _, _ in ossl]))
    server_log, dump_log = (work / "bulk-server.log").open("wb"), (work / "tcpdump.log").open("wb")
    cert, key = lab.backend_dir / "be-good.pem", lab.backend_dir / "key.pem"
    server = subprocess.Popen(["ip", "netns", "exec", bulk_netns, sys.executable, "-c", BULK_SERVER, bulk_ip,
                               str(ODD_PORT), str(cert), str(key)], stdin=subprocess.DEVNULL, stdout=server_log,
                              stderr=subprocess.STDOUT)
    dump: subprocess.Popen[bytes] | None = None
    try:
        from tests.lab.netns import listening
        _wait_for("bulk server", lambda: listening(server.pid, bulk_ip, ODD_PORT), lambda: server.poll() is None)
        dump = subprocess.Popen(tcpdump_argv(lab.bridge_netns, out), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=dump_log)
        dump_ready = work / "tcpdump.log"
        _wait_for("tcpdump", lambda: b"listening on" in dump_ready.read_bytes(), lambda: dump is not None and
                  dump.poll() is None)
        t0 = time.perf_counter()
        argvs = [[sys.executable, "-c", CLIENT_SCRIPT, str(f), str(PY_CLIENT_THREADS), str(lab.ca_file)]
                 for f in files[:-1]]
        argvs.append([sys.executable, "-c", CLIENT_SCRIPT, str(files[-1]), "2", str(lab.ca_file)])
        argvs.append([sys.executable, "-c", OPENSSL_DRIVER, str(ossl_file), str(OPENSSL_PARALLEL)])
        done: list[subprocess.CompletedProcess[str] | None] = [None] * len(argvs)

        def client(i: int) -> None:
            done[i] = lab.run(argvs[i], capture_output=True, text=True, timeout=TRAFFIC_TIMEOUT_S)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(argvs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        traffic_s = time.perf_counter() - t0
        time.sleep(2.0)  # the last FIN/ACKs, and tcpdump's ring buffer block timeout (1 s): nothing left unread
    finally:
        dump_rc = _stop(dump, signal.SIGINT, "tcpdump") if dump is not None else None
        _stop(server, signal.SIGTERM, "bulk server")
        server_log.close()
        dump_log.close()
    stats = (work / "tcpdump.log").read_text(errors="replace")
    if dump_rc != 0:
        raise BenchError(f"tcpdump exited {dump_rc}:\n{stats[-1000:]}")
    counted = {k: int(v) for v, k in re.findall(r"(\d+) packets? (captured|received by filter|dropped by kernel)",
                                                 stats)}
    if counted.get("dropped by kernel", 0) or counted.get("captured") != counted.get("received by filter"):
        raise CaptureIncomplete(f"tcpdump did not write every packet it saw: {counted}")
    outcomes: dict[str, Any] = {}
    expected_py = [[(j["target"], j["expect"]) for j in chunk] for chunk in [*chunks, bulk]]
    labels = [f"python client {i + 1}" for i in range(len(chunks))] + ["python bulk client", "openssl s_client"]
    expected = [*expected_py, [(t, e) for _, e, t in ossl]]
    for label, proc, want in zip(labels, done, expected, strict=True):
        if proc is None or proc.returncode != 0:
            raise BenchError(f"{label} failed: {proc.stderr[-1500:] if proc is not None else 'did not run'}")
        try:
            got = json.loads(proc.stdout)
        except ValueError as exc:
            raise BenchError(f"{label}: no JSON outcomes: {proc.stdout[-500:]!r}") from exc
        outcomes[label] = _outcomes(label, want, got)
    return {"traffic_s": round(traffic_s, 2), "tcpdump": tcpdump_argv("BRIDGE_NETNS", Path("FILE"))[4:],
            "tcpdump_stats": counted, "clients": outcomes,
            "connections_planned": len(py) + len(ossl) + len(bulk)}


def ensure_capture(args: argparse.Namespace, work: Path) -> tuple[Path, dict[str, Any]]:
    """The capture to analyse: --capture FILE as given, else the cached one for this generator, else a new one
    made in the lab (and cached)."""
    if args.capture is not None:
        packets, linktype = count_pcap(args.capture)
        return args.capture, {"source": "given", "packets": packets, "linktype": linktype}
    key = generator_hash()
    cached = args.cache_dir / f"capture-{key}.pcap"
    notes = cached.with_suffix(".json")
    if cached.exists() and notes.exists() and not args.fresh_capture:
        meta = json.loads(notes.read_text())
        print(f"bench: using the cached capture {cached} ({meta['packets']} packets; generator {key})",
              file=sys.stderr, flush=True)
        return cached, {**meta, "source": "cache"}
    try:
        from tests.lab import Lab, LabError
    except ImportError as exc:
        raise BenchError(f"the lab package is not available ({exc}); run from the repository root") from exc

    print(f"bench: making the capture in the lab (generator {key})", file=sys.stderr, flush=True)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    partial = work / "capture.pcap"
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    try:
        lab = Lab.up(work / "lab")
    except LabError as exc:
        raise BenchError(f"the lab did not come up: {exc}") from exc
    up_s = time.perf_counter() - t0
    try:
        for attempt in range(1, CAPTURE_ATTEMPTS + 1):
            try:
                meta = make_capture(lab, partial, work)
                break
            except CaptureIncomplete as exc:
                if attempt == CAPTURE_ATTEMPTS:
                    raise BenchError(f"{exc}, {CAPTURE_ATTEMPTS} times: the machine is too busy to capture "
                                     "everything; try again when it is quieter") from exc
                print(f"bench: {exc}; capturing again ({attempt + 1}/{CAPTURE_ATTEMPTS})", file=sys.stderr,
                      flush=True)
        meta["attempts"] = attempt
    except (OSError, subprocess.SubprocessError) as exc:
        raise BenchError(f"making the capture failed: {type(exc).__name__}: {exc}") from exc
    finally:
        t0 = time.perf_counter()
        lab.down()  # always: nothing of the lab (namespaces, nginx, the bulk server) outlives the capture
        down_s = time.perf_counter() - t0
    packets, linktype = count_pcap(partial)
    if packets < MIN_PACKETS:
        raise BenchError(f"the capture holds {packets} packets, fewer than {MIN_PACKETS}: the plan is too small")
    meta.update(generator=key, packets=packets, linktype=linktype, bytes=partial.stat().st_size,
                made_at=datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
                lab={"up_s": round(up_s, 2), "down_s": round(down_s, 2),
                     "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]})
    shutil.copyfile(partial, cached.with_suffix(".tmp"))
    os.replace(cached.with_suffix(".tmp"), cached)
    notes.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"bench: capture made: {packets} packets, {meta['bytes'] / 1e6:.1f} MB, cached as {cached}",
          file=sys.stderr, flush=True)
    return cached, {**meta, "source": "made"}
