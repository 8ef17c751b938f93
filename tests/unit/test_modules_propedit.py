"""The round-trip .properties editor: byte-exact edits, Java escapes, and agreement with parse_properties."""

from __future__ import annotations

import random

import pytest

from fixer.facts.properties import parse_properties
from fixer.modules.propedit import edit_properties, escape_key, escape_value, split_lines


def values(text: str) -> dict[str, str]:
    """Key -> value as java.util.Properties ends up with (last occurrence wins)."""
    return {e.key: e.value for e in parse_properties(text)}


EDITS = [
    # (id, before, set, remove, after)
    ("replace", "a=1\nb=2\n", {"b": "3"}, [], "a=1\nb=3\n"),
    ("spaces around =", "b = 2\n", {"b": "3"}, [], "b = 3\n"),
    ("colon separator", "b: 2\n", {"b": "3"}, [], "b: 3\n"),
    ("whitespace separator", "b 2\n", {"b": "3"}, [], "b 3\n"),
    ("indented", "  b=2\n", {"b": "3"}, [], "  b=3\n"),
    ("key without value", "b\n", {"b": "3"}, [], "b=3\n"),
    ("empty value", "b=\n", {"b": "3"}, [], "b=3\n"),
    ("last occurrence only", "b=1\nx=0\nb=2\n", {"b": "3"}, [], "b=1\nx=0\nb=3\n"),
    ("continuation lines replaced", "b=1,\\\n   2,\\\n   3\nc=4\n", {"b": "x"}, [], "b=x\nc=4\n"),
    ("separator before continuation", "b = \\\n  old\n", {"b": "new"}, [], "b = new\n"),
    ("key spans lines", "ke\\\n  y=1\n", {"key": "2"}, [], "key=2\n"),
    ("append", "a=1\n", {"z": "9"}, [], "a=1\nz=9\n"),
    ("append without final newline", "a=1", {"z": "9"}, [], "a=1\nz=9\n"),
    ("append keeps CRLF", "a=1\r\nb=2\r\n", {"z": "9"}, [], "a=1\r\nb=2\r\nz=9\r\n"),
    ("append keeps CR", "a=1\rb=2\r", {"z": "9"}, [], "a=1\rb=2\rz=9\r"),
    ("append to empty", "", {"z": "9"}, [], "z=9\n"),
    ("append after comment only", "# header", {"z": "9"}, [], "# header\nz=9\n"),
    ("dangling continuation at EOF", "a=1\\\n", {"z": "9"}, [], "a=1\\\n\nz=9\n"),
    ("dangling continuation, no newline", "a=1\\", {"z": "9"}, [], "a=1\\\n\nz=9\n"),
    ("commented key is not a key", "#b=1\n!b=1\n", {"b": "2"}, [], "#b=1\n!b=1\nb=2\n"),
    ("CRLF line replaced keeps CRLF", "a=1\r\nb=2\r\n", {"a": "x"}, [], "a=x\r\nb=2\r\n"),
    ("last line without newline", "a=1\nb=2", {"b": "3"}, [], "a=1\nb=3"),
    ("same value: bytes untouched", "b =  true \n", {"b": "true "}, [], "b =  true \n"),
    ("same value, other spelling", "b=tr\\\n   ue\n", {"b": "true"}, [], "b=tr\\\n   ue\n"),
    ("escaped key in file", "a\\ b=1\n", {"a b": "2"}, [], "a\\ b=2\n"),
    ("unicode escape key in file", "caf\\u00e9=1\n", {"café": "2"}, [], "caf\\u00e9=2\n"),
    ("remove one", "a=1\nb=2\nc=3\n", {}, ["b"], "a=1\nc=3\n"),
    ("remove every occurrence", "b=1\n# keep\nb=2\\\n  more\nc=3\n", {}, ["b"], "# keep\nc=3\n"),
    ("remove absent key", "a=1\n", {}, ["zz"], "a=1\n"),
    ("comments and blanks kept", "# c1\n\n! c2\na=1\n\n# c3\n", {"a": "2"}, [], "# c1\n\n! c2\na=2\n\n# c3\n"),
    ("set and remove together", "a=1\nb=2\n", {"a": "9", "n": "new"}, ["b"], "a=9\nn=new\n"),
    ("leading whitespace value", "a=1\n", {"a": "  x"}, [], "a=\\  x\n"),
    ("value starting with = after whitespace separator", "b 1\n", {"b": "=x"}, [], "b \\=x\n"),
    ("backslash in value", "a=1\n", {"a": "C:\\dir"}, [], "a=C:\\\\dir\n"),
    ("tab in value", "a=1\n", {"a": "x\ty"}, [], "a=x\\ty\n"),
    ("non-ASCII value", "a=1\n", {"a": "é€😀"}, [], "a=\\u00E9\\u20AC\\uD83D\\uDE00\n"),
    ("key needing escapes", "", {"k=1:2 #!\\": "v"}, [], "k\\=1\\:2\\ \\#\\!\\\\=v\n"),
]


@pytest.mark.parametrize(("before", "assign", "remove", "after"),
                         [case[1:] for case in EDITS], ids=[case[0] for case in EDITS])
def test_edit(before: str, assign: dict[str, str], remove: list[str], after: str) -> None:
    result = edit_properties(before, assign, remove)
    assert result == after
    parsed = values(result)
    for key, value in assign.items():
        assert parsed[key] == value
    for key in remove:
        assert key not in parsed


@pytest.mark.parametrize("before", [case[4] for case in EDITS], ids=[case[0] for case in EDITS])
def test_second_edit_changes_nothing(before: str) -> None:
    """Idempotence: applying the same edit to its own result is a no-op (for every case above)."""
    case = next(c for c in EDITS if c[4] == before)
    assert edit_properties(before, case[2], case[3]) == before


HOSTILE_VALUES = [
    "$(rm -rf /)",
    "`reboot`",
    "'single' \"double\"",
    "a; b && c || d | e > f < g",
    "${HOME} $HOME %s %n",
    "#not a comment",
    "!not a comment",
    "key=value:other",
    "trailing backslash\\",
    "\\\\server\\share",
    "   leading and trailing   ",
    "\u0000\u0001\u001f\u007f",
    "tab\there\fform feed",
    "ünïcødé ✓ 😀",
    "",
]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_hostile_values_round_trip_as_data(value: str) -> None:
    text = edit_properties("# customer\nconf_system_x=1\n", {"conf_system_x": value, "new.key": value})
    assert values(text) == {"conf_system_x": value, "new.key": value}
    assert text.isascii()
    assert len(split_lines(text)) == 3  # no line was injected


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "x\r\ninjected=true", "\n"])
def test_newlines_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="newline"):
        escape_value(bad)
    with pytest.raises(ValueError, match="newline"):
        escape_key(bad)
    with pytest.raises(ValueError):
        edit_properties("a=1\n", {"a": bad})
    with pytest.raises(ValueError):
        edit_properties("a=1\n", {"a": "1", "b": bad})  # refused even next to a no-op


def test_empty_key_refused() -> None:
    with pytest.raises(ValueError, match="empty key"):
        escape_key("")


# -- randomised agreement with parse_properties -------------------------------------------------------

_KEYS = ["a", "b", "conf_system_jsse.enableSNIExtension", "x y", "k:v", "é"]
_VALUES = ["1", "", " lead", "a\\b", "$(x)", "ü", "=eq", "v#!"]


def _random_file(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(0, 12)):
        kind = rng.random()
        ending = rng.choice(["\n", "\n", "\r\n"])
        if kind < 0.15:
            lines.append(rng.choice(["# comment", "! bang", "   # indented", ""]) + ending)
        elif kind < 0.3:
            key = escape_key(rng.choice(_KEYS))
            lines.append(f"{key}=part1,\\{ending}   part2{ending}")
        else:
            key = escape_key(rng.choice(_KEYS))
            sep = rng.choice(["=", " = ", ":", " ", "\t"])
            lines.append(f"{rng.choice(['', '  '])}{key}{sep}{escape_value(rng.choice(_VALUES))}{ending}")
    text = "".join(lines)
    return text[:-1] if text.endswith("\n") and rng.random() < 0.2 else text


@pytest.mark.parametrize("seed", range(300))
def test_random_edits_agree_with_parse_properties(seed: int) -> None:
    rng = random.Random(seed)
    text = _random_file(rng)
    assign = {rng.choice(_KEYS): rng.choice(_VALUES) for _ in range(rng.randint(0, 3))}
    remove = [k for k in rng.sample(_KEYS, rng.randint(0, 2)) if k not in assign]
    result = edit_properties(text, assign, remove)
    expected = {k: v for k, v in values(text).items() if k not in remove}
    expected.update(assign)
    assert values(result) == expected
    # untouched keys keep every occurrence, in order; comments and blank lines all survive
    untouched = [(e.key, e.value) for e in parse_properties(text) if e.key not in assign and e.key not in remove]
    assert [(e.key, e.value) for e in parse_properties(result) if e.key not in assign] == untouched
    comments = [c for c, _ in split_lines(text) if c.lstrip().startswith(("#", "!"))]
    assert [c for c, _ in split_lines(result) if c.lstrip().startswith(("#", "!"))] == comments
    assert edit_properties(result, assign, remove) == result
