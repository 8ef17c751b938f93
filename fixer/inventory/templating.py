"""Just enough Jinja for inventory vars: `{{ name }}` where name is another var of the same host.

fixer does not run Jinja. A string is resolved only when every `{{ ... }}` in it is a bare variable name
that the host defines; `"{{ p }}"` alone takes p's value and type (as Ansible does), `"x-{{ p }}"` becomes a
string. Anything else (filters, lookups, attribute access, `{% %}`, undefined names, a reference cycle, or
nesting deeper than MAX_DEPTH) leaves the whole string exactly as written, so a consumer can still spot
the `{{`. `!unsafe` strings are never resolved, as in Ansible.
"""

from __future__ import annotations

import re
from typing import Any

from fixer.inventory._yaml import UnsafeText

MAX_DEPTH = 8

_EXPR = re.compile(r"\{\{((?:(?!\}\}).)*)\}\}", re.DOTALL)
_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*")


class _Unresolved(Exception):
    """Raised inside resolution to fall back to the string as written."""


def resolve_vars(variables: dict[str, Any]) -> dict[str, Any]:
    """A copy of `variables` with simple references resolved (see module doc)."""
    return {key: _value(value, variables, (key,)) for key, value in variables.items()}


def _value(value: Any, variables: dict[str, Any], stack: tuple[str, ...]) -> Any:
    if isinstance(value, UnsafeText):
        return value
    if isinstance(value, str):
        try:
            return _string(value, variables, stack)
        except _Unresolved:
            return value
    if isinstance(value, list):
        return [_value(v, variables, stack) for v in value]
    if isinstance(value, dict):
        return {k: _value(v, variables, stack) for k, v in value.items()}
    return value


def _string(text: str, variables: dict[str, Any], stack: tuple[str, ...]) -> Any:
    if "{%" in text or "{#" in text:
        raise _Unresolved
    if "{{" not in text:
        return text
    whole = _EXPR.fullmatch(text)
    if whole is not None:
        return _lookup(whole.group(1), variables, stack)
    out: list[str] = []
    last = 0
    for m in _EXPR.finditer(text):
        out.append(text[last : m.start()])
        resolved = _lookup(m.group(1), variables, stack)
        if isinstance(resolved, str) and "{{" in resolved:
            raise _Unresolved
        out.append(str(resolved))
        last = m.end()
    rest = text[last:]
    if "{{" in rest or "}}" in rest:
        raise _Unresolved
    out.append(rest)
    return "".join(out)


def _lookup(expr: str, variables: dict[str, Any], stack: tuple[str, ...]) -> Any:
    m = _NAME.fullmatch(expr)
    if m is None or m.group(1) not in variables:
        raise _Unresolved
    name = m.group(1)
    if name in stack or len(stack) > MAX_DEPTH:
        raise _Unresolved
    target = variables[name]
    if isinstance(target, str) and not isinstance(target, UnsafeText):
        resolved = _string(target, variables, (*stack, name))
        if isinstance(resolved, str) and "{{" in resolved:
            raise _Unresolved
        return resolved
    return _value(target, variables, (*stack, name))
