"""Packet captures of real TLS handshakes in the lab, made at test time (for `fixer pcap` tests and benchmarks).

Each named case (``CASES``) runs real clients (``openssl s_client``, Python ``ssl``, the Java client
tests/lab/SniClient.java inside an MP) against the lab's backends and routers, or against a tiny Python TCP
server started for the case, while tcpdump (as root) writes the traffic to a file:

* in the bridge namespace on ``br0`` (link type Ethernet), or
* inside a node's network namespace (``nsenter -n``) on ``any`` (Linux cooked v2; ``-y LINUX_SLL`` for v1)
  or on its ``eth0`` (Ethernet).

Every process started here (tcpdump, Python servers, clients) is recorded by PID and ended by that PID
(SIGINT for tcpdump, so that it flushes and closes the file; terminate/kill otherwise), also when a step
fails. Nothing here leaves the lab's namespaces; all addresses are the lab's 127.77.X.Y ones.

    from tests.lab.captures import CASES, make_capture
    path = make_capture(lab, "sni-missing-openssl", out_dir)  # -> out_dir/sni-missing-openssl.pcap

tcpdump 4.99 (Debian 12) writes classic pcap only; pcapng reading is covered by the parser's unit tests.
``make_capture`` is the helper other tests and benchmarks reuse; ``Case`` says what `fixer pcap` should
name the capture (verdict, TLS version, SNI present) and why.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.lab import procs
from tests.lab.lab import Lab

REPO = Path(__file__).parents[2]
JAVA_SOURCE = REPO / "tests" / "lab" / "SniClient.java"
NODE_TEST_DIR = "/opt/lab-tests"  # inside a node (its /tmp is private): the Java client and its properties
JAVA_NODE = "mp-healthy"  # Java clients run here (SNI is decided by the properties file each case passes)
SERVER_NODE = "bastion"  # the tiny Python TCP servers listen on this node's address
SERVER_PORT = 9443
JAVA = ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:-UsePerfData", "-Xshare:auto"]
LISTEN_TIMEOUT = 10.0
CLIENT_TIMEOUT = 30.0
SETTLE = 0.15  # after a client ends: the last FIN/ACK/RST reach tcpdump


@dataclass(frozen=True)
class Case:
    name: str
    verdict: str  # what `fixer pcap` should call the (one) TLS connection of the capture
    client_max: str  # the highest version the ClientHello offers
    server_version: str | None  # the version of the ServerHello, None when the server sent none
    sni: bool  # the ClientHello carries server_name
    link: str  # tcpdump's link type name of the file: EN10MB, LINUX_SLL2, LINUX_SLL
    what: str  # the client, the server and what happens on the wire
    alert: tuple[str, str] | None = None  # (sender, description) of a plaintext alert the capture shows
    inferred: bool = False  # the verdict is a heuristic (TLS 1.3 encrypted alert)


T12, T13 = "TLSv1.2", "TLSv1.3"
EN, SLL, SLL2 = "EN10MB", "LINUX_SLL", "LINUX_SLL2"
CASES: dict[str, Case] = {c.name: c for c in [
    Case("ok-tls13-openssl", "ok", T13, T13, True, EN,
         "openssl s_client -servername good.backend.lab -CAfile ca.pem -verify_return_error -> be-good; br0"),
    Case("ok-tls12-openssl-any", "ok", T12, T12, True, SLL2,
         "openssl s_client -tls1_2 from mp-healthy -> be-good; tcpdump -i any in mp-healthy"),
    Case("ok-tls13-python", "ok", T13, T13, True, EN, "Python ssl (verifying, GET /) -> be-good; br0"),
    Case("ok-java", "ok", T13, T13, True, SLL2,
         "Java 17 SniClient with jsse.enableSNIExtension=true from mp-healthy -> be-good; -i any in mp-healthy"),
    Case("protocol-tls12-vs-tls10", "protocol-mismatch", T12, "TLSv1", True, EN,
         "openssl s_client -tls1_2 -> be-tls10 (TLSv1.0 only): the server answers TLSv1, the client refuses it "
         "with alert protocol_version; br0", alert=("client", "protocol_version")),
    Case("protocol-tls10-vs-modern", "protocol-mismatch", "TLSv1", None, False, EN,
         "Python ssl TLSv1.0 only (SECLEVEL=0), no SNI -> be-good (TLSv1.2+): server alert protocol_version; br0",
         alert=("server", "protocol_version")),
    Case("cipher-openssl-router", "cipher-mismatch", T12, None, True, EN,
         "openssl s_client -tls1_2 -cipher AES128-SHA -> rt-cipher-mismatch (ECDHE-RSA-AES256-GCM-SHA384 only): "
         "server alert handshake_failure; br0", alert=("server", "handshake_failure")),
    Case("cipher-java-be-cipher", "cipher-mismatch", T13, None, True, EN,
         "Java 17 (SNI on) from mp-healthy -> be-cipher (TLS 1.2, ARIA/CAMELLIA only): server alert "
         "handshake_failure; tcpdump -i eth0 in mp-healthy", alert=("server", "handshake_failure")),
    Case("sni-missing-openssl", "sni-missing", T13, None, False, SLL,
         "openssl s_client -noservername from mp-healthy -> be-sni: server alert unrecognized_name; "
         "tcpdump -i any -y LINUX_SLL (cooked v1) in mp-healthy", alert=("server", "unrecognized_name")),
    Case("sni-missing-java", "sni-missing", T13, None, False, SLL2,
         "Java 17 with jsse.enableSNIExtension=false from mp-healthy -> be-sni: server alert unrecognized_name; "
         "-i any in mp-healthy", alert=("server", "unrecognized_name")),
    Case("sni-unrecognized-python", "sni-unrecognized", T13, None, True, EN,
         "Python ssl with SNI unknown.backend.lab -> be-sni: server alert unrecognized_name; br0",
         alert=("server", "unrecognized_name")),
    Case("cert-selfsigned-tls12", "certificate-rejected", T12, T12, True, EN,
         "openssl s_client -tls1_2 -verify_return_error -CAfile ca.pem -> be-selfsigned: client alert "
         "unknown_ca; br0", alert=("client", "unknown_ca")),
    Case("cert-expired-tls12", "certificate-rejected", T12, T12, True, EN,
         "openssl s_client -tls1_2 -verify_return_error -CAfile ca.pem -> be-expired: client alert "
         "certificate_expired; br0", alert=("client", "certificate_expired")),
    Case("cert-incomplete-tls13", "certificate-rejected", T13, T13, True, EN,
         "openssl s_client (TLS 1.3) -verify_return_error -CAfile ca.pem -> be-incomplete: OpenSSL sends its "
         "alert unknown_ca before switching to handshake keys, so in plaintext; br0", alert=("client", "unknown_ca")),
    Case("cert-java-tls13", "certificate-rejected", T13, T13, True, SLL2,
         "Java 17 (SNI on, trusting the lab CA only) from mp-healthy -> be-selfsigned: the client's alert is "
         "encrypted (CCS, one 35-byte application_data record, FIN); -i any in mp-healthy", inferred=True),
    Case("server-closed-fin", "server-closed", T13, None, True, EN,
         "openssl s_client -> a Python TCP server on bastion:9443 that reads the ClientHello and closes (FIN); "
         "OpenSSL then sends alert decode_error and gets an RST; br0"),
    Case("server-closed-fin-python", "server-closed", T13, None, True, EN,
         "Python ssl -> a Python TCP server on bastion:9443 that reads the ClientHello and closes (FIN); br0"),
    Case("server-closed-rst", "server-closed", T13, None, True, EN,
         "openssl s_client -> a Python TCP server on bastion:9443 that reads the ClientHello and resets (RST); "
         "tcpdump -i eth0 in bastion"),
    Case("incomplete-mid-handshake", "incomplete", T13, None, True, EN,
         "openssl s_client -> a Python TCP server on bastion:9443 that reads the ClientHello and says nothing; "
         "the capture stops mid-handshake; br0"),
]}


# --- processes, recorded by PID ---------------------------------------------------------------------------


class Recorded:
    """A process started here, ended by its PID (with its start time, so a recycled PID is never hit)."""

    def __init__(self, argv: Sequence[str], **kw: object) -> None:
        self.proc: subprocess.Popen[Any] = subprocess.Popen(list(argv), **kw)  # type: ignore[call-overload]
        self.pid: int = self.proc.pid
        self.starttime = procs.proc_starttime(self.pid)

    def alive(self) -> bool:
        return self.proc.poll() is None and procs.is_alive(self.pid, self.starttime)

    def send(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def end(self, first: int = signal.SIGTERM, grace: float = 3.0, keep_streams: bool = False) -> int | None:
        """`first` (SIGTERM by default), then SIGKILL after `grace`; the exit status. The pipes are closed
        unless `keep_streams` (then read what is left and call close_streams)."""
        self.send(first)
        try:
            return self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            return self.proc.wait(timeout=5)
        finally:
            if not keep_streams:
                self.close_streams()

    def close_streams(self) -> None:
        for stream in (self.proc.stdout, self.proc.stderr, self.proc.stdin):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _read_until(stream: object, needle: bytes, timeout: float, proc: Recorded) -> bytes:
    """Read a pipe until `needle` shows up; everything read. RuntimeError on timeout or early exit."""
    assert hasattr(stream, "fileno")
    fd = stream.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while needle not in seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"no {needle!r} from pid {proc.pid} within {timeout:g}s: {seen!r}")
            if sel.select(min(left, 0.2)):
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise RuntimeError(f"pid {proc.pid} ended before {needle!r}: {seen!r}")
                seen += chunk
    return seen


def netns_prefix(lab: Lab, where: str) -> list[str]:
    """The argv prefix that runs a command in the network namespace of `where` ("bridge" or a node name), as
    root, in this machine's mount namespace (so files are written where the test can read them)."""
    if where == "bridge":
        return ["ip", "netns", "exec", lab.bridge_netns]
    node = lab.state.nodes[where]
    if node.pid is None:
        raise RuntimeError(f"node {where} is not running")
    return ["nsenter", "-t", str(node.pid), "-n", "--"]


@contextlib.contextmanager
def tcpdump(lab: Lab, where: str, interface: str, out: Path, bpf: str, link: str | None = None) -> Iterator[Path]:
    """tcpdump as root in `where` writing `out` while the body runs; stopped by SIGINT to its recorded PID."""
    # -B: in immediate mode each ring slot holds a whole snapshot (256 KiB with -s 0 on `any`): the default
    # 2 MiB ring overflows on a burst of a few handshakes (see fixer.capture.BUFFER_KIB)
    argv = [*netns_prefix(lab, where), "tcpdump", "-i", interface, "-s", "0", "-B", "32768", "-U",
            "--immediate-mode", "-n", "-Z", "root", *(["-y", link] if link else []), "-w", str(out), bpf]
    proc = Recorded(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                    start_new_session=True)
    try:
        _read_until(proc.proc.stderr, b"listening on", LISTEN_TIMEOUT, proc)
        yield out
        time.sleep(SETTLE)
    finally:
        stats = b""
        try:
            rc = proc.end(signal.SIGINT, grace=5.0, keep_streams=True)
            assert proc.proc.stderr is not None
            stats = proc.proc.stderr.read()
        finally:
            proc.close_streams()
    if rc not in (0, None):
        raise RuntimeError(f"tcpdump in {where} exited {rc}: {stats.decode(errors='replace')}")
    dropped = re.search(rb"(\d+) packets? dropped by kernel", stats)
    if dropped and int(dropped.group(1)):
        raise RuntimeError(f"tcpdump in {where} lost packets: {stats.decode(errors='replace')}")


_SERVER = r"""
import socket, struct, sys, time
mode, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((ip, port))
srv.listen(4)
print("ready", flush=True)
conn, _ = srv.accept()
conn.settimeout(10)
try:
    got = conn.recv(65536)  # the ClientHello
except OSError:
    got = b""
print("read", len(got), flush=True)
if mode == "reset":
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
elif mode == "close":
    conn.close()
else:  # silent: hold the connection until ended
    time.sleep(60)
"""


@contextlib.contextmanager
def tcp_server(lab: Lab, mode: str) -> Iterator[tuple[str, int, Recorded]]:
    """A Python TCP server on SERVER_NODE's address (its netns) for one connection: it reads the ClientHello,
    then closes (`close`: FIN), resets (`reset`: RST) or holds it silently (`silent`). Ended by PID."""
    ip = lab.nodes[SERVER_NODE]
    argv = [*netns_prefix(lab, SERVER_NODE), sys.executable, "-c", _SERVER, mode, ip, str(SERVER_PORT)]
    proc = Recorded(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                    start_new_session=True)
    try:
        _read_until(proc.proc.stdout, b"ready", LISTEN_TIMEOUT, proc)
        yield ip, SERVER_PORT, proc
    finally:
        proc.end()


# --- clients ----------------------------------------------------------------------------------------------


def openssl(lab: Lab, where: str, connect: str, *options: str) -> subprocess.CompletedProcess[str]:
    """`openssl s_client -connect CONNECT OPTIONS </dev/null` in `where` (bridge or a node, as root)."""
    argv = ["openssl", "s_client", "-connect", connect, *options]
    if where == "bridge":
        return lab.run(argv, input="", timeout=CLIENT_TIMEOUT)
    return lab.node_exec(where, argv, input="", timeout=CLIENT_TIMEOUT)


_PY_CLIENT = r"""
import socket, ssl, sys
ip, port, sni, vmin, vmax, ciphers, cafile, get = sys.argv[1:9]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = getattr(ssl.TLSVersion, vmin)
ctx.maximum_version = getattr(ssl.TLSVersion, vmax)
if ciphers != "-":
    ctx.set_ciphers(ciphers)
if cafile == "-":
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
else:
    ctx.load_verify_locations(cafile)
with socket.create_connection((ip, int(port)), timeout=5) as raw:
    try:
        with ctx.wrap_socket(raw, server_hostname=None if sni == "-" else sni) as tls:
            print("OK", tls.version(), tls.cipher()[0])
            if get == "1":
                tls.sendall(b"GET / HTTP/1.0\r\nHost: " + sni.encode() + b"\r\n\r\n")
                while tls.recv(65536):
                    pass
    except (ssl.SSLError, OSError) as exc:
        print("FAILED", exc)
"""


def python_client(lab: Lab, ip: str, port: int, sni: str | None, versions: tuple[str, str] = ("TLSv1_2", "TLSv1_3"),
                  ciphers: str | None = None, cafile: Path | None = None, get: bool = False) -> str:
    argv = [sys.executable, "-c", _PY_CLIENT, ip, str(port), sni or "-", versions[0], versions[1], ciphers or "-",
            str(cafile) if cafile else "-", "1" if get else "0"]
    proc = lab.run(argv, timeout=CLIENT_TIMEOUT)
    return str(proc.stdout) + str(proc.stderr)


_java_lock = threading.Lock()


def _java_classes(lab: Lab) -> str:
    """SniClient compiled once per lab into JAVA_NODE's /opt (a JVM then starts in ~0.5 s, not ~2 s)."""
    digest = hashlib.sha256(JAVA_SOURCE.read_bytes()).hexdigest()[:12]
    inner = f"{NODE_TEST_DIR}/classes-{digest}"
    with _java_lock:
        if not (lab.node_path(JAVA_NODE, inner) / "SniClient.class").exists():
            source = lab.node_path(JAVA_NODE, f"{NODE_TEST_DIR}/SniClient.java")
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_bytes(JAVA_SOURCE.read_bytes())
            # -J-XX:-UsePerfData: no /tmp/hsperfdata_root left in the node (other tests expect its /tmp empty)
            proc = lab.node_exec(JAVA_NODE, ["javac", "-J-XX:-UsePerfData", "-d", inner,
                                             f"{NODE_TEST_DIR}/SniClient.java"], timeout=120)
            if proc.returncode != 0:
                raise RuntimeError(f"javac failed: {proc.stdout}{proc.stderr}")
        for sni in ("true", "false"):
            props = lab.node_path(JAVA_NODE, f"{NODE_TEST_DIR}/sni-{sni}.properties")
            if not props.exists():
                props.write_text(f"jsse.enableSNIExtension={sni}\n")
    return inner


def java_client(lab: Lab, backend: str, sni: bool) -> str:
    """tests/lab/SniClient.java in JAVA_NODE calling `backend` by name, trusting the lab CA only."""
    classes = _java_classes(lab)
    props = f"{NODE_TEST_DIR}/sni-{'true' if sni else 'false'}.properties"
    argv = [*JAVA, "-cp", classes, "SniClient", props, lab.node_backend_ca, lab.backend_url(backend)]
    proc = lab.node_exec(JAVA_NODE, argv, timeout=CLIENT_TIMEOUT)
    return str(proc.stdout) + str(proc.stderr)


# --- the cases --------------------------------------------------------------------------------------------


def _be(lab: Lab, name: str) -> tuple[str, str]:
    backend = lab.backends[name]
    return backend.ip, backend.dns


def _filter(ip: str, port: int = 443) -> str:
    return f"host {ip} and tcp port {port}"


def _backend_openssl(lab: Lab, out: Path, backend: str, *options: str, where: str = "bridge",
                     interface: str = "br0", link: str | None = None) -> str:
    ip, _ = _be(lab, backend)
    with tcpdump(lab, where, interface, out, _filter(ip), link):
        proc = openssl(lab, where, f"{ip}:443", *options)
    return str(proc.stdout) + str(proc.stderr)


def _verify(lab: Lab, where: str = "bridge") -> list[str]:
    ca = str(lab.backend_ca) if where == "bridge" else lab.node_backend_ca
    return ["-CAfile", ca, "-verify_return_error"]


def _server_case(lab: Lab, out: Path, mode: str, where: str, interface: str, client: str = "openssl") -> str:
    mode_ = "silent" if mode == "incomplete" else mode
    with tcp_server(lab, mode_) as (ip, port, server), tcpdump(lab, where, interface, out, _filter(ip, port)):
        if client == "python":
            return python_client(lab, ip, port, "server.lab")
        if mode != "incomplete":
            proc = openssl(lab, "bridge", f"{ip}:{port}", "-servername", "server.lab")
            return str(proc.stdout) + str(proc.stderr)
        # the client waits for a ServerHello that never comes: stop the capture, then the client
        waiting = Recorded(["ip", "netns", "exec", lab.bridge_netns, "openssl", "s_client", "-connect",
                            f"{ip}:{port}", "-servername", "server.lab"],
                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
        try:
            _read_until(server.proc.stdout, b"read ", CLIENT_TIMEOUT, server)  # the ClientHello arrived
            time.sleep(0.1)  # its ACK too; nothing else comes back
        except BaseException:
            waiting.end()
            raise
    waiting.end()  # after the capture stopped: its FIN/RST is not in the file
    return "client stopped mid-handshake"


def _run_case(lab: Lab, name: str, out: Path) -> str:
    bridge_ca = _verify(lab)
    if name == "ok-tls13-openssl":
        return _backend_openssl(lab, out, "be-good", "-servername", "good.backend.lab", *bridge_ca)
    if name == "ok-tls12-openssl-any":
        return _backend_openssl(lab, out, "be-good", "-tls1_2", "-servername", "good.backend.lab",
                                *_verify(lab, JAVA_NODE), where=JAVA_NODE, interface="any")
    if name == "ok-tls13-python":
        ip, dns = _be(lab, "be-good")
        with tcpdump(lab, "bridge", "br0", out, _filter(ip)):
            return python_client(lab, ip, 443, dns, cafile=lab.backend_ca, get=True)
    if name in ("ok-java", "cipher-java-be-cipher", "sni-missing-java", "cert-java-tls13"):
        backend, sni, interface = {
            "ok-java": ("be-good", True, "any"),
            "cipher-java-be-cipher": ("be-cipher", True, "eth0"),
            "sni-missing-java": ("be-sni", False, "any"),
            "cert-java-tls13": ("be-selfsigned", True, "any"),
        }[name]
        _java_classes(lab)  # compiled before the capture starts
        ip, _ = _be(lab, backend)
        with tcpdump(lab, JAVA_NODE, interface, out, _filter(ip)):
            return java_client(lab, backend, sni)
    if name == "protocol-tls12-vs-tls10":
        return _backend_openssl(lab, out, "be-tls10", "-tls1_2", "-servername", "tls10.backend.lab")
    if name == "protocol-tls10-vs-modern":
        ip, _ = _be(lab, "be-good")
        with tcpdump(lab, "bridge", "br0", out, _filter(ip)):
            return python_client(lab, ip, 443, None, ("TLSv1", "TLSv1"), "DEFAULT:@SECLEVEL=0")
    if name == "cipher-openssl-router":
        ip = lab.nodes["rt-cipher-mismatch"]
        with tcpdump(lab, "bridge", "br0", out, _filter(ip)):
            proc = openssl(lab, "bridge", f"{ip}:443", "-tls1_2", "-cipher", "AES128-SHA", "-servername",
                           "rt-cipher-mismatch")
        return str(proc.stdout) + str(proc.stderr)
    if name == "sni-missing-openssl":
        return _backend_openssl(lab, out, "be-sni", "-noservername", where=JAVA_NODE, interface="any",
                                link="LINUX_SLL")
    if name == "sni-unrecognized-python":
        ip, _ = _be(lab, "be-sni")
        with tcpdump(lab, "bridge", "br0", out, _filter(ip)):
            return python_client(lab, ip, 443, "unknown.backend.lab")
    if name == "cert-selfsigned-tls12":
        return _backend_openssl(lab, out, "be-selfsigned", "-tls1_2", "-servername", "selfsigned.backend.lab",
                                *bridge_ca)
    if name == "cert-expired-tls12":
        return _backend_openssl(lab, out, "be-expired", "-tls1_2", "-servername", "expired.backend.lab", *bridge_ca)
    if name == "cert-incomplete-tls13":
        return _backend_openssl(lab, out, "be-incomplete", "-servername", "incomplete.backend.lab", *bridge_ca)
    if name == "server-closed-fin":
        return _server_case(lab, out, "close", "bridge", "br0")
    if name == "server-closed-fin-python":
        return _server_case(lab, out, "close", "bridge", "br0", client="python")
    if name == "server-closed-rst":
        return _server_case(lab, out, "reset", SERVER_NODE, "eth0")
    if name == "incomplete-mid-handshake":
        return _server_case(lab, out, "incomplete", "bridge", "br0")
    raise KeyError(f"no capture case {name!r}; known: {', '.join(CASES)}")


@dataclass(frozen=True)
class Made:
    case: Case
    path: Path
    client_output: str  # what the client printed (for failure messages)
    seconds: float


def make_capture(lab: Lab, name: str, out_dir: Path | str) -> Path:
    """Capture case `name` (a key of CASES) into `out_dir/<name>.pcap`; the path."""
    return capture_case(lab, name, out_dir).path


def capture_case(lab: Lab, name: str, out_dir: Path | str) -> Made:
    """Like make_capture, with the client's output and the time taken."""
    case = CASES[name]
    out = Path(out_dir) / f"{name}.pcap"
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    printed = _run_case(lab, name, out)
    if not out.exists() or out.stat().st_size <= 24:
        raise RuntimeError(f"capture {name}: no packets in {out} (client said: {printed.strip()[-500:]})")
    return Made(case, out, printed, round(time.monotonic() - started, 3))


def capture_all(lab: Lab, out_dir: Path | str, names: Sequence[str] | None = None,
                progress: Callable[[Made], None] | None = None) -> dict[str, Made]:
    """Every case (or `names`), one after the other (cases share clients and servers)."""
    made = {}
    for name in names or list(CASES):
        made[name] = capture_case(lab, name, out_dir)
        if progress is not None:
            progress(made[name])
    return made
