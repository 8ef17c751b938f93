"""`requires`: preconditions of a task on the host's state; an unmet one skips the task with a note.

```yaml
requires:                       # a mapping, or a list of them (checked in order, first unmet wins)
  - vars: [java_security_file]  # defined and not empty
    note: "java.security of the MP's Java is unknown: run fixer check first or set java_security_file"
  - exists: ["{{ jce_dir }}/local_policy.jar", "{{ jce_dir }}/default_local.policy"]  # any one
    note: "no unlimited JCE policy in this Java: install the JCE Unlimited Strength policy files"
  - tokens_pending: {customer: ..., generated: ..., file: system}
  - file_lacks: {path: ..., pattern: '^jsse\\.enableSNIExtension=true$'}
```
Unlike `when` (variables only), these look at files, so the planner reads the paths they name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from fixer.errors import ParseError, PlaybookError
from fixer.facts.properties import parse_properties, parse_tokens
from fixer.inventory._yaml import LineDict, LineList
from fixer.modules.base import (
    Arg,
    ArgError,
    coerce,
    did_you_mean,
    is_templated,
    to_path,
    to_path_list,
    to_regex,
    to_str,
    to_str_list,
)
from fixer.modules.properties import decode
from fixer.plan.model import FileState
from fixer.playbook.model import REQUIREMENT_KINDS, Requirement, plain
from fixer.playbook.templar import Templar, syntax_error

Fail = Callable[[str, int | None], PlaybookError]

SPECS: dict[str, Arg] = {
    "vars": Arg(to_str_list),
    "exists": Arg(to_path_list),
    "tokens_pending": Arg(fields={
        "customer": Arg(to_path, required=True),
        "generated": Arg(to_path, required=True),
        "file": Arg(to_str, default="system"),
    }),
    "file_lacks": Arg(fields={
        "path": Arg(to_path, required=True),
        "pattern": Arg(to_regex, required=True),
    }),
}


def parse_requires(value: Any, line: int, fail: Fail) -> tuple[Requirement, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise fail("requires must not be empty", line)
    out = []
    for index, item in enumerate(items):
        where = items.line_of(index) if isinstance(items, LineList) else line
        if not isinstance(item, LineDict):
            raise fail(f"requires: each condition is a mapping with one of {', '.join(REQUIREMENT_KINDS)}", where)
        for key in item:
            if key not in (*REQUIREMENT_KINDS, "note"):
                raise fail(f"requires: unknown condition {key!r}{did_you_mean(key, (*REQUIREMENT_KINDS, 'note'))}; "
                           f"known: {', '.join(REQUIREMENT_KINDS)}, note", item.line_of(key))
        kinds = [k for k in item if k in REQUIREMENT_KINDS]
        if len(kinds) != 1:
            raise fail(f"requires: each condition needs exactly one of {', '.join(REQUIREMENT_KINDS)} "
                       "(write a list for several)", item.line)
        kind = kinds[0]
        note = item.get("note")
        if note is not None and (not isinstance(note, str) or not note.strip()):
            raise fail("requires: note must be a non-empty string", item.line_of("note"))
        for text, at in ((note, item.line_of("note")), *_strings(item[kind], item.line_of(kind))):
            if is_templated(text):
                error = syntax_error(str(text))
                if error is not None:
                    raise fail(f"invalid template {text!r}: {error}", at)
        try:
            coerce({kind: SPECS[kind]}, {kind: item[kind]}, "requires", static=True, line=item.line_of(kind))
        except ArgError as exc:
            raise fail(exc.message, item.line_of(kind)) from None
        out.append(Requirement(kind, plain(item[kind]), note, item.line_of(kind)))
    return tuple(out)


def _strings(value: Any, line: int) -> list[tuple[Any, int]]:
    if isinstance(value, dict):
        return [(v, value.line_of(k) if isinstance(value, LineDict) else line) for k, v in value.items()]
    if isinstance(value, list):
        return [(v, line) for v in value]
    return [(value, line)]


def resolved(req: Requirement, templar: Templar) -> Any:
    """The requirement's arguments for this host (templated, converted). Raises TemplateFailure, ArgError."""
    return coerce({req.kind: SPECS[req.kind]}, {req.kind: templar.render(req.args)}, "requires", static=False)[req.kind]


def paths(req: Requirement, args: Any) -> list[str]:
    if req.kind == "exists":
        return list(args)
    if req.kind == "tokens_pending":
        return [args["customer"], args["generated"]]
    if req.kind == "file_lacks":
        return [args["path"]]
    return []


def holds(req: Requirement, args: Any, templar: Templar, files: Mapping[str, FileState]) -> bool:
    """Whether the condition holds on the host (virtual state `files`). Raises ParseError."""
    if req.kind == "vars":
        return all(templar.defined(name) for name in args)
    if req.kind == "exists":
        return any(files[p].exists for p in args)
    if req.kind == "tokens_pending":
        return bool(pending_tokens(files[args["customer"]], files[args["generated"]], args["file"]))
    state = files[args["path"]]
    # an absent file lacks every pattern
    return not state.exists or re.search(args["pattern"], decode(state.content)[0], re.MULTILINE) is None


def pending_tokens(customer: FileState, generated: FileState, stem: str) -> list[str]:
    """Keys of the customer file's `<stem>` tokens whose value the generated file does not hold yet.

    The same rule as the `mp-restart-pending` check: the last token wins, values compared stripped.
    """
    if not customer.exists:
        return []
    try:
        tokens = parse_tokens(parse_properties(decode(customer.content)[0]))
        current = {e.key: e.value for e in parse_properties(decode(generated.content)[0])} if generated.exists else {}
    except ParseError:
        return []
    latest = {t.key: t.value for t in tokens if t.file == stem}
    return [k for k, v in latest.items() if current.get(k) is None or current[k].strip() != v.strip()]
