"""What every module shares: argument specs and their coercion, the virtual file state, outcomes.

A module is planned in two steps. At load time its arguments are checked against its spec (`coerce`
with `static=True`): unknown, missing and wrongly-typed arguments fail with the playbook's file and
line; values still holding `{{ ... }}` are left for later. At plan time the arguments are templated per
host, coerced again (now every value is known) and the module transforms a per-host virtual file state
(`PlanState`), returning an `Outcome`. Nothing here touches the network or the node.
"""

from __future__ import annotations

import copy
import difflib
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fixer.errors import FixerError
from fixer.inventory._yaml import LineDict, UnsafeText
from fixer.inventory.model import Host
from fixer.plan.model import FileState, ServiceAction, Verify

MISSING: Any = object()  # an argument without a default

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # a user or group name (or a numeric id)
_OCTAL_MODE = re.compile(r"0?[0-7]{3}|[0-7]{4}")


class PlanError(FixerError):
    """A host's state makes a task impossible (e.g. the file to edit does not exist). One host fails."""


class ArgError(Exception):
    """A bad module argument; `line` is where it was written when known (load time)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` when `word` is close to one of `choices`, else ``."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def is_templated(value: object) -> bool:
    """A string whose value is only known per host, at plan time (`!unsafe` strings never are)."""
    return isinstance(value, str) and not isinstance(value, UnsafeText) and ("{{" in value or "{%" in value)


def has_template(value: object) -> bool:
    """`value` or anything inside it is templated."""
    if isinstance(value, dict):
        return any(has_template(k) or has_template(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_template(v) for v in value)
    return is_templated(value)


def _line_of(mapping: Mapping[Any, Any], key: Any, default: int | None) -> int | None:
    if isinstance(mapping, LineDict):
        return mapping.line_of(key)
    return default


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# -- value kinds ----------------------------------------------------------------------------------

def to_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ArgError(f"{what} must be a string, got {_type_name(value)}")
    return str(value)


def to_scalar_text(value: Any, what: str) -> str:
    """str/int/bool → str (booleans as Java writes them: true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return str(value)
    raise ArgError(f"{what} must be a string, whole number or boolean (quote other values), got {_type_name(value)}")


def to_bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "false", "no", "off"):
        return value.strip().lower() in ("true", "yes", "on")
    raise ArgError(f"{what} must be true or false, got {_type_name(value)} {value!r}")


def to_int(value: Any, what: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgError(f"{what} must be a whole number, got {_type_name(value)} {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ArgError(f"{what} must be between {minimum} and {maximum}, got {value}")
    return value


def to_number(value: Any, what: str) -> float:
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(?:\.\d*)?\s*", value):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArgError(f"{what} must be a number, got {_type_name(value)} {value!r}")
    return float(value)


def to_mode(value: Any, what: str) -> int:
    """Permission bits from "0644" / "644" / "2755", or an int as YAML gives it (`0644` unquoted = 420).

    An unquoted `644` is the decimal 644 (= 0o1204, sticky bit): refused, since it is nearly always a
    forgotten quote.
    """
    if isinstance(value, str):
        text = value.strip()
        if not _OCTAL_MODE.fullmatch(text):
            raise ArgError(f"{what} must be an octal mode like '0644', got {value!r}")
        return int(text, 8)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgError(f"{what} must be an octal mode like '0644', got {_type_name(value)}")
    if not 0 <= value <= 0o777:
        raise ArgError(f"{what} {value} is not a mode: quote it, e.g. '0644' (unquoted 644 is decimal)")
    return value


def to_name(value: Any, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = to_str(value, what)
    if not _NAME.fullmatch(text):
        raise ArgError(f"{what} {text!r} is not a user or group name")
    return text


def to_path(value: Any, what: str) -> str:
    """An absolute, normalised remote file path (`..` refused: it depends on symlinks on the node)."""
    text = to_str(value, what)
    if not text.startswith("/"):
        raise ArgError(f"{what} must be an absolute path, got {text!r}")
    if any(c in text for c in "\0\n\r"):
        raise ArgError(f"{what} contains a NUL or newline: {text!r}")
    if ".." in text.split("/"):
        raise ArgError(f"{what} must not contain '..': {text!r}")
    if text.endswith("/"):
        raise ArgError(f"{what} names a directory, expected a file: {text!r}")
    normal = posixpath.normpath(text)
    return "/" + normal.lstrip("/")


def to_str_list(value: Any, what: str) -> list[str]:
    """A string or a list of strings."""
    if isinstance(value, str):
        return [str(value)]
    if not isinstance(value, list):
        raise ArgError(f"{what} must be a string or a list of strings, got {_type_name(value)}")
    return [to_str(item, f"{what} item") for item in value]


def to_path_list(value: Any, what: str) -> list[str]:
    return [to_path(item, f"{what} item") for item in to_str_list(value, what)]


def to_regex(value: Any, what: str) -> str:
    text = to_str(value, what)
    try:
        re.compile(text, re.MULTILINE)
    except re.error as exc:
        raise ArgError(f"{what} is not a valid regular expression: {exc}") from None
    return text


# -- specs ----------------------------------------------------------------------------------------

Converter = Callable[[Any, str], Any]


@dataclass(frozen=True)
class Arg:
    """One argument: a converter (raises ArgError), whether it is required, a default, nested fields.

    With `fields`, a mapping value is checked against them; any other value goes to `convert` (if any).
    """

    convert: Converter | None = None
    required: bool = False
    default: Any = MISSING
    fields: Mapping[str, Arg] | None = None
    nullable: bool = False  # `null` is a meaningful value (e.g. "no readiness port")
    handles_templates: bool = False  # `convert` keeps templated parts itself (checked at load time too)


def coerce(spec: Mapping[str, Arg], raw: Any, what: str, static: bool, line: int | None = None) -> dict[str, Any]:
    """Check `raw` (a mapping) against `spec`; returns converted values, defaults filled in.

    `static=True` (load time): values holding `{{ }}` anywhere are kept as written, not converted
    (nested `fields` mappings are still checked key by key).
    """
    if not isinstance(raw, dict):
        raise ArgError(f"{what} must be a mapping of arguments, got {_type_name(raw)}", line)
    base = raw.line if isinstance(raw, LineDict) else line
    out: dict[str, Any] = {}
    for key, value in raw.items():
        where = _line_of(raw, key, base)
        if key not in spec:
            raise ArgError(f"unknown argument {key!r} for {what}{did_you_mean(key, spec)}; "
                           f"known: {', '.join(sorted(spec))}", where)
        arg = spec[key]
        name = f"{what}: {key}"
        try:
            if value is None and arg.nullable:
                out[key] = None
            elif arg.fields is not None and (arg.convert is None or isinstance(value, dict)):
                out[key] = value if static and is_templated(value) else coerce(arg.fields, value, name, static, where)
            elif static and has_template(value) and not (arg.handles_templates and not is_templated(value)):
                out[key] = value
            else:
                assert arg.convert is not None
                out[key] = arg.convert(value, name)
        except ArgError as exc:
            raise ArgError(exc.message, exc.line if exc.line is not None else where) from None
    for key, arg in spec.items():
        if key in out:
            continue
        if arg.required:
            raise ArgError(f"{what}: missing required argument {key!r}", line if line is not None else base)
        if arg.default is not MISSING:
            out[key] = copy.deepcopy(arg.default)  # a module may keep what it gets
    return out


# -- planning -------------------------------------------------------------------------------------

@dataclass
class PlanState:
    """The per-host virtual file state a play's tasks transform, starting from what was read."""

    host: Host
    files: dict[str, FileState]
    render_template: Callable[[str], str]  # a template under templates/, rendered with the host's vars
    touched: dict[str, list[str]] = field(default_factory=dict)

    def read(self, path: str) -> FileState:
        try:
            return self.files[path]
        except KeyError:
            raise KeyError(f"{path} was not read from {self.host.name} before planning "
                           "(paths_to_read must list every path a task uses)") from None

    def write(self, path: str, new: FileState, task: str) -> bool:
        """Record `task` as touching `path`; True when the virtual state changed."""
        old = self.read(path)
        names = self.touched.setdefault(path, [])
        if task not in names:
            names.append(task)
        self.files[path] = new
        return new != old


@dataclass(frozen=True)
class Outcome:
    changed: bool
    service: ServiceAction | None = None
    verify: Verify | None = None
    notes: tuple[str, ...] = ()


class Module:
    """Base of the modules: a name, an argument spec, optional cross-argument checks, and the plan."""

    name: ClassVar[str]
    spec: ClassVar[Mapping[str, Arg]]
    # Defaults that are templates themselves (filled in before templating, e.g. "{{ apigee_root }}/...")
    template_defaults: ClassVar[Mapping[str, str]] = {}
    # Whether the module can change something (so `notify` makes sense)
    can_change: ClassVar[bool] = True
    # The argument naming the one file the module reads and writes, if it works on one
    path_arg: ClassVar[str | None] = None

    def check(self, args: Mapping[str, Any], static: bool) -> None:
        """Cross-argument rules. `static`: templated values may still be unconverted strings."""

    def paths(self, args: Mapping[str, Any]) -> list[str]:
        """The remote files this task reads or writes (args are templated and coerced)."""
        return [args[self.path_arg]] if self.path_arg else []

    def plan(self, args: Mapping[str, Any], state: PlanState, task: str) -> Outcome:
        raise NotImplementedError


def attrs_after(before: FileState, args: Mapping[str, Any]) -> tuple[str | None, str | None, int | None]:
    """owner, group, mode after a task: the task's when given, else what the file had."""
    owner = args.get("owner")
    group = args.get("group")
    mode = args.get("mode")
    return (
        owner if owner is not None else before.owner,
        group if group is not None else before.group,
        mode if mode is not None else before.mode,
    )


OWNER_ARGS: dict[str, Arg] = {
    "owner": Arg(to_name),
    "group": Arg(to_name),
    "mode": Arg(to_mode),
}
