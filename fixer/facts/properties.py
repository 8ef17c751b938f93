"""Pure parsers for Java .properties files, Apigee override tokens and `stat` output.

`parse_properties` follows `java.util.Properties.load` (JDK 9+ LineReader/loadConvert) closely, so a
value read here is the value the component's JVM reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from fixer.errors import ParseError
from fixer.facts.model import FileStat, PropertyEntry, Token

_WHITESPACE = " \t\f"  # what Properties.load skips around keys and separators
_PHYSICAL_LINE = re.compile(r"\r\n|\r|\n")
_SIMPLE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_HEX = frozenset("0123456789abcdefABCDEF")


def _trailing_backslashes(text: str) -> int:
    return len(text) - len(text.rstrip("\\"))


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield (1-based start line, logical line) the way Properties' LineReader joins them.

    Blank lines and comment lines (first non-blank char `#` or `!`) are skipped; a line ending with an
    odd number of backslashes continues on the next line, whose leading whitespace is dropped. A blank
    line after a continuation ends the logical line; comments are only recognised while the logical
    line is still empty (exactly like the JDK).
    """
    buffer = ""
    start = 0
    for number, physical in enumerate(_PHYSICAL_LINE.split(text), start=1):
        piece = physical.lstrip(_WHITESPACE)
        if not buffer:
            if not piece or piece[0] in "#!":
                continue
            start = number
        continuing = _trailing_backslashes(piece) % 2 == 1
        buffer += piece[:-1] if continuing else piece
        if not continuing and buffer:
            yield start, buffer
            buffer = ""
    if buffer:
        yield start, buffer


def _unescape(text: str, line: int) -> str:
    """Java's loadConvert: `\\uXXXX`, `\\t \\n \\r \\f`, and `\\x` -> `x` for any other x."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        i += 1
        if char != "\\":
            out.append(char)
            continue
        if i >= len(text):  # a lone trailing backslash carries nothing (LineReader already drops it)
            break
        char = text[i]
        i += 1
        if char == "u":
            digits = text[i : i + 4]
            if len(digits) != 4 or not set(digits) <= _HEX:
                raise ParseError(f"line {line}: malformed \\uxxxx encoding: \\u{digits}")
            out.append(chr(int(digits, 16)))
            i += 4
        else:
            out.append(_SIMPLE_ESCAPES.get(char, char))
    joined = "".join(out)
    # \uD83D\uDE00 style surrogate pairs become one character, as in Java's UTF-16 strings.
    return joined.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _split_key_value(logical: str) -> tuple[str, str]:
    """Split at the first unescaped `=`, `:` or whitespace; skip whitespace and one separator after it."""
    key_end = len(logical)
    value_start = len(logical)
    has_separator = False
    backslash = False
    for index, char in enumerate(logical):
        if not backslash and char in "=:":
            key_end, value_start, has_separator = index, index + 1, True
            break
        if not backslash and char in _WHITESPACE:
            key_end, value_start = index, index + 1
            break
        backslash = not backslash if char == "\\" else False
    while value_start < len(logical):
        char = logical[value_start]
        if char not in _WHITESPACE:
            if has_separator or char not in "=:":
                break
            has_separator = True
        value_start += 1
    return logical[:key_end], logical[value_start:]


def parse_properties(text: str) -> tuple[PropertyEntry, ...]:
    """Every entry of a .properties text, in file order, duplicates kept (the last one wins in Java).

    Raises ParseError on a malformed `\\uXXXX` escape (java.util.Properties throws there too).
    """
    entries: list[PropertyEntry] = []
    for line, logical in _logical_lines(text):
        raw_key, raw_value = _split_key_value(logical)
        entries.append(PropertyEntry(_unescape(raw_key, line), _unescape(raw_value, line), line))
    return tuple(entries)


_SLASH_TOKEN = re.compile(r"conf/(?P<file>[^/+]+)\.properties\+(?P<key>.+)", re.DOTALL)


def _split_token(raw_key: str) -> tuple[str, str] | None:
    slash = _SLASH_TOKEN.fullmatch(raw_key)
    if slash is not None:
        return slash["file"], slash["key"]
    if not raw_key.startswith("conf_"):
        return None
    rest = raw_key[len("conf_") :]
    dot = rest.find(".")
    cut = rest.rfind("_", 0, dot) if dot >= 0 else rest.find("_")
    if cut <= 0 or cut == len(rest) - 1:
        return None
    return rest[:cut], rest[cut + 1 :]


def parse_tokens(entries: Iterable[PropertyEntry]) -> tuple[Token, ...]:
    """The Apigee override tokens among `entries`, in order; other keys are skipped.

    `conf_<file>_<key>`: the file stem ends at the last `_` before the first `.` of the part after
    `conf_` (`conf_load_balancing_load.balancing.x` -> `load_balancing` / `load.balancing.x`); without a
    `.` it ends at the first `_`. `conf/<file>.properties+<key>` is the documented alternative form.
    """
    tokens: list[Token] = []
    for entry in entries:
        split = _split_token(entry.key)
        if split is not None:
            tokens.append(Token(split[0], split[1], entry.value, entry.line, entry.key))
    return tuple(tokens)


def parse_stat(text: str) -> FileStat:
    """Parse one line printed by `stat -c '%U %G %a %u %g' FILE`, e.g. `apigee apigee 644 999 998`.

    When the owner or group has no name, GNU stat prints `UNKNOWN`; the numeric id (4th/5th field) is
    used instead. The shorter `stat -c '%U %G %a'` form is accepted too (then `UNKNOWN` stays as is).
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise ParseError(f"expected one line of `stat -c '%U %G %a %u %g'` output, got {text!r}")
    fields = lines[0].split()
    if len(fields) not in (3, 5):
        raise ParseError(f"expected `owner group mode uid gid`, got {lines[0]!r}")
    owner, group, mode_text = fields[:3]
    if not re.fullmatch(r"[0-7]{1,4}", mode_text):
        raise ParseError(f"not an octal file mode: {mode_text!r}")
    if len(fields) == 5:
        uid, gid = fields[3:]
        if not (uid.isdigit() and gid.isdigit()):
            raise ParseError(f"not numeric uid/gid: {uid!r} {gid!r}")
        owner = uid if owner == "UNKNOWN" else owner
        group = gid if group == "UNKNOWN" else group
    return FileStat(owner=owner, group=group, mode=int(mode_text, 8))
