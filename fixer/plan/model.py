"""What a playbook would do on one host: exact file changes, service actions and verifications.

A plan is computed from what was read on the host (RemoteFile, with its sha256) and is the contract of
the executor: a file is only written when it still has the bytes the plan saw.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class FileState:
    """A file as seen on a host (or as a plan wants it). `exists=False` means absent."""

    exists: bool
    content: bytes = b""
    owner: str | None = None
    group: str | None = None
    mode: int | None = None  # permission bits

    @property
    def sha256(self) -> str | None:
        return sha256(self.content) if self.exists else None

    @property
    def mode_text(self) -> str:
        return "" if self.mode is None else f"{self.mode:04o}"


@dataclass(frozen=True)
class FileChange:
    """One path's change: `before` as read at plan time, `after` as the playbook leaves it."""

    path: str
    before: FileState
    after: FileState
    tasks: tuple[str, ...]  # names of the tasks that touched the path, in order

    @property
    def content_changed(self) -> bool:
        return self.before.exists != self.after.exists or self.before.content != self.after.content

    @property
    def attrs_changed(self) -> bool:
        if not self.after.exists:
            return False
        return (self.after.owner, self.after.group, self.after.mode) != (
            self.before.owner, self.before.group, self.before.mode
        )

    @property
    def changed(self) -> bool:
        return self.content_changed or self.attrs_changed


@dataclass(frozen=True)
class Readiness:
    """How to tell a restarted component is up again."""

    port: int | None = None  # GET http://localhost:<port>/v1/servers/self/up must answer true
    wait_for_ready: bool = True  # `apigee-service <component> wait_for_ready`
    timeout_s: float = 300.0


@dataclass(frozen=True)
class ServiceAction:
    component: str  # edge-message-processor | edge-router | ...
    action: str  # restart | start | stop
    command: str  # path of apigee-service on the node
    readiness: Readiness = field(default_factory=Readiness)
    reason: str = ""  # the handler or task that asked for it


@dataclass(frozen=True)
class Verify:
    """A post-condition checked on the node after handlers ran."""

    kind: str  # "properties" | "nginx_test" | "file_contains"
    name: str
    path: str | None = None
    key: str | None = None
    value: str | None = None
    pattern: str | None = None  # a regex for file_contains


@dataclass(frozen=True)
class HostPlan:
    host: str
    address: str
    files: tuple[FileChange, ...] = ()
    services: tuple[ServiceAction, ...] = ()
    verifies: tuple[Verify, ...] = ()
    notes: tuple[str, ...] = ()  # e.g. "jce-unlimited: no unlimited policy on this Java: install JCE"

    @property
    def changes(self) -> tuple[FileChange, ...]:
        return tuple(f for f in self.files if f.changed)

    @property
    def changed(self) -> bool:
        return bool(self.changes) or bool(self.services)
