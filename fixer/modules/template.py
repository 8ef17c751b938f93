"""`template`: render a Jinja2 template from the `templates/` directory to a file on the node.

Templates are looked up in the repository's `templates/` directory (beside the `fixer` package), then
in `<sys.prefix>/share/fixer/templates` (an installed fixer). `src` is relative to that directory;
absolute paths and `..` are refused. Rendering uses StrictUndefined, keeps the trailing newline and
does no autoescaping; the result is written as UTF-8.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import fixer
from fixer.modules.base import OWNER_ARGS, Arg, ArgError, Module, Outcome, PlanState, attrs_after, to_path, to_str
from fixer.plan.model import FileState


def template_dirs() -> list[Path]:
    """Where templates are searched, in order."""
    return [
        Path(fixer.__file__).resolve().parent.parent / "templates",
        Path(sys.prefix) / "share" / "fixer" / "templates",
    ]


def to_template_name(value: Any, what: str) -> str:
    text = to_str(value, what)
    pure = PurePosixPath(text)
    if not text or pure.is_absolute() or ".." in pure.parts or "\\" in text or "\0" in text:
        raise ArgError(f"{what} must be a file name under templates/ (no absolute path, no '..'), got {text!r}")
    return text


def find_template(name: str) -> Path | None:
    """The template file for `name`, if one of template_dirs() has it (and it stays inside that dir)."""
    for base in template_dirs():
        candidate = (base / name).resolve()
        if candidate.is_file() and candidate.is_relative_to(base.resolve()):
            return candidate
    return None


class TemplateModule(Module):
    name: ClassVar[str] = "template"
    path_arg: ClassVar[str | None] = "dest"
    spec: ClassVar[Mapping[str, Arg]] = {
        "src": Arg(to_template_name, required=True),
        "dest": Arg(to_path, required=True),
        **OWNER_ARGS,
    }

    def check(self, args: Mapping[str, Any], static: bool) -> None:
        src = args.get("src")
        if isinstance(src, str) and "{{" not in src and "{%" not in src and find_template(src) is None:
            dirs = ", ".join(str(d) for d in template_dirs())
            raise ArgError(f"template: src {src!r} not found in {dirs}")

    def plan(self, args: Mapping[str, Any], state: PlanState, task: str) -> Outcome:
        dest = args["dest"]
        before = state.read(dest)
        content = state.render_template(args["src"]).encode("utf-8")
        owner, group, mode = attrs_after(before, args)
        return Outcome(state.write(dest, FileState(True, content, owner, group, mode), task))
