"""Reading the capture script's exec channel: its marked lines, then the framed file, stderr kept aside."""

from __future__ import annotations

import select
import time
from typing import IO

import paramiko

from fixer.errors import CommandTimeoutError


class ChannelStream:
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

