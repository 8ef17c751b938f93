"""`file`: owner, group and mode of an existing file (the `chown apigee:apigee` step)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from fixer.modules.base import OWNER_ARGS, Arg, ArgError, Module, Outcome, PlanError, PlanState, attrs_after, to_path
from fixer.plan.model import FileState


class FileModule(Module):
    name: ClassVar[str] = "file"
    path_arg: ClassVar[str | None] = "path"
    spec: ClassVar[Mapping[str, Arg]] = {"path": Arg(to_path, required=True), **OWNER_ARGS}

    def check(self, args: Mapping[str, Any], static: bool) -> None:
        if all(args.get(k) is None for k in ("owner", "group", "mode")):
            raise ArgError("file: nothing to do (give owner, group or mode)")

    def plan(self, args: Mapping[str, Any], state: PlanState, task: str) -> Outcome:
        path = args["path"]
        before = state.read(path)
        if not before.exists:
            raise PlanError(f"{path} does not exist: nothing to chown/chmod")
        owner, group, mode = attrs_after(before, args)
        after = FileState(True, before.content, owner, group, mode)
        return Outcome(state.write(path, after, task))
