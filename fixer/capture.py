"""`fixer capture`: tcpdump on a node over its SSH session, the file downloaded and read like `fixer pcap`.

Nothing the operator types reaches a shell or tcpdump unchecked. The interface must match
`[A-Za-z0-9_.:-]{1,15}`; the peer is an IP literal or a host name matching `HOSTNAME_RE` (then resolved on
the node with `getent ahosts`, and only the addresses that parse as IP literals are used); the port is
1..65535; seconds and sizes are integers. The capture filter is built here from those values alone
(`host <ip> and port <n>`) and, like every other value, reaches the node through shlex.quote: the scripts
are sent on the remote shell's stdin (never spliced into a command line) as a function called on the
last line, so a script cut off in transit runs nothing.

Two execs on the host's one SSH connection, both with `become` when the inventory says so:

1. preflight (`Session.run_script`): where tcpdump (host var `fixer_tcpdump`, default `tcpdump` looked up in
   PATH plus the sbin directories) and `timeout` are, the uid, and the peer's addresses when given by name.
2. capture (one exec channel kept open): `mktemp -d` (0700), `timeout -s INT -k 5 <bound> tcpdump -i IF -s 0
   -U --immediate-mode [-Z root] -w DIR/capture.pcap FILTER` in the background, "listening" once tcpdump
   says so, a size watchdog (SIGINT at --max-mb); the controller writes `stop` on the channel's stdin after
   --seconds (end of file on stdin, i.e. the controller or the connection gone, stops and cleans up too);
   tcpdump is stopped with SIGINT (it flushes and closes the file), the file is streamed back on stdout
   framed by its byte count (at most --max-mb), the directory is removed and the script says so. A
   controller that did not read that confirmation removes the directory itself (`rm -rf` of a path that
   must look like one `mktemp` made), on failure and on Ctrl-C too.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import select
import shlex
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import paramiko

from fixer.errors import CommandTimeoutError, HostError, UnreachableError
from fixer.inventory.model import Host

if TYPE_CHECKING:
    from fixer.probe.model import ProbeResult
    from fixer.transport.ssh import Session

q = shlex.quote

DEFAULT_SECONDS = 10
MAX_SECONDS = 600
DEFAULT_MAX_MB = 50
MAX_MB = 2048
MB = 1024 * 1024
LISTEN_TIMEOUT_S = 10.0  # tcpdump must say "listening on" within this
# tcpdump's kernel buffer (-B, KiB). In immediate mode (needed: without it a stop loses the packets of the last
# ring block) every ring slot holds a whole snapshot: with -s 0 on `any` that is 256 KiB, so the default 2 MiB
# ring has 8 slots and a burst of a few handshakes overflows it ("packets dropped by kernel", measured here).
# 32 MiB gives 128 slots, for the few seconds of a capture.
BUFFER_KIB = 32768
HARD_SLACK_S = 30  # the node's own bound (`timeout`) is --seconds + the probe's bound + this
# the node's script waits at most hard_bound + this for the controller's `stop` (a controller gone silent while
# the connection stays up): then it stops tcpdump and removes its directory by itself
DEADMAN_SLACK_S = 60
MARK = "@@fixer-capture"
TCPDUMP_VAR = "fixer_tcpdump"

INTERFACE_RE = re.compile(r"[A-Za-z0-9_.:][A-Za-z0-9_.:-]{0,14}")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
HOSTNAME_RE = re.compile(rf"(?=.{{1,253}}\.?$){_LABEL}(?:\.{_LABEL})*\.?")
# an absolute path or a bare command name (host var fixer_tcpdump), never an option
PROGRAM_RE = re.compile(r"[A-Za-z0-9_./+][A-Za-z0-9_./+-]{0,255}")
# what `mktemp -d -t fixer-capture.XXXXXXXX` makes (TMPDIR of a sane shape): the only path the cleanup removes
REMOTE_DIR_RE = re.compile(r"/(?:[A-Za-z0-9_.-]+/)*fixer-capture\.[A-Za-z0-9]{8}")


class CaptureError(HostError):
    """The capture could not run on the host. `kind`: no-tcpdump, no-timeout, permission, resolve, tmpdir,
    tcpdump, protocol (the node's script said something unexpected)."""

    category = "command"

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


# --- validated input -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    host: str  # an IP literal (compressed form) or a host name (as given, lower case)
    port: int
    is_ip: bool

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _ip(text: str) -> str | None:
    """`text` as a compressed IP literal, or None. Scoped IPv6 (fe80::1%eth0) is refused: BPF has no scopes."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id:
        return None
    return str(addr)


def parse_peer(text: str, default_port: int = 443) -> Peer:
    """`ADDR`, `ADDR:PORT`, `[V6]:PORT` or a bare IPv6 literal; ADDR an IP literal or a strict host name."""
    raw = text.strip()
    if not raw:
        raise ValueError("empty peer")
    port_text = ""
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"bad peer {text!r}: expected [ADDRESS]:PORT")
        port_text = rest[1:] if rest else "-"
        if _ip(host) is None or ":" not in host:
            raise ValueError(f"bad peer {text!r}: [...] holds an IPv6 address")
    elif raw.count(":") == 1:
        host, _, port_text = raw.partition(":")
    else:  # a name, an IPv4 address, or a bare IPv6 address (two or more colons)
        host = raw
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"bad peer {text!r}: port must be 1..65535")
        port = int(port_text)
    ip = _ip(host)
    if ip is not None:
        return Peer(ip, port, True)
    if re.fullmatch(r"[0-9.]+", host) or HOSTNAME_RE.fullmatch(host) is None:
        raise ValueError(f"bad peer {text!r}: not an IP address or a host name ([A-Za-z0-9_-] labels, dots)")
    return Peer(host.lower(), port, False)


def check_interface(name: str) -> str:
    if INTERFACE_RE.fullmatch(name) is None:
        raise ValueError(f"bad interface {name!r}: 1-15 characters of [A-Za-z0-9_.:-], not starting with '-'")
    return name


def tcpdump_program(host: Host) -> str:
    """Host var `fixer_tcpdump` (an absolute path or a command name), else `tcpdump`."""
    value = host.vars.get(TCPDUMP_VAR)
    program = "tcpdump" if value in (None, "") else str(value)
    if PROGRAM_RE.fullmatch(program) is None or "/." in program or ".." in program:
        raise ValueError(f"{host.name}: bad {TCPDUMP_VAR} {program!r}: an absolute path or a command name")
    return program


def build_filter(addresses: Sequence[str], port: int) -> str:
    """`host A and port N` (or `(host A or host B) and port N`) from IP literals only: each is parsed again."""
    ips: list[str] = []
    for text in addresses:
        ip = _ip(text)
        if ip is None:
            raise ValueError(f"not an IP address: {text!r}")
        if ip not in ips:
            ips.append(ip)
    if not ips:
        raise ValueError("no address to capture")
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"bad port {port!r}")
    hosts = " or ".join(f"host {ip}" for ip in ips)
    return f"({hosts}) and port {port}" if len(ips) > 1 else f"{hosts} and port {port}"


@dataclass(frozen=True)
class CaptureSpec:
    peer: Peer
    interface: str = "any"
    seconds: int = DEFAULT_SECONDS
    max_bytes: int = DEFAULT_MAX_MB * MB
    probe: bool = False
    probe_timeout: float = 5.0
    servername: str | None = None  # SNI of the probe (default: the peer when it is a name)

    def __post_init__(self) -> None:
        check_interface(self.interface)
        if not 1 <= self.seconds <= MAX_SECONDS:
            raise ValueError(f"seconds must be 1..{MAX_SECONDS}")
        if not 1 <= self.max_bytes <= MAX_MB * MB:
            raise ValueError(f"max size must be 1 byte..{MAX_MB} MB")

    @property
    def hard_bound(self) -> int:
        """Seconds after which the node's `timeout` stops tcpdump, whatever the controller does."""
        probe_bound = int(3 * self.probe_timeout) + 1 if self.probe else 0
        return self.seconds + probe_bound + HARD_SLACK_S


# --- scripts ---------------------------------------------------------------------------------------------

_PREFLIGHT = r"""fixer_main() {{
want={want}
found=
case $want in
  */*) if [ -f "$want" ] && [ -x "$want" ]; then found=$want; fi ;;
  *) found=$(PATH="$PATH:/usr/sbin:/sbin:/usr/local/sbin:/usr/bin:/bin" command -v "$want" 2>/dev/null) || found= ;;
esac
echo "tcpdump=$found"
t=$(PATH="$PATH:/usr/bin:/bin" command -v timeout 2>/dev/null) || t=
echo "timeout=$t"
echo "uid=$(id -u)"
name={name}
if [ -n "$name" ]; then
  getent ahosts "$name" 2>/dev/null | awk '{{ print "addr=" $1 }}' | sort -u | head -n 16
fi
}}
fixer_main </dev/null
"""

_CAPTURE = r"""set -u
say() {{ printf '{mark} %s\n' "$*"; }}
alive() {{
  [ -r "/proc/$1/stat" ] || return 1
  set -- $(cat "/proc/$1/stat" 2>/dev/null)
  case ${{3:-Z}} in Z|X) return 1 ;; esac
  return 0
}}
fixer_main() {{
umask 077
dir=$(mktemp -d -t fixer-capture.XXXXXXXX) || {{ say error tmpdir; return 0; }}
file=$dir/capture.pcap
tpid=
wpid=
cleanup() {{
  if [ -n "$wpid" ]; then kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null; fi
  if [ -n "$tpid" ]; then kill -INT "$tpid" 2>/dev/null; wait "$tpid" 2>/dev/null; fi
  rm -rf -- "$dir"
}}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
say dir "$dir"
{timeout} -s INT -k 5 {bound} {tcpdump} -i {interface} -s 0 -B {buffer_kib} -U --immediate-mode -n {drop} \
  -w "$file" {filter} \
  </dev/null >/dev/null 2>"$dir/stderr" &
tpid=$!
i=0
until grep -q 'listening on' "$dir/stderr" 2>/dev/null; do
  if ! alive "$tpid"; then
    wait "$tpid"; rc=$?; tpid=
    say failed "$rc"; sed 's/^/{mark} stderr /' "$dir/stderr"; return 0
  fi
  i=$((i + 1))
  if [ "$i" -gt {listen_polls} ]; then say failed start-timeout; sed 's/^/{mark} stderr /' "$dir/stderr"; return 0; fi
  sleep 0.1
done
say listening
(
  while alive "$tpid"; do
    s=$(wc -c < "$file" 2>/dev/null) || s=0
    if [ "${{s:-0}}" -ge {max_bytes} ]; then kill -INT "$tpid" 2>/dev/null; say size-limit "$s"; exit 0; fi
    sleep 0.2
  done
  say exited
) </dev/null &
wpid=$!
cmd=$({timeout} -s KILL {deadman} head -n 1 2>/dev/null) || cmd=
kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null; wpid=
kill -INT "$tpid" 2>/dev/null; wait "$tpid"; rc=$?; tpid=
[ "$cmd" = stop ] || return 0
size=$(wc -c < "$file" 2>/dev/null) || size=0
say stopped "$rc" "${{size:-0}}"
sed 's/^/{mark} stderr /' "$dir/stderr"
n=${{size:-0}}
[ "$n" -le {max_bytes} ] || n={max_bytes}
say data "$n"
head -c "$n" "$file"
say end
rm -rf -- "$dir" && say removed
trap - EXIT
}}
fixer_main; exit 0
"""

_CLEANUP = """fixer_main() {{
i=0
while [ -e {dir} ] && [ "$i" -lt 20 ]; do rm -rf -- {dir}; [ -e {dir} ] || break; i=$((i + 1)); sleep 0.1; done
if [ -e {dir} ]; then echo left; else echo removed; fi
}}
fixer_main </dev/null
"""


def preflight_script(program: str, name: str | None) -> str:
    return _PREFLIGHT.format(want=q(program), name=q(name or ""))


def capture_script(spec: CaptureSpec, tcpdump: str, timeout_bin: str, filter_text: str, as_root: bool) -> str:
    return _CAPTURE.format(
        mark=MARK,
        timeout=q(timeout_bin),
        bound=int(spec.hard_bound),
        tcpdump=q(tcpdump),
        interface=q(check_interface(spec.interface)),
        drop="-Z root" if as_root else "",
        filter=q(filter_text),
        listen_polls=int(LISTEN_TIMEOUT_S * 10),
        buffer_kib=int(BUFFER_KIB),
        deadman=int(spec.hard_bound + DEADMAN_SLACK_S),
        max_bytes=int(spec.max_bytes),
    )


def cleanup_script(remote_dir: str) -> str:
    if REMOTE_DIR_RE.fullmatch(remote_dir) is None or {".", ".."} & set(remote_dir.split("/")):
        raise ValueError(f"refusing to remove {remote_dir!r}: not a fixer capture directory")
    return _CLEANUP.format(dir=q(remote_dir))


# --- preflight -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preflight:
    tcpdump: str
    timeout: str
    uid: int
    addresses: tuple[str, ...]


def parse_preflight(text: str) -> tuple[str, str, int | None, tuple[str, ...]]:
    values: dict[str, str] = {}
    addresses: list[str] = []
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key == "addr":
            ip = _ip(value.strip())
            if ip is not None and ip not in addresses:
                addresses.append(ip)
        else:
            values.setdefault(key, value.strip())
    uid_text = values.get("uid", "")
    return (values.get("tcpdump", ""), values.get("timeout", ""), int(uid_text) if uid_text.isdigit() else None,
            tuple(addresses))


def preflight(session: Session, spec: CaptureSpec, become: bool) -> Preflight:
    host = session.host
    program = tcpdump_program(host)
    result = session.run_script(preflight_script(program, None if spec.peer.is_ip else spec.peer.host), become)
    tcpdump, timeout_bin, uid, addresses = parse_preflight(result.stdout.decode("utf-8", errors="replace"))
    if uid is None:
        detail = result.stderr.decode("utf-8", errors="replace").strip()
        raise CaptureError(f"{host.name}: the preflight script failed (exit {result.exit_status}): {detail}",
                           "protocol")
    if not tcpdump or PROGRAM_RE.fullmatch(tcpdump) is None:
        where = f"{program} is not an executable file" if "/" in program else f"no {program} in PATH"
        raise CaptureError(
            f"{host.name}: tcpdump not found ({where}, also looked in /usr/sbin, /sbin, /usr/local/sbin): install "
            f"it on the node (e.g. `apt-get install tcpdump`, `yum install tcpdump`) or set host var "
            f"{TCPDUMP_VAR} to its path", "no-tcpdump")
    if not timeout_bin or PROGRAM_RE.fullmatch(timeout_bin) is None:
        raise CaptureError(f"{host.name}: no `timeout` command (coreutils) on the node: the capture could not "
                           "be bounded", "no-timeout")
    if not spec.peer.is_ip and not addresses:
        raise CaptureError(f"{host.name}: cannot resolve {spec.peer.host} on the node (getent ahosts found no "
                           "address): give the peer as an IP address", "resolve")
    return Preflight(tcpdump, timeout_bin, uid, addresses if not spec.peer.is_ip else (spec.peer.host,))


# --- the capture channel ---------------------------------------------------------------------------------


class _Stream:
    """A line-and-bytes reader over an exec channel's stdout, stderr drained alongside (kept, bounded)."""

    STDERR_KEEP = 64 * 1024

    def __init__(self, channel: paramiko.Channel) -> None:
        self.channel = channel
        self.buf = bytearray()
        self.err = bytearray()
        self.eof = False

    def _fill(self, wait: float) -> None:
        if self.eof:
            return
        ch = self.channel
        if not (ch.recv_ready() or ch.recv_stderr_ready()):
            select.select([ch], [], [], max(0.0, wait))
        while ch.recv_stderr_ready():
            chunk = ch.recv_stderr(65536)
            if len(self.err) < self.STDERR_KEEP:
                self.err += chunk[: self.STDERR_KEEP - len(self.err)]
        if ch.recv_ready():
            data = ch.recv(65536)
            if data:
                self.buf += data
                return
            self.eof = True
        elif ch.eof_received or ch.closed:
            self.eof = True

    def line(self, deadline: float) -> str | None:
        """The next whole line (without newline), None at end of file; CommandTimeoutError at the deadline."""
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                raw = bytes(self.buf[:nl])
                del self.buf[: nl + 1]
                return raw.decode("utf-8", errors="replace")
            if self.eof:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CommandTimeoutError("no answer from the capture script in time")
            self._fill(min(remaining, 0.5))

    def poll_line(self, wait: float) -> str | None:
        """A line if one arrives within `wait` seconds, else None (check `eof`)."""
        if self.buf.find(b"\n") < 0 and not self.eof:
            self._fill(wait)
        nl = self.buf.find(b"\n")
        if nl < 0:
            return None
        raw = bytes(self.buf[:nl])
        del self.buf[: nl + 1]
        return raw.decode("utf-8", errors="replace")

    def copy(self, n: int, sink: IO[bytes], deadline: float) -> int:
        """Copy exactly `n` bytes of stdout into `sink` (fewer at end of file); returns how many."""
        done = 0
        while done < n:
            if self.buf:
                take = min(n - done, len(self.buf))
                sink.write(self.buf[:take])
                del self.buf[:take]
                done += take
                continue
            if self.eof:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CommandTimeoutError(f"download stalled after {done} of {n} bytes")
            self._fill(min(remaining, 0.5))
        return done

    def stderr_text(self) -> str:
        return self.err.decode("utf-8", errors="replace").strip()


def _open_channel(session: Session, become: bool) -> paramiko.Channel:
    """An exec channel running `sh -s` (under sudo with become), stdin left open for the controller."""
    clients = session._clients  # the target's client is the last one (earlier ones are ProxyJump hops)
    if not clients:
        raise HostError("not connected")
    transport = clients[-1].get_transport()
    if transport is None or not transport.is_active():
        raise UnreachableError("SSH connection is closed")
    try:
        channel = transport.open_session(timeout=session.options.connect_timeout)
    except (paramiko.SSHException, OSError) as exc:
        raise UnreachableError(f"cannot open a session channel: {exc}") from exc
    try:
        if become:
            session._become(channel, time.monotonic() + session.options.command_timeout)
        else:
            channel.exec_command("sh -s")
    except BaseException:
        channel.close()
        raise
    return channel


# --- the whole capture -----------------------------------------------------------------------------------


@dataclass
class CaptureOutcome:
    host: str
    path: Path  # the local file
    size: int  # bytes written locally
    interface: str
    filter: str
    remote_dir: str | None = None
    removed: bool = False  # the node's temp dir is gone (confirmed)
    tcpdump_rc: int | None = None
    tcpdump_stats: tuple[str, ...] = ()  # "N packets captured", ... from tcpdump's stderr
    link_type: str | None = None  # from "listening on any, link-type LINUX_SLL2 (...)"
    size_limited: bool = False  # the watchdog stopped tcpdump at --max-mb
    truncated: bool = False  # the node's file was larger than --max-mb: only that much was downloaded
    stopped_early: bool = False  # tcpdump ended before the controller said stop
    seconds: float = 0.0  # how long tcpdump ran (listening .. stop)
    probe: ProbeResult | None = None
    probe_error: str | None = None
    notes: list[str] = field(default_factory=list)


Progress = Callable[[float, float], None]  # (elapsed seconds, planned seconds)


def _tmp_target(dest: Path) -> tuple[int, str]:
    parent = dest.parent if str(dest.parent) else Path(".")
    return tempfile.mkstemp(dir=parent, prefix=f".{dest.name}.", suffix=".part")


def _remote_failure(host: str, rc_text: str, stderr_lines: list[str], become: bool, uid: int) -> CaptureError:
    text = " / ".join(line.strip() for line in stderr_lines if line.strip()) or "no message"
    lower = text.lower()
    if "permission" in lower or "operation not permitted" in lower:
        how = ("the become user has no capture rights either" if become else
               "set `ansible_become: true` for this host (sudo), or give tcpdump CAP_NET_RAW "
               "(setcap cap_net_raw,cap_net_admin=eip tcpdump)")
        who = "root" if uid == 0 else f"uid {uid}"
        return CaptureError(f"{host}: no permission to capture (tcpdump ran as {who}): {how}: {text}", "permission")
    if "no such device" in lower or "that device doesn't exist" in lower or "no such interface" in lower:
        return CaptureError(f"{host}: tcpdump cannot capture on that interface: {text}", "tcpdump")
    what = "did not start listening in time" if rc_text == "start-timeout" else f"exited with status {rc_text}"
    return CaptureError(f"{host}: tcpdump {what}: {text}", "tcpdump")


def run_capture(session: Session, spec: CaptureSpec, dest: Path, progress: Progress | None = None) -> CaptureOutcome:
    """Capture on `session.host` (already connected) into the local file `dest` (written atomically).

    Raises CaptureError (tcpdump missing, no permission, resolution, tcpdump failed) and HostError (the
    connection, sudo, timeouts). The node's temporary directory is removed on every path out of here.
    """
    host = session.host
    become = host.become
    pre = preflight(session, spec, become)
    filter_text = build_filter(pre.addresses, spec.peer.port)
    outcome = CaptureOutcome(host=host.name, path=dest, size=0, interface=spec.interface, filter=filter_text)
    script = capture_script(spec, pre.tcpdump, pre.timeout, filter_text, as_root=pre.uid == 0)
    step = session.options.command_timeout
    channel = _open_channel(session, become)
    stream = _Stream(channel)
    tmp_fd: int | None = None
    tmp_path: str | None = None
    probe_thread: threading.Thread | None = None
    try:
        channel.sendall(script.encode())
        stderr_lines: list[str] = []
        # -- until tcpdump listens
        deadline = time.monotonic() + step + LISTEN_TIMEOUT_S
        while True:
            line = stream.line(deadline)
            if line is None:
                detail = stream.stderr_text() or "no message"
                raise CaptureError(f"{host.name}: the capture script ended early: {detail}", "protocol")
            if not line.startswith(MARK + " "):
                continue
            word, _, rest = line[len(MARK) + 1:].partition(" ")
            if word == "dir":
                outcome.remote_dir = rest
            elif word == "error":
                raise CaptureError(f"{host.name}: cannot make a private temporary directory (mktemp -d)", "tmpdir")
            elif word == "stderr":
                stderr_lines.append(rest)
            elif word == "failed":
                for _ in range(50):  # the stderr lines follow, then the script ends
                    more = stream.line(time.monotonic() + step)
                    if more is None:
                        break
                    if more.startswith(f"{MARK} stderr "):
                        stderr_lines.append(more[len(MARK) + 8:])
                raise _remote_failure(host.name, rest, stderr_lines, become, pre.uid)
            elif word == "listening":
                break
        # -- capturing (and probing)
        started = time.monotonic()
        probe_box: dict[str, object] = {}
        if spec.probe:
            probe_thread = threading.Thread(target=_probe, args=(session, spec, probe_box), daemon=True,
                                            name="capture-probe")
            probe_thread.start()
        last_tick = -1
        limit = spec.seconds + (3 * spec.probe_timeout + 1 if spec.probe else 0)
        while True:
            elapsed = time.monotonic() - started
            probing = probe_thread is not None and probe_thread.is_alive()
            if (elapsed >= spec.seconds and not probing) or elapsed >= limit:
                break
            if progress is not None and int(elapsed) != last_tick:
                last_tick = int(elapsed)
                progress(elapsed, spec.seconds)
            line = stream.poll_line(0.2)
            if line is not None and line.startswith(MARK + " "):
                word = line[len(MARK) + 1:].partition(" ")[0]
                if word == "size-limit":
                    outcome.size_limited = True
                    outcome.notes.append(f"tcpdump stopped at the size limit ({spec.max_bytes // MB} MB)")
                    break
                if word == "exited":
                    outcome.stopped_early = True
                    outcome.notes.append("tcpdump ended before the planned time")
                    break
            if stream.eof:
                raise CaptureError(f"{host.name}: the capture script ended while capturing: "
                                   f"{stream.stderr_text() or 'no message'}", "protocol")
        if progress is not None:
            progress(min(time.monotonic() - started, float(spec.seconds)), spec.seconds)
        if probe_thread is not None:
            probe_thread.join(timeout=max(0.0, limit - (time.monotonic() - started)) + 1.0)
            outcome.probe = probe_box.get("result")  # type: ignore[assignment]
            if "error" in probe_box:
                outcome.probe_error = str(probe_box["error"])
        # -- stop and download
        channel.sendall(b"stop\n")
        outcome.seconds = round(time.monotonic() - started, 2)
        deadline = time.monotonic() + step
        data_len: int | None = None
        while data_len is None:
            line = stream.line(deadline)
            if line is None:
                raise CaptureError(f"{host.name}: the capture script ended before sending the file: "
                                   f"{stream.stderr_text() or 'no message'}", "protocol")
            if not line.startswith(MARK + " "):
                continue
            word, _, rest = line[len(MARK) + 1:].partition(" ")
            if word == "stopped":
                rc_text, _, size_text = rest.partition(" ")
                outcome.tcpdump_rc = int(rc_text) if rc_text.isdigit() else None
                if size_text.isdigit() and int(size_text) > spec.max_bytes:
                    outcome.truncated = True
                    outcome.notes.append(f"the node's file had {int(size_text)} bytes: only the first "
                                         f"{spec.max_bytes} were downloaded (--max-mb)")
            elif word == "stderr":
                stderr_lines.append(rest)
            elif word == "data":
                if not rest.isdigit() or int(rest) > spec.max_bytes:
                    raise CaptureError(f"{host.name}: bad data frame from the capture script: {rest!r}", "protocol")
                data_len = int(rest)
        tmp_fd, tmp_path = _tmp_target(dest)
        with os.fdopen(tmp_fd, "wb") as sink:
            tmp_fd = None
            got = stream.copy(data_len, sink, time.monotonic() + max(step, data_len / (256 * 1024)))
            sink.flush()
            os.fsync(sink.fileno())
        if got != data_len:
            raise CaptureError(f"{host.name}: the download ended after {got} of {data_len} bytes", "protocol")
        outcome.size = got
        deadline = time.monotonic() + step
        while True:
            line = stream.line(deadline)
            if line is None:
                break
            if line == f"{MARK} removed":
                outcome.removed = True
        for line in stderr_lines:
            text = line.removeprefix("tcpdump: ")
            if text.startswith("listening on"):
                match = re.search(r"link-type (\S+)", text)
                outcome.link_type = match.group(1) if match else None
            elif re.match(r"\d+ packets? ", text):
                outcome.tcpdump_stats += (text.strip(),)
                dropped = re.match(r"(\d+) packets? dropped by kernel", text)
                if dropped and int(dropped.group(1)):
                    outcome.notes.append(f"tcpdump lost {dropped.group(1)} packets (dropped by the kernel: the node "
                                         "was too busy or the traffic too heavy): connections may look incomplete")
        if outcome.tcpdump_rc not in (0, None):
            outcome.notes.append(f"tcpdump exited with status {outcome.tcpdump_rc}")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, dest)
        tmp_path = None
        return outcome
    except paramiko.SSHException as exc:
        raise UnreachableError(f"connection lost during the capture: {exc}") from exc
    finally:
        if tmp_fd is not None:
            os.close(tmp_fd)
        if tmp_path is not None:
            Path(tmp_path).unlink(missing_ok=True)
        with contextlib.suppress(Exception):
            channel.close()  # end of file on the script's stdin: it stops tcpdump and removes its directory
        if not outcome.removed and outcome.remote_dir:
            outcome.removed = _cleanup(session, outcome.remote_dir, become)


def _probe(session: Session, spec: CaptureSpec, box: dict[str, object]) -> None:
    from fixer.probe.model import ProbeTarget
    from fixer.probe.tunnel import probe_from

    try:
        box["result"] = probe_from(session, ProbeTarget(spec.peer.host, spec.peer.port, spec.servername),
                                   spec.probe_timeout)
    except Exception as exc:  # reported with the capture; the capture itself goes on
        box["error"] = f"{type(exc).__name__}: {exc}"


def _cleanup(session: Session, remote_dir: str, become: bool) -> bool:
    """Remove the node's capture directory; True when it is gone. Never raises."""
    try:
        result = session.run_script(cleanup_script(remote_dir), become)
    except Exception:
        return False
    return result.stdout.decode("utf-8", errors="replace").strip().endswith("removed")


def default_output(host: str, now: float | None = None) -> Path:
    """`./capture-HOST-YYYYmmddTHHMMSSZ.pcap` (the host name reduced to file-name-safe characters)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", host).lstrip(".") or "host"
    return Path(f"capture-{safe}-{stamp}.pcap")
