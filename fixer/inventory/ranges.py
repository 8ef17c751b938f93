"""Host keys as Ansible reads them: `mp[01:12].dc1`, `[a:c]`, `[01:10:2]`, and an optional `:port` suffix."""

from __future__ import annotations

import ipaddress
import re
import string

# A host key may end in ":port" (`rt02:2222`, `[fe80::1]:22`); ranges keep their colons inside brackets.
_BRACKETED_PORT = re.compile(r"\[(.+)\]:([0-9]+)")
_HOST_PORT = re.compile(r"((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)")
# What may stand before that port: a DNS-like name whose labels may hold ranges, or an IP address.
_RANGE = r"\[[0-9a-zA-Z]+:[0-9a-zA-Z]+(?::[0-9]+)?\]"
_LABEL = rf"(?:\w|{_RANGE})(?:[\w-]|{_RANGE})*"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_NUMBER = re.compile(r"[0-9]+")


class RangeError(ValueError):
    """A host key whose `[...]` range cannot be expanded."""


def split_port(key: str) -> tuple[str, int | None]:
    """`host:2222` -> ("host", 2222); anything that is not clearly host+port stays whole, as in Ansible."""
    for pattern in (_BRACKETED_PORT, _HOST_PORT):
        m = pattern.fullmatch(key)
        if m and _is_host(m.group(1)):
            return m.group(1), int(m.group(2))
    return key, None


def _is_host(text: str) -> bool:
    if _HOSTNAME.fullmatch(text):
        return True
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def expand_host_key(key: str) -> tuple[list[str], int | None]:
    """The host names a YAML host key stands for, and the port it names (None when it names none)."""
    name, port = split_port(key)
    return expand_ranges(name), port


def expand_ranges(name: str) -> list[str]:
    """Expand every `[begin:end]` / `[begin:end:step]` range in `name`, left to right (Ansible's rules).

    Stricter than Ansible where Ansible fails silently or crashes: an empty range (begin > end), a zero
    step, a non-numeric bound or an unclosed bracket is a RangeError instead of zero hosts or a traceback.
    """
    if "[" not in name:
        if "]" in name:
            raise RangeError(f"unmatched ']' in host name {name!r}")
        return [name]
    head, _, rest = name.partition("[")
    body, closed, tail = rest.partition("]")
    if not closed:
        raise RangeError(f"unclosed '[' in host range {name!r}")
    return [expanded for item in _range_items(body, name) for expanded in expand_ranges(f"{head}{item}{tail}")]


def _range_items(body: str, name: str) -> list[str]:
    bounds = body.split(":")
    if len(bounds) not in (2, 3):
        raise RangeError(f"host range [{body}] in {name!r} must be [begin:end] or [begin:end:step]")
    begin, end = bounds[0] or "0", bounds[1]
    if not end:
        raise RangeError(f"host range [{body}] in {name!r} has no end value")
    step = 1
    if len(bounds) == 3:
        if not _NUMBER.fullmatch(bounds[2]) or int(bounds[2]) == 0:
            raise RangeError(f"host range [{body}] in {name!r}: step must be a positive integer")
        step = int(bounds[2])
    letters = string.ascii_letters
    if len(begin) == 1 and len(end) == 1 and begin in letters and end in letters:
        first, last = letters.index(begin), letters.index(end)
        if first > last:
            raise RangeError(f"host range [{body}] in {name!r}: begin must not come after end")
        return list(letters[first : last + 1 : step])
    if not (_NUMBER.fullmatch(begin) and _NUMBER.fullmatch(end)):
        raise RangeError(f"host range [{body}] in {name!r}: bounds must be two numbers or two letters")
    width = 0
    if begin.startswith("0") and len(begin) > 1:
        # A zero-padded begin fixes the width of every name, so both bounds must be written alike.
        if len(begin) != len(end):
            raise RangeError(f"host range [{body}] in {name!r}: zero-padded bounds must have equal length")
        width = len(begin)
    if int(begin) > int(end):
        raise RangeError(f"host range [{body}] in {name!r}: begin must not be greater than end")
    return [str(i).zfill(width) for i in range(int(begin), int(end) + 1, step)]
