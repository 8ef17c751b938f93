"""Tests of fixer.inventory.patterns: Ansible --limit semantics on a loaded inventory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fixer.errors import UsageError
from fixer.inventory.loader import Inventory, load_inventory
from fixer.inventory.patterns import order_terms, select_hosts, split_pattern

INVENTORY = """\
all:
  hosts:
    bastion:
  children:
    dc1:
      children:
        dc1_mps:
          hosts:
            mp[01:04]:
        dc1_routers:
          hosts:
            rt[01:02]:
    dc2:
      children:
        dc2_mps:
          hosts:
            mp-0[1:3]:
        dc2_routers:
          hosts:
            rt03:
            10.0.0.5:
message_processors:
  children:
    dc1_mps:
    dc2_mps:
routers:
  hosts:  # group order differs from inventory order: subscripts follow the group
    rt02:
    rt01:
    rt03:
    10.0.0.5:
canary:
  hosts:
    mp03:
    rt02:
"""
ALL = ["bastion", "mp01", "mp02", "mp03", "mp04", "rt01", "rt02", "mp-01", "mp-02", "mp-03", "rt03", "10.0.0.5"]
MPS = ["mp01", "mp02", "mp03", "mp04", "mp-01", "mp-02", "mp-03"]


@pytest.fixture(scope="module")
def inventory_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("patterns") / "inventory.yml"
    path.write_text(INVENTORY, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def inv(inventory_file: Path) -> Inventory:
    return load_inventory(inventory_file)


def _names(inv: Inventory, limit: str | None) -> list[str]:
    return [h.name for h in inv.select(limit)]


# Patterns where fixer and Ansible agree (the ansible test below checks every one of them).
AGREE: list[tuple[str, list[str]]] = [
    ("all", ALL),
    ("*", ALL),
    ("mp01", ["mp01"]),
    ("message_processors", MPS),
    ("dc1_routers:canary", ["mp03", "rt01", "rt02"]),
    ("dc1_routers,canary", ["mp03", "rt01", "rt02"]),
    ("routers:&dc1", ["rt01", "rt02"]),
    ("routers:!dc1", ["rt03", "10.0.0.5"]),
    ("message_processors:!canary", ["mp01", "mp02", "mp04", "mp-01", "mp-02", "mp-03"]),
    ("mp*", MPS),
    ("m*", MPS),
    ("rt0?", ["rt01", "rt02", "rt03"]),
    ("~mp0[12]", ["mp01", "mp02"]),
    ("~^rt", ["rt01", "rt02", "rt03"]),
    ("~(mp|rt)0[13]$", ["mp01", "mp03", "rt01", "rt03"]),
    ("~dc1_", ["mp01", "mp02", "mp03", "mp04", "rt01", "rt02"]),
    ("routers[0]", ["rt02"]),
    ("routers[1:2]", ["rt01", "rt03"]),
    ("routers[-1]", ["10.0.0.5"]),
    ("routers[2:]", ["rt03", "10.0.0.5"]),
    ("routers[0:0]", ["rt02"]),
    ("!canary", [h for h in ALL if h not in ("mp03", "rt02")]),
    ("&canary", ["mp03", "rt02"]),
    ("message_processors:routers:&canary", ["mp03", "rt02"]),
    ("!canary:dc1_routers", ["rt01"]),
    ("10.0.0.5", ["10.0.0.5"]),
    ("10.0.0.*", ["10.0.0.5"]),
    ("ungrouped", ["bastion"]),
    (" dc2_routers , bastion ", ["bastion", "rt03", "10.0.0.5"]),
    ("dc1:dc2:&message_processors", MPS),
    ("message_processors:!mp-0*", ["mp01", "mp02", "mp03", "mp04"]),
    ("canary:mp01", ["mp01", "mp03", "rt02"]),
    ("dc2_mps[1]:dc1_mps[0]", ["mp01", "mp-02"]),
]

# Where fixer deliberately differs from Ansible (documented in patterns.py).
FIXER_ONLY: list[tuple[str, list[str]]] = [
    ("mp-0[1-2]", ["mp-01", "mp-02"]),  # Ansible: items 1-2 of a group "mp-0" -> nothing
    ("mp0[13]", ["mp01", "mp03"]),  # Ansible: item 13 of "mp0" -> nothing
    ("canary,dc1_routers:!rt01", ["mp03", "rt02"]),  # Ansible keeps "dc1_routers:!rt01" whole
]


@pytest.mark.parametrize(("limit", "expected"), [pytest.param(*c, id=c[0]) for c in AGREE + FIXER_ONLY])
def test_select(inv: Inventory, limit: str, expected: list[str]) -> None:
    assert _names(inv, limit) == expected


def test_select_none_is_everything(inv: Inventory) -> None:
    assert _names(inv, None) == ALL
    assert inv.select(None) == list(inv.hosts.values())


def test_result_is_in_inventory_order_without_duplicates(inv: Inventory) -> None:
    assert _names(inv, "rt02:mp01:canary:rt0*") == ["mp01", "mp03", "rt01", "rt02", "rt03"]


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        pytest.param("nosuch", "no hosts matched 'nosuch' in --limit 'nosuch'", id="unknown"),
        pytest.param("mp01,nosuch", "no hosts matched 'nosuch' in --limit 'mp01,nosuch'", id="one-part-unknown"),
        pytest.param("all:!mp0l", "no hosts matched '!mp0l' in --limit 'all:!mp0l'", id="typo-in-exclusion"),
        pytest.param("mp01:&nosuch", "no hosts matched '&nosuch'", id="typo-in-intersection"),
        pytest.param("all:!all", "no hosts matched --limit 'all:!all'", id="nothing-left"),
        pytest.param("canary:&dc2", "no hosts matched --limit 'canary:&dc2'", id="empty-intersection"),
        pytest.param("MP01", "no hosts matched 'MP01'", id="case-sensitive"),
        pytest.param("routers[9]", "no hosts matched the subscripted pattern 'routers[9]'", id="subscript-range"),
        pytest.param("routers[7:9]", "no hosts matched the subscripted pattern", id="subscript-slice-range"),
        pytest.param("~mp[", "invalid pattern '~mp['", id="bad-regex"),
        pytest.param("", "empty --limit ''", id="empty"),
        pytest.param(" , ", "empty --limit", id="only-separators"),
        pytest.param("mp01:!", "empty pattern in --limit 'mp01:!'", id="bare-bang"),
        pytest.param("@no-such-limit-file.txt", "--limit file not found: no-such-limit-file.txt", id="no-file"),
    ],
)
def test_select_errors(inv: Inventory, limit: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        inv.select(limit)


def test_limit_file(inv: Inventory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "retry.txt").write_text("mp01\n\n# canaries first\n  rt01  \n!mp01\ncanary:&dc1\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # a limit file is relative to the working directory, like Ansible
    assert _names(inv, "@retry.txt") == ["mp03", "rt01", "rt02"]
    assert _names(inv, "@retry.txt,!rt02") == ["mp03", "rt01"]  # & and ! apply to the whole limit


def test_host_beats_group_of_same_name(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yml"
    path.write_text("all:\n  hosts:\n    web:\n  children:\n    web:\n      hosts:\n        w1:\n", encoding="utf-8")
    inv = load_inventory(path)
    assert _names(inv, "web") == ["web"]
    assert _names(inv, "we*") == ["web", "w1"]  # a glob matches the group and the host


@pytest.mark.parametrize(
    ("limit", "terms"),
    [
        pytest.param("a:b,c", ["a", "b", "c"], id="both-separators"),
        pytest.param("a:&b:!c", ["a", "&b", "!c"], id="prefixes"),
        pytest.param("g[0:2]:h", ["g[0:2]", "h"], id="colon-in-brackets"),
        pytest.param("fe80::1,!fd00::2", ["fe80::1", "!fd00::2"], id="ipv6"),
        pytest.param("10.0.0.5:h", ["10.0.0.5", "h"], id="ipv4"),
        pytest.param("  a , , b  ", ["a", "b"], id="blanks"),
        pytest.param("~a.*:b", ["~a.*", "b"], id="regex"),
    ],
)
def test_split_pattern(limit: str, terms: list[str]) -> None:
    assert split_pattern(limit) == terms


def test_order_terms() -> None:
    assert order_terms(["!x", "&y", "a", "!z", "b"]) == ["a", "b", "&y", "!x", "!z"]
    assert order_terms(["!x"]) == ["all", "!x"]


def test_select_hosts_works_on_plain_mappings() -> None:
    groups = {"all": ("a", "b", "c"), "g": ("c", "a")}
    assert select_hosts(["a", "b", "c"], groups, "g") == ["a", "c"]
    assert select_hosts(["a", "b", "c"], groups, "g[0]") == ["c"]


# --- the same answers as real Ansible ---------------------------------------------------------------


@pytest.mark.skipif(shutil.which("ansible-playbook") is None, reason="ansible-core not on PATH")
def test_matches_ansible_patterns(inv: Inventory, inventory_file: Path, tmp_path: Path) -> None:
    """One `ansible-playbook --list-hosts` with a play per pattern; same host sets as fixer."""
    plays = "".join(
        f"- name: p{i}\n  hosts: {limit.strip()!r}\n  gather_facts: false\n  tasks: []\n"
        for i, (limit, _) in enumerate(AGREE)
    )
    (tmp_path / "plays.yml").write_text(plays, encoding="utf-8")
    env = dict(
        os.environ,
        ANSIBLE_INVENTORY_ENABLED="yaml",
        ANSIBLE_HOME=str(tmp_path / "home"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
        ANSIBLE_DEPRECATION_WARNINGS="false",
    )
    out = subprocess.run(
        ["ansible-playbook", "-i", str(inventory_file), "--list-hosts", str(tmp_path / "plays.yml")],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=env,
    ).stdout
    seen: dict[int, set[str]] = {}
    for block in re.split(r"\n\s*play #", out)[1:]:
        index = int(re.search(r": p(\d+)\s", block).group(1))  # type: ignore[union-attr]
        hosts = block.split("hosts (", 1)[1].splitlines()[1:]
        seen[index] = {h.strip() for h in hosts if h.strip()}
    for i, (limit, _) in enumerate(AGREE):
        assert set(_names(inv, limit)) == seen[i], limit
