"""Per-host templating: native types, lazy recursive variables, filters, strictness, `!unsafe`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fixer.inventory._yaml import UnsafeText
from fixer.playbook.templar import Templar, TemplateFailure, syntax_error

VARS: dict[str, Any] = {
    "root": "/opt/apigee",
    "customer": "{{ root }}/customer/application",
    "port": 8082,
    "port_text": "{{ port }}",
    "protocols": ["TLSv1.2", "TLSv1.3"],
    "flag": "yes",
    "unsafe": UnsafeText("{{ root }}"),
    "empty": "",
    "nothing": None,
    "security": "/usr/lib/jvm/jre/lib/security/java.security",
}


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ customer }}/mp.properties", "/opt/apigee/customer/application/mp.properties"),
    ("{{ port }}", 8082),  # a whole expression keeps its type
    ("{{ port_text }}", 8082),
    ("port {{ port }}", "port 8082"),
    ("{{ protocols | join(',') }}", "TLSv1.2,TLSv1.3"),
    ("{{ protocols }}", ["TLSv1.2", "TLSv1.3"]),
    ("{{ flag | bool }}", True),
    ("{{ security | dirname }}/policy", "/usr/lib/jvm/jre/lib/security/policy"),
    ("{{ security | basename }}", "java.security"),
    ("{{ 'TLSv1.2' | regex_escape }}", "TLSv1\\.2"),
    ("{{ missing | default('d') }}", "d"),
    ("{% if port > 8000 %}high{% endif %}", "high"),
    ("{{ unsafe }}", "{{ root }}"),  # an !unsafe value is never templated
    ("no template", "no template"),
    (UnsafeText("{{ root }}"), "{{ root }}"),
    (["{{ port }}", {"{{ root }}": "{{ flag }}"}], [8082, {"/opt/apigee": "yes"}]),
    (True, True),
])
def test_render(template: Any, expected: Any) -> None:
    assert Templar(VARS).render(template) == expected


@pytest.mark.parametrize(("template", "message"), [
    ("{{ missing }}", "undefined variable: 'missing' is undefined"),
    ("x{{ missing }}", "undefined variable: 'missing' is undefined"),
    ("{{ root.nope.deeper }}", "has no attribute 'nope'"),
    ("{{ port + 'a' }}", "unsupported operand"),
    ("{{ ''.__class__.__mro__ }}", "unsafe"),  # the sandbox refuses
])
def test_render_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateFailure, match=message):
        Templar(VARS).render(template)


def test_cycles_are_reported() -> None:
    templar = Templar({"a": "{{ b }}", "b": "x{{ a }}"})
    with pytest.raises(TemplateFailure, match="variable 'a' refers to itself: a -> b -> a"):
        templar.render("{{ a }}")


@pytest.mark.parametrize(("expression", "truth"), [
    ("port == 8082", True), ("protocols | length > 2", False), ("missing is defined", False),
    ("root is defined and flag | bool", True), ("'TLSv1.3' in protocols", True), ("true", True), ("false", False),
])
def test_truth(expression: str, truth: bool) -> None:
    assert Templar(VARS).truth(expression) is truth


def test_truth_undefined_is_an_error() -> None:
    with pytest.raises(TemplateFailure, match="`when: missing`: undefined variable: 'missing' is undefined"):
        Templar(VARS).truth("missing")


@pytest.mark.parametrize(("name", "defined"), [("root", True), ("empty", False), ("nothing", False),
                                               ("missing", False), ("customer", True)])
def test_defined(name: str, defined: bool) -> None:
    assert Templar(VARS).defined(name) is defined


def test_render_file_with_broken_unused_variable(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("{% for p in protocols %}{{ p }}\n{% endfor %}end {{ port }}\n")
    templar = Templar({**VARS, "broken": "{{ nope }}"}, [tmp_path])
    assert templar.render_file("t.j2") == "TLSv1.2\nTLSv1.3\nend 8082\n"
    (tmp_path / "b.j2").write_text("{{ broken }}")
    with pytest.raises(TemplateFailure, match=r"template b\.j2: undefined variable: 'nope' is undefined "
                                              r"\(in variable 'broken'\)"):
        templar.render_file("b.j2")
    with pytest.raises(TemplateFailure, match=r"template gone\.j2"):
        templar.render_file("gone.j2")


@pytest.mark.parametrize(("text", "expression", "ok"), [
    ("{{ a }}", False, True), ("{{ a | nosuch }}", False, False), ("{{ a", False, False),
    ("a and b", True, True), ("a ==", True, False), ("{% if %}", False, False),
])
def test_syntax_error(text: str, expression: bool, ok: bool) -> None:
    assert (syntax_error(text, expression) is None) is ok
