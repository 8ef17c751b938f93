"""Jinja2 templating of task arguments, `when` expressions and template files, per host.

- StrictUndefined: using an undefined variable is an error (`x is defined` and `x | default(..)`
  still work); the sandboxed environment refuses unsafe attribute access.
- A string that is exactly one `{{ expr }}` keeps the expression's type (`"{{ port }}"` → 8082),
  as in Ansible; anything else renders to a string.
- Variables are resolved lazily and recursively: a variable whose value holds `{{ ... }}` is rendered
  when first used (a reference cycle is an error). `!unsafe` strings are never rendered.
- Extra filters: `dirname`, `basename`, `bool`, `regex_escape`.
- Template files: `trim_blocks` (a `{% %}` line leaves no blank line), as in Ansible.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateError, Undefined, UndefinedError, meta
from jinja2.sandbox import SandboxedEnvironment

from fixer.inventory._yaml import UnsafeText

_WHOLE = re.compile(r"\A\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\Z", re.DOTALL)
_ERRORS = (TemplateError, TypeError, ValueError, ArithmeticError, LookupError, AttributeError)


class TemplateFailure(Exception):
    """A template or expression that cannot be rendered for this host (message says why)."""


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("yes", "true", "1", "on", "y")


def make_environment(search_path: Sequence[Path] = ()) -> SandboxedEnvironment:
    """The Jinja2 environment; with a search path (template files) blocks also eat their newline
    (`trim_blocks`, as Ansible's template module does)."""
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=bool(search_path),
        loader=FileSystemLoader([str(p) for p in search_path]) if search_path else None,
    )
    env.filters["dirname"] = lambda p: posixpath.dirname(str(p))
    env.filters["basename"] = lambda p: posixpath.basename(str(p))
    env.filters["bool"] = _bool
    env.filters["regex_escape"] = lambda s: re.escape(str(s))
    return env


ENV = make_environment()


def syntax_error(text: str, expression: bool = False) -> str | None:
    """None when `text` (a template, or a bare expression) parses; else the message."""
    try:
        if expression:
            ENV.compile_expression(text)
        else:
            ENV.from_string(text)  # compiles: unknown filters and tests are found here too
    except TemplateError as exc:
        return str(exc)
    return None


class Templar:
    """Templating for one host: `variables` are already merged by precedence."""

    def __init__(self, variables: Mapping[str, Any], search_path: Sequence[Path] = ()) -> None:
        self._raw = dict(variables)
        self._done: dict[str, Any] = {}
        self._search_path = tuple(search_path)

    def defined(self, name: str) -> bool:
        """Defined and not null/empty (`vars` requirements)."""
        if name not in self._raw:
            return False
        value = self.variable(name)
        return value is not None and value != ""

    def variable(self, name: str) -> Any:
        return self._resolve(name, ())

    def render(self, value: Any) -> Any:
        """`value` with every string templated; lists and mappings recursively (keys too)."""
        return self._value(value, ())

    def truth(self, expression: str) -> bool:
        """A `when` expression (no braces): its truth for this host."""
        try:
            code, names = _expression(expression)
            result = code(**self._context(names, ()))
            if isinstance(result, Undefined):
                str(result)  # raises UndefinedError naming the variable
        except _ERRORS as exc:
            raise TemplateFailure(f"`when: {expression}`: {_message(exc)}") from None
        return bool(result)

    def render_file(self, name: str) -> str:
        """A template file (under the search path) rendered with every variable of the host."""
        env = _file_environment(self._search_path)
        context: dict[str, Any] = {}
        for var in self._raw:
            try:
                context[var] = self.variable(var)
            except TemplateFailure as exc:
                context[var] = StrictUndefined(hint=str(exc), name=var)  # an error only if the template uses it
        try:
            return env.get_template(name).render(context)
        except _ERRORS as exc:
            raise TemplateFailure(f"template {name}: {_message(exc)}") from None

    # -- internals ------------------------------------------------------------------------------

    def _resolve(self, name: str, stack: tuple[str, ...]) -> Any:
        if name in self._done:
            return self._done[name]
        if name in stack:
            raise TemplateFailure(f"variable {name!r} refers to itself: {' -> '.join((*stack, name))}")
        value = self._value(self._raw[name], (*stack, name))
        self._done[name] = value
        return value

    def _value(self, value: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(value, UnsafeText):
            return str(value)
        if isinstance(value, str):
            return self._string(value, stack) if ("{{" in value or "{%" in value) else value
        if isinstance(value, list):
            return [self._value(v, stack) for v in value]
        if isinstance(value, dict):
            return {self._value(k, stack): self._value(v, stack) for k, v in value.items()}
        return value

    def _context(self, names: frozenset[str], stack: tuple[str, ...]) -> dict[str, Any]:
        return {n: self._resolve(n, stack) for n in names if n in self._raw}

    def _string(self, text: str, stack: tuple[str, ...]) -> Any:
        try:
            whole = _WHOLE.fullmatch(text)
            if whole is not None:
                code, names = _expression(whole["expr"])
                result = code(**self._context(names, stack))
                if isinstance(result, Undefined):
                    str(result)  # raises UndefinedError naming the variable
                return result
            template, names = _template(text)
            return template.render(self._context(names, stack))
        except _ERRORS as exc:
            where = f" (in variable {stack[-1]!r})" if stack else ""
            raise TemplateFailure(f"{_message(exc)}{where}") from None


@functools.lru_cache(maxsize=16)
def _file_environment(search_path: tuple[Path, ...]) -> SandboxedEnvironment:
    return make_environment(search_path)


# Compiled once per distinct text: hosts share them (Jinja templates are safe to render concurrently).
@functools.lru_cache(maxsize=4096)
def _template(text: str) -> tuple[Template, frozenset[str]]:
    return ENV.from_string(text), frozenset(meta.find_undeclared_variables(ENV.parse(text)))


@functools.lru_cache(maxsize=4096)
def _expression(text: str) -> tuple[Callable[..., Any], frozenset[str]]:
    code = ENV.compile_expression(text, undefined_to_none=False)
    return code, frozenset(meta.find_undeclared_variables(ENV.parse("{{ " + text + " }}")))


def _message(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, UndefinedError) and not text.startswith(("undefined variable", "variable ")):
        return f"undefined variable: {text}"
    return text or type(exc).__name__
