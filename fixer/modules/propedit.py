"""A round-trip editor for Java .properties text: set and remove keys, leave every other byte alone.

What it keeps: every other line, comment and blank line, the order, the line-ending style (`\\n`,
`\\r\\n` or `\\r`, per line) and a missing final newline (unless something is appended).

- Setting a key that exists replaces the whole logical line (continuation lines included) of its LAST
  occurrence, the one `java.util.Properties` uses; earlier duplicates are left as they are (they are
  overridden anyway). The line keeps its leading indentation, key spelling and separator (`key=`,
  `key = `, `key: `, `key `) when the key sits on the first physical line; otherwise it becomes
  `key=value`. Setting a key to the value it already has changes nothing, whatever its formatting.
- A key not present is appended at the end as `key=value`, with the file's first line ending (`\\n`
  when none). A final line without newline gets one first; a file ending inside a continuation gets
  a blank line first (which ends the logical line, as Java reads it).
- Removing a key deletes every logical line of that key.

Keys and values are written with Java's escapes: in keys `\\`, `=`, `:`, whitespace, `#`, `!`; in
values `\\` and a leading whitespace, `=` or `:` character; tab and form feed as `\\t` `\\f`; every
other control or non-ASCII character as `\\uXXXX` (so the file reads the same as ISO-8859-1, the
encoding of `Properties.load(InputStream)`, and as UTF-8). A newline or carriage return cannot be
written safely (a reader of the raw file would see another key): `ValueError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from fixer.facts.properties import parse_properties

WHITESPACE = " \t\f"
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


@dataclass(frozen=True)
class Span:
    """A logical line: physical lines [start, end) of the file, with its key and value."""

    start: int
    end: int
    key: str
    value: str


def split_lines(text: str) -> list[tuple[str, str]]:
    """(content, line ending) of each physical line; the last ending may be ""."""
    out = []
    for match in _LINE.finditer(text):
        whole = match.group(0)
        content = whole.rstrip("\r\n")
        out.append((content, whole[len(content):]))
    return out


def _odd_backslashes(text: str) -> bool:
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1


def spans(lines: Sequence[str]) -> Iterator[Span]:
    """Logical lines exactly as java.util.Properties' LineReader forms them (see parse_properties)."""
    buffer = ""
    start = 0
    for index, physical in enumerate(lines):
        piece = physical.lstrip(WHITESPACE)
        if not buffer:
            if not piece or piece[0] in "#!":
                continue
            start = index
        continuing = _odd_backslashes(piece)
        buffer += piece[:-1] if continuing else piece
        if not continuing and buffer:
            yield _span(start, index + 1, buffer)
            buffer = ""
    if buffer:
        yield _span(start, len(lines), buffer)


def _span(start: int, end: int, logical: str) -> Span:
    (entry,) = parse_properties(logical)  # one logical line: exactly one entry
    return Span(start, end, entry.key, entry.value)


def _escape_char(char: str) -> str:
    if char == "\t":
        return "\\t"
    if char == "\f":
        return "\\f"
    if char in "\r\n":
        raise ValueError("a newline or carriage return would start another key")
    if " " <= char <= "~":
        return char
    units = char.encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{int.from_bytes(units[i:i + 2], 'big'):04X}" for i in range(0, len(units), 2))


def escape_key(key: str) -> str:
    """A key as Properties.store writes it."""
    if not key:
        raise ValueError("an empty key")
    return "".join("\\" + c if c in "\\=: #!" else _escape_char(c) for c in key)


def escape_value(value: str) -> str:
    """A value as Properties.store writes it (plus a leading `=`/`:` escaped, for `key value` lines)."""
    out = []
    for index, char in enumerate(value):
        if char == "\\":
            out.append("\\\\")
        elif index == 0 and char in " =:":
            out.append("\\" + char)
        else:
            out.append(_escape_char(char))
    return "".join(out)


def _prefix(content: str) -> str | None:
    """`  key = ` of a physical line, when the key and separator both sit on it; else None."""
    body = content.lstrip(WHITESPACE)
    lead = content[: len(content) - len(body)]
    key_end = None
    backslash = False
    for index, char in enumerate(body):
        if not backslash and (char in "=:" or char in WHITESPACE):
            key_end = index
            break
        backslash = not backslash if char == "\\" else False
    if key_end is None:
        return None
    index = key_end
    has_separator = False
    while index < len(body):
        char = body[index]
        if char in WHITESPACE:
            index += 1
        elif char in "=:" and not has_separator:
            has_separator = True
            index += 1
        else:
            break
    return lead + body[:index]


def edit_properties(text: str, assign: Mapping[str, str], remove: Sequence[str] = ()) -> str:
    """`text` with `assign` set and `remove` removed (see the module doc). Raises ValueError, ParseError."""
    lines = split_lines(text)
    found = list(spans([content for content, _ in lines]))
    dropped: set[int] = set()
    replaced: dict[int, str] = {}
    for key in remove:
        for span in found:
            if span.key == key:
                dropped.update(range(span.start, span.end))
    appended: list[str] = []
    for key, value in assign.items():
        escaped = escape_value(value)  # refuses newlines even when the value is unchanged
        matches = [s for s in found if s.key == key]
        if not matches:
            appended.append(f"{escape_key(key)}={escaped}")
            continue
        last = matches[-1]
        if last.value == value:
            continue
        prefix = _prefix(lines[last.start][0])
        if prefix is None:
            prefix = f"{escape_key(key)}="
        dropped.update(range(last.start + 1, last.end))
        replaced[last.start] = prefix + escaped + lines[last.end - 1][1]
    out = []
    for index, (content, ending) in enumerate(lines):
        if index in replaced:
            out.append(replaced[index])
        elif index not in dropped:
            out.append(content + ending)
    result = "".join(out)
    if appended:
        ending = next((e for _, e in lines if e), "\n")
        if result and not result.endswith(("\n", "\r")):
            result += ending
        last_line = split_lines(result)[-1][0] if result else ""
        if _odd_backslashes(last_line):
            result += ending  # a blank line ends the dangling continuation
        result += "".join(line + ending for line in appended)
    return result
