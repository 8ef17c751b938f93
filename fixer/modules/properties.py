"""`properties`: set and remove keys of a Java .properties file, round-trip (see propedit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from fixer.errors import ParseError
from fixer.modules.base import (
    OWNER_ARGS,
    Arg,
    ArgError,
    Module,
    Outcome,
    PlanError,
    PlanState,
    attrs_after,
    is_templated,
    to_bool,
    to_path,
    to_scalar_text,
    to_str,
    to_str_list,
)
from fixer.modules.propedit import edit_properties, escape_key, escape_value
from fixer.plan.model import FileState


def _assignments(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ArgError(f"{what} must be a mapping of key: value")
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = to_str(key, f"{what} key {key!r}")
        if item is None:
            raise ArgError(f"{what}: {name} is null; write '' for an empty value")
        out[name] = item if is_templated(item) else to_scalar_text(item, f"{what}: {name}")
    return out


def decode(content: bytes) -> tuple[str, str]:
    """(text, codec): UTF-8 when the bytes are UTF-8, else ISO-8859-1 (lossless either way)."""
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return content.decode("latin-1"), "latin-1"


class PropertiesModule(Module):
    name: ClassVar[str] = "properties"
    path_arg: ClassVar[str | None] = "path"
    spec: ClassVar[Mapping[str, Arg]] = {
        "path": Arg(to_path, required=True),
        "set": Arg(_assignments, default={}, handles_templates=True),
        "remove": Arg(to_str_list, default=[]),
        "create": Arg(to_bool, default=False),
        **OWNER_ARGS,
    }

    def check(self, args: Mapping[str, Any], static: bool) -> None:
        assign = args.get("set", {})
        remove = args.get("remove", [])
        if is_templated(assign) or is_templated(remove):
            return
        if not assign and not remove and all(args.get(k) is None for k in ("owner", "group", "mode")):
            raise ArgError("properties: nothing to do (give set, remove, owner, group or mode)")
        literal = {k: v for k, v in assign.items() if isinstance(k, str) and not is_templated(k)}
        for key, value in literal.items():
            _checked_key(key, "set")
            if isinstance(value, str) and not is_templated(value):
                try:
                    escape_value(value)
                except ValueError as exc:
                    raise ArgError(f"properties: set: {key}: the value contains a newline or carriage "
                                   f"return ({exc}): refused, it would inject another key") from None
        removed = [k for k in (remove if isinstance(remove, list) else [remove])
                   if isinstance(k, str) and not is_templated(k)]
        for key in removed:
            _checked_key(key, "remove")
        both = sorted(set(literal) & set(removed))
        if both:
            raise ArgError(f"properties: {', '.join(both)} is both set and removed")

    def plan(self, args: Mapping[str, Any], state: PlanState, task: str) -> Outcome:
        path = args["path"]
        before = state.read(path)
        if not before.exists and not args["create"]:
            raise PlanError(f"{path} does not exist (add `create: true` to create it)")
        text, codec = decode(before.content)
        try:
            new_text = edit_properties(text, args["set"], args["remove"])
        except ParseError as exc:
            raise PlanError(f"{path}: cannot edit a malformed .properties file: {exc}") from None
        owner, group, mode = attrs_after(before, args)
        after = FileState(True, new_text.encode(codec), owner, group, mode)
        return Outcome(state.write(path, after, task))


def _checked_key(key: str, where: str) -> None:
    try:
        escape_key(key)
    except ValueError as exc:
        raise ArgError(f"properties: {where}: key {key!r}: {exc}: refused, it would inject another key") from None
