"""Ansible `serial` semantics: split a play's hosts into rolling batches (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

from fixer.errors import UsageError

T = TypeVar("T")


def batch_size(spec: int | str, total: int) -> int:
    """One serial entry: a count, or a percentage of all the play's hosts (rounded down, at least 1)."""
    if isinstance(spec, bool):
        raise UsageError(f"serial entry {spec!r} is neither a number nor a percentage")
    if isinstance(spec, int):
        size = spec
    else:
        text = str(spec).strip()
        try:
            size = math.floor(total * float(text[:-1]) / 100.0) if text.endswith("%") else int(text)
        except ValueError:
            raise UsageError(f"serial entry {spec!r} is neither a number nor a percentage") from None
    if size < 0:
        raise UsageError(f"serial entry {spec!r} is negative")
    return max(1, size) if total else 0


def split_batches(hosts: Sequence[T], serial: Sequence[int | str] | None) -> list[list[T]]:
    """`serial: [1, "25%", "100%"]`: the first batch is the canary; the last entry repeats; none = one batch."""
    items = list(hosts)
    if not items:
        return []
    if not serial:
        return [items]
    batches: list[list[T]] = []
    index = 0
    step = 0
    while index < len(items):
        spec = serial[min(step, len(serial) - 1)]
        size = batch_size(spec, len(items)) or len(items)
        batches.append(items[index:index + size])
        index += size
        step += 1
    return batches


def parse_serial_option(text: str) -> list[int | str]:
    """`--serial 1,25%,100%` → [1, "25%", "100%"]."""
    out: list[int | str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            raise UsageError(f"--serial {text!r}: empty entry")
        out.append(part if part.endswith("%") else int(part) if part.isdigit() else part)
        batch_size(out[-1], 100)  # validates
    return out
