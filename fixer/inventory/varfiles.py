"""`group_vars/` and `host_vars/` beside the inventory file, found the way Ansible's host_group_vars does."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from fixer.errors import InventoryError
from fixer.inventory._yaml import LineDict, load_yaml, read_text

# Ansible looks for `<name>`, then these; the first that exists wins (a `<name>/` directory included).
EXTENSIONS = (".yml", ".yaml", ".json")


def find_vars_files(directory: str, name: str) -> list[str]:
    """The files holding the vars of group/host `name` under `directory`, in merge order (may be empty)."""
    winner = _winner(directory, name)
    if winner is None:
        return []
    return _dir_files(winner) if os.path.isdir(winner) else [winner]


def _winner(directory: str, name: str) -> str | None:
    if name.startswith(os.sep):  # Ansible skips names like chroot paths
        return None
    for ext in ("", *EXTENSIONS):
        candidate = os.path.join(directory, name + ext)
        if os.path.exists(candidate):
            return candidate
    return None


def _dir_files(directory: str) -> list[str]:
    # Sorted, recursive; hidden files, editor backups and other extensions (README.md ...) are skipped.
    found: list[str] = []
    for entry in sorted(os.listdir(directory)):
        if entry.startswith(".") or entry.endswith("~"):
            continue
        full = os.path.join(directory, entry)
        ext = os.path.splitext(entry)[1]
        if os.path.isdir(full) and not ext:
            found.extend(_dir_files(full))
        elif os.path.isfile(full) and (not ext or ext in EXTENSIONS):
            found.append(full)
    return found


def load_vars_file(path: str) -> dict[str, Any]:
    """One vars file as a mapping; an empty file is {} (Ansible ignores it), anything else is an error."""
    data, line = load_yaml(path, read_text(path, "vars file"))
    if data is None:
        return {}
    if not isinstance(data, LineDict):
        raise InventoryError(
            f"a vars file must be a mapping of variable names to values, got {describe(data)}", path, line
        )
    for key in data:
        if not isinstance(key, str):
            raise InventoryError(f"variable name {key!r} must be a string", path, data.line_of(key))
    return dict(data)


def load_vars(directory: str, name: str) -> dict[str, Any]:
    """The merged vars of one group/host from `directory` (shallow replace, files in sorted order)."""
    merged: dict[str, Any] = {}
    for path in find_vars_files(directory, name):
        merged.update(load_vars_file(path))
    return merged


def unused_entries(directory: str, kind: str, names: Iterable[str]) -> list[str]:
    """Warnings for entries of `directory` Ansible would ignore: no such group/host (a typo?), or shadowed."""
    if not os.path.isdir(directory):
        return []
    known = set(names)
    warnings: list[str] = []
    for entry in sorted(os.listdir(directory)):
        full = os.path.join(directory, entry)
        stem, ext = os.path.splitext(entry)
        if entry.startswith(".") or entry.endswith("~"):
            continue
        if os.path.isfile(full) and ext and ext not in EXTENSIONS:
            continue
        name = stem if ext in EXTENSIONS else entry
        if name not in known:
            warnings.append(f"{full}: ignored, the inventory has no {kind} {name!r}")
        elif (winner := _winner(directory, name)) != full:
            warnings.append(f"{full}: ignored, the vars of {kind} {name!r} come from {winner}")
    return warnings


def describe(value: Any) -> str:
    """A short description of a YAML value's type for error messages."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"
