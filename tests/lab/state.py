"""The lab's record of everything it started: the only source ``down`` trusts (see reference/lab.md)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"


class LabError(RuntimeError):
    """The lab could not be started, reached or ended."""


@dataclass
class NodeState:
    name: str
    ip: str
    kind: str  # mp | router | plain | absent (in the inventory only)
    group: str
    netns: str | None = None
    pid: int | None = None  # sshd, which is also the node's init
    starttime: int | None = None  # /proc/PID/stat field 22, guards against a recycled PID


@dataclass
class ExtraPid:
    pid: int
    starttime: int
    what: str


@dataclass
class LabState:
    status: str = "new"  # new | starting | up | failed | down
    octet: int | None = None
    netns: list[str] = field(default_factory=list)  # every namespace created, bridge first
    nodes: dict[str, NodeState] = field(default_factory=dict)
    extra_pids: list[ExtraPid] = field(default_factory=list)  # listeners, nginx masters
    backends: dict[str, str] = field(default_factory=dict)  # TLS backend name -> ip (scenario lab only)
    owns_dir: bool = False  # the lab made its directory, so down removes it
    bench: int | None = None
    components: bool = True
    sudo_password: str = ""
    users: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    version: int = 1

    def save(self, lab_dir: Path) -> None:
        tmp = lab_dir / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=1, sort_keys=True) + "\n")
        os.replace(tmp, lab_dir / STATE_FILE)  # atomic: a crash never leaves a half-written record

    @classmethod
    def load(cls, lab_dir: Path) -> LabState:
        raw: dict[str, Any] = json.loads((lab_dir / STATE_FILE).read_text())
        raw["nodes"] = {name: NodeState(**node) for name, node in raw.get("nodes", {}).items()}
        raw["extra_pids"] = [ExtraPid(**extra) for extra in raw.get("extra_pids", [])]
        return cls(**raw)
