"""One capture on a connected host: preflight, the capture script on one exec channel, download, cleanup.

Two execs on the host's one SSH connection, both with `become` when the inventory says so: the preflight
(`fixer.capture.discover`), then the capture script (`fixer.capture.script`) on a channel kept open
(`Session.open_shell`). The controller waits for "listening", optionally probes the peer from the node,
writes `stop` on the script's stdin after --seconds, and reads the file framed by its byte count into a
local temporary file that replaces the destination once complete. A controller that did not read the
script's confirmation that it removed its directory removes it itself (`rm -rf` of a path that must look
like one `mktemp` made), on failure and on Ctrl-C too.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko

from fixer.capture.discover import preflight
from fixer.capture.script import LISTEN_TIMEOUT_S, MARK, capture_script, cleanup_script
from fixer.capture.stream import ChannelStream
from fixer.capture.validate import MB, CaptureSpec, build_filter
from fixer.errors import CaptureRunError, UnreachableError

if TYPE_CHECKING:
    from fixer.probe.model import ProbeResult
    from fixer.transport.ssh import Session


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


def _remote_failure(host: str, rc_text: str, stderr_lines: list[str], become: bool, uid: int) -> CaptureRunError:
    text = " / ".join(line.strip() for line in stderr_lines if line.strip()) or "no message"
    lower = text.lower()
    if "permission" in lower or "operation not permitted" in lower:
        how = ("the become user has no capture rights either" if become else
               "set `ansible_become: true` for this host (sudo), or give tcpdump CAP_NET_RAW "
               "(setcap cap_net_raw,cap_net_admin=eip tcpdump)")
        who = "root" if uid == 0 else f"uid {uid}"
        return CaptureRunError(f"{host}: no permission to capture (tcpdump ran as {who}): {how}: {text}", "permission")
    if "no such device" in lower or "that device doesn't exist" in lower or "no such interface" in lower:
        return CaptureRunError(f"{host}: tcpdump cannot capture on that interface: {text}", "tcpdump")
    what = "did not start listening in time" if rc_text == "start-timeout" else f"exited with status {rc_text}"
    return CaptureRunError(f"{host}: tcpdump {what}: {text}", "tcpdump")


def run_capture(session: Session, spec: CaptureSpec, dest: Path, progress: Progress | None = None) -> CaptureOutcome:
    """Capture on `session.host` (already connected) into the local file `dest` (written atomically).

    Raises CaptureRunError (tcpdump missing, no permission, resolution, tcpdump failed) and HostError (the
    connection, sudo, timeouts). The node's temporary directory is removed on every path out of here.
    """
    host = session.host
    become = host.become
    pre = preflight(session, spec, become)
    filter_text = build_filter(pre.addresses, spec.peer.port)
    outcome = CaptureOutcome(host=host.name, path=dest, size=0, interface=spec.interface, filter=filter_text)
    script = capture_script(spec, pre.tcpdump, pre.timeout, filter_text, as_root=pre.uid == 0)
    step = session.options.command_timeout
    channel = session.open_shell(become)
    stream = ChannelStream(channel)
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
                raise CaptureRunError(f"{host.name}: the capture script ended early: {detail}", "protocol")
            if not line.startswith(MARK + " "):
                continue
            word, _, rest = line[len(MARK) + 1:].partition(" ")
            if word == "dir":
                outcome.remote_dir = rest
            elif word == "error":
                raise CaptureRunError(f"{host.name}: cannot make a private temporary directory (mktemp -d)", "tmpdir")
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
                raise CaptureRunError(f"{host.name}: the capture script ended while capturing: "
                                   f"{stream.stderr_text() or 'no message'}", "protocol")
        if progress is not None:
            progress(min(time.monotonic() - started, float(spec.seconds)), spec.seconds)
        if probe_thread is not None:
            probe_thread.join(timeout=max(0.0, limit - (time.monotonic() - started)) + 1.0)
            outcome.probe = probe_box.get("result")  # type: ignore[assignment]
            if "error" in probe_box:
                outcome.probe_error = str(probe_box["error"])
            elif probe_thread.is_alive():  # each handshake is bounded, so this is a hung channel: say so
                outcome.probe_error = "the probe did not finish within the capture's time bound (not shown)"
        # -- stop and download
        channel.sendall(b"stop\n")
        outcome.seconds = round(time.monotonic() - started, 2)
        deadline = time.monotonic() + step
        data_len: int | None = None
        while data_len is None:
            line = stream.line(deadline)
            if line is None:
                raise CaptureRunError(f"{host.name}: the capture script ended before sending the file: "
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
                    raise CaptureRunError(f"{host.name}: bad data frame from the capture script: {rest!r}", "protocol")
                data_len = int(rest)
        tmp_fd, tmp_path = _tmp_target(dest)
        with os.fdopen(tmp_fd, "wb") as sink:
            tmp_fd = None
            got = stream.copy(data_len, sink, time.monotonic() + max(step, data_len / (256 * 1024)))
            sink.flush()
            os.fsync(sink.fileno())
        if got != data_len:
            raise CaptureRunError(f"{host.name}: the download ended after {got} of {data_len} bytes", "protocol")
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
