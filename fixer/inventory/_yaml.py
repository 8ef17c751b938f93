"""A PyYAML SafeLoader that remembers line numbers, so inventory and playbook errors can name the line.

Errors are raised as `InventoryError` by default; playbook loading passes `error=PlaybookError` (a
subclass) so the same loader serves both.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from fixer.errors import InventoryError

VAULT_MESSAGE = (
    "Ansible Vault is not supported: fixer cannot decrypt it; "
    "pass the secret another way (e.g. a plain vars file kept out of version control)"
)


class LineDict(dict[Any, Any]):
    """A YAML mapping that knows where it starts and where each of its keys is (1-based lines)."""

    line: int = 1
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A YAML sequence that knows where it starts and where each item is (1-based lines)."""

    line: int = 1
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


class UnsafeText(str):
    """A `!unsafe` string: Ansible never templates it, so neither do we."""

    __slots__ = ()


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class LineLoader(yaml.SafeLoader):
    """SafeLoader + line numbers on mappings, duplicate-key errors and a clear refusal of Vault."""

    fixer_path: str = "<string>"
    fixer_error: type[InventoryError] = InventoryError

    def construct_line_mapping(self, node: MappingNode) -> LineDict:
        if not isinstance(node, MappingNode):  # pragma: no cover - yaml only calls us for mappings
            raise self.fixer_error(f"expected a mapping, got {node.id}", self.fixer_path, _line(node))
        # Duplicates among the keys written here; checked before `<<` merges add keys these may override.
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                msg = "a mapping key must be a plain value"
                raise self.fixer_error(msg, self.fixer_path, _line(key_node)) from None
            if first is not None:
                raise self.fixer_error(
                    f"duplicate key {key!r} (first at line {first}): YAML would silently keep only the last",
                    self.fixer_path,
                    _line(key_node),
                )
            seen[key] = _line(key_node)
        self.flatten_mapping(node)
        result = LineDict()
        result.line = _line(node)
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = _line(key_node)
        return result

    def construct_line_sequence(self, node: SequenceNode) -> LineList:
        result = LineList(self.construct_object(child, deep=True) for child in node.value)
        result.line = _line(node)
        result.item_lines = [_line(child) for child in node.value]
        return result

    def construct_checked_str(self, node: ScalarNode) -> str:
        value = self.construct_scalar(node)
        if value.lstrip().startswith("$ANSIBLE_VAULT"):
            raise self.fixer_error(VAULT_MESSAGE, self.fixer_path, _line(node))
        return value

    def construct_vault(self, node: Node) -> Any:
        raise self.fixer_error(f"`!vault` value: {VAULT_MESSAGE}", self.fixer_path, _line(node))

    def construct_unsafe(self, node: Node) -> UnsafeText:
        if not isinstance(node, ScalarNode):
            raise self.fixer_error("`!unsafe` applies to strings only", self.fixer_path, _line(node))
        return UnsafeText(self.construct_scalar(node))


LineLoader.add_constructor("tag:yaml.org,2002:map", LineLoader.construct_line_mapping)
LineLoader.add_constructor("tag:yaml.org,2002:seq", LineLoader.construct_line_sequence)
LineLoader.add_constructor("tag:yaml.org,2002:str", LineLoader.construct_checked_str)
LineLoader.add_constructor("!vault", LineLoader.construct_vault)
LineLoader.add_constructor("!unsafe", LineLoader.construct_unsafe)


def read_text(path: str, what: str, error: type[InventoryError] = InventoryError) -> str:
    """The file's text; `error` (no line) when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8-sig") as fh:  # -sig: editors on Windows add a BOM
            return fh.read()
    except FileNotFoundError:
        raise error(f"{what} not found", path) from None
    except IsADirectoryError:
        raise error(f"{what} is a directory, expected a file", path) from None
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not UTF-8 text ({exc.reason})", path) from None
    except OSError as exc:
        raise error(f"cannot read {what}: {exc.strerror}", path) from None


def load_yaml(path: str, text: str, error: type[InventoryError] = InventoryError) -> tuple[Any, int]:
    """Parse one YAML document: (data, 1-based line of its root node); data is None for an empty file."""
    if text.lstrip().startswith("$ANSIBLE_VAULT"):
        raise error(f"the whole file is encrypted: {VAULT_MESSAGE}", path, 1)
    loader = LineLoader(text)
    loader.fixer_path = path
    loader.fixer_error = error
    try:
        node = loader.get_single_node()
        if node is None:
            return None, 1
        return loader.construct_document(node), _line(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else int(mark.line) + 1
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise error(f"invalid YAML: {problem}", path, line) from None
    except yaml.YAMLError as exc:
        raise error(f"invalid YAML: {exc}", path) from None
    finally:
        loader.dispose()


def to_plain(value: Any) -> Any:
    """A deep copy with LineDict -> dict, LineList -> list and UnsafeText -> str (hosts share no state)."""
    if isinstance(value, dict):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, UnsafeText):
        return str(value)
    return value
