"""A loaded, validated playbook: plays of tasks and handlers, arguments still untemplated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

REQUIREMENT_KINDS = ("vars", "exists", "tokens_pending", "file_lacks")


@dataclass(frozen=True)
class Requirement:
    """One `requires` condition of a task; when it does not hold, the task is skipped (with `note`).

    - `vars`: every named variable is defined and not empty.
    - `exists`: at least one of the paths exists on the node (after the earlier tasks).
    - `tokens_pending`: `{customer, generated, file}`: an Apigee override token of `customer` for the
      generated `<file>.properties` (default `system`) differs from `generated`: a restart is pending.
    - `file_lacks`: `{path, pattern}`: `path` exists and no line matches the regex.
    """

    kind: str
    args: Any  # as written: a list of names/paths, or a mapping
    note: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Task:
    name: str
    module: str
    args: Any = field(default_factory=dict)  # as written: a mapping, or one template giving it (per host)
    notify: tuple[str, ...] = ()
    when: tuple[str, ...] = ()  # Jinja expressions, all must be true
    requires: tuple[Requirement, ...] = ()
    file: str = "<string>"
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Play:
    name: str
    hosts: str  # an inventory pattern, for Inventory.select
    vars: Mapping[str, Any] = field(default_factory=dict)
    serial: tuple[int | str, ...] | None = None  # None: every host in one batch
    max_fail_percentage: float = 0.0
    tasks: tuple[Task, ...] = ()
    handlers: tuple[Task, ...] = ()
    file: str = "<string>"
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def handler(self, name: str) -> Task | None:
        return next((h for h in self.handlers if h.name == name), None)


@dataclass(frozen=True)
class Playbook:
    path: str
    plays: tuple[Play, ...]


def plain(value: Any) -> Any:
    """A deep copy with the loader's LineDict/LineList -> dict/list; `!unsafe` strings stay UnsafeText."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value  # scalars, UnsafeText included, are immutable
