"""Tests of fixer.inventory.loader: Ansible YAML inventories, ranges, vars precedence, errors with lines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from fixer.errors import InventoryError, UsageError
from fixer.inventory.loader import Inventory, load_inventory
from fixer.inventory.templating import resolve_vars

DATA = Path(__file__).parent / "data" / "inventory"
MARK = "# <-- error"
MAGIC = ("inventory_hostname", "inventory_hostname_short", "group_names")


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")


def _load(root: Path, inventory: str, files: dict[str, str] | None = None) -> Inventory:
    _write(root, {"inventory.yml": inventory, **(files or {})})
    return load_inventory(root / "inventory.yml")


def _var(inv: Inventory, host: str, name: str) -> Any:
    return inv.hosts[host].vars[name]


# --- a real-looking Apigee inventory (tests/unit/data/inventory/dc1) --------------------------------


@pytest.fixture(scope="module")
def dc1() -> Inventory:
    return load_inventory(DATA / "dc1" / "inventory.yml")


def test_dc1_hosts_in_inventory_order(dc1: Inventory) -> None:
    assert list(dc1.hosts) == [
        "bastion.dc1.example.com",
        *(f"mp0{i}.dc1.example.com" for i in range(1, 6)),
        "rt01.dc1.example.com",
        "rt02.dc1.example.com",
        "ms01.dc1.example.com",
    ]
    assert dc1.path == str(DATA / "dc1" / "inventory.yml")
    assert dc1.warnings == ()


def test_dc1_groups(dc1: Inventory) -> None:
    mps = tuple(f"mp0{i}.dc1.example.com" for i in range(1, 6))
    assert dc1.groups["message_processors"] == mps
    assert dc1.groups["routers"] == ("rt01.dc1.example.com", "rt02.dc1.example.com")
    assert dc1.groups["planet"] == (*mps, "rt01.dc1.example.com", "rt02.dc1.example.com")
    assert dc1.groups["ungrouped"] == ("bastion.dc1.example.com",)
    assert set(dc1.groups["all"]) == set(dc1.hosts)
    assert list(dc1.groups) == ["all", "ungrouped", "planet", "message_processors", "routers", "management"]
    mp = dc1.hosts["mp03.dc1.example.com"]
    assert mp.groups == ("all", "planet", "message_processors")
    assert mp.vars["group_names"] == ["message_processors", "planet"]
    assert dc1.hosts["bastion.dc1.example.com"].groups == ("all", "ungrouped")
    assert dc1.hosts["bastion.dc1.example.com"].vars["group_names"] == ["ungrouped"]  # as Ansible


@pytest.mark.parametrize(
    ("host", "attr", "expected"),
    [
        pytest.param("mp01.dc1.example.com", "address", "mp01.dc1.example.com", id="address-default"),
        pytest.param("mp05.dc1.example.com", "address", "10.20.0.15", id="address-ansible_host"),
        pytest.param("rt02.dc1.example.com", "port", 2222, id="port-from-host-key"),
        pytest.param("rt01.dc1.example.com", "port", 22, id="port-default"),
        pytest.param("mp02.dc1.example.com", "user", "opdk", id="user-from-all"),
        pytest.param("mp02.dc1.example.com", "key_file", "~/.ssh/id_ed25519", id="key-from-group_vars-all"),
        pytest.param("mp02.dc1.example.com", "become", True, id="become"),
        pytest.param("rt02.dc1.example.com", "become_user", "apigee", id="become-user-host_vars-dir"),
        pytest.param("mp02.dc1.example.com", "role", "message_processor", id="role-from-group"),
        pytest.param("rt01.dc1.example.com", "role", "router", id="role-router"),
        pytest.param("ms01.dc1.example.com", "role", None, id="no-role"),
        pytest.param("rt01.dc1.example.com", "nginx_conf_dir", "/opt/nginx/conf.d", id="nginx-group"),
        pytest.param("rt02.dc1.example.com", "nginx_conf_dir", "/etc/nginx/conf.d", id="nginx-host_vars"),
        pytest.param("mp05.dc1.example.com", "java_home", "/usr/lib/jvm/java-1.8.0-openjdk", id="java"),
    ],
)
def test_dc1_host_properties(dc1: Inventory, host: str, attr: str, expected: object) -> None:
    assert getattr(dc1.hosts[host], attr) == expected


@pytest.mark.parametrize(
    ("host", "var", "expected"),
    [
        pytest.param("mp02.dc1.example.com", "mp_tls_protocols", "TLSv1.2,TLSv1.3", id="dir-files-sorted"),
        pytest.param("mp02.dc1.example.com", "mp_truststore", "/opt/apigee/customer/conf/truststore.jks", id="dir"),
        pytest.param("rt01.dc1.example.com", "nginx_worker_processes", 4, id="json-group_vars"),
        pytest.param(
            "rt01.dc1.example.com",
            "fixer_client_ciphers",
            ["ECDHE-RSA-AES128-GCM-SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA"],
            id="list-var",
        ),
        pytest.param("mp01.dc1.example.com", "java_opts", "-Xmx6g", id="template-host_vars-value"),
        pytest.param("mp02.dc1.example.com", "java_opts", "-Xmx3g", id="template-group-value"),
        pytest.param("rt02.dc1.example.com", "support_url", "https://support.example.com/dc1/rt02", id="magic"),
        pytest.param("rt02.dc1.example.com", "ansible_port", 2222, id="port-var-int"),
        pytest.param("rt02.dc1.example.com", "region", "us-east", id="parent-group"),
        pytest.param("ms01.dc1.example.com", "inventory_hostname_short", "ms01", id="short"),
    ],
)
def test_dc1_vars(dc1: Inventory, host: str, var: str, expected: object) -> None:
    assert _var(dc1, host, var) == expected


def test_vars_are_plain_and_not_shared(dc1: Inventory) -> None:
    a, b = dc1.hosts["rt01.dc1.example.com"].vars, dc1.hosts["rt02.dc1.example.com"].vars
    assert type(a) is dict
    assert type(a["fixer_client_ciphers"]) is list
    assert a["fixer_client_ciphers"] is not b["fixer_client_ciphers"]
    assert all(type(k) is str for k in a)


def test_accepts_pathlike_and_str(tmp_path: Path) -> None:
    _write(tmp_path, {"inv.yaml": "all:\n  hosts:\n    h1:\n"})
    assert list(load_inventory(tmp_path / "inv.yaml").hosts) == ["h1"]
    assert list(load_inventory(str(tmp_path / "inv.yaml")).hosts) == ["h1"]


def test_readme_example_inventory_loads() -> None:
    inv = load_inventory(Path(__file__).parents[2] / "inventory.example.yml")
    assert [h.role for h in inv.select("message_processors")] == ["message_processor"] * 5
    assert inv.hosts["rt02.dc1.example.com"].port == 2222
    assert inv.warnings == ()


# --- precedence (tests/unit/data/inventory/precedence, checked against ansible-core) ----------------


@pytest.mark.parametrize(
    ("host", "var", "expected"),
    [
        pytest.param("nodeb", "v_all", "all", id="all-group-vars"),
        pytest.param("nodeb", "v_child_beats_parent", "alpha", id="child-beats-parent"),
        pytest.param("nodea", "v_depth", "deepest", id="deepest-group-wins"),
        pytest.param("nodeb", "v_sibling", "beta", id="siblings-later-name-wins"),
        pytest.param("nodeb", "v_depth", "alpha", id="deeper-beats-top-level-group"),
        pytest.param("nodec", "v_priority", "prio", id="ansible_group_priority-beats-name"),
        pytest.param("nodea", "v_priority", "zz_low", id="parent-of-deepest"),
        pytest.param("nodea", "v_host", "later-entry", id="later-host-entry-wins"),
        pytest.param("nodea", "v_host_file", "host_vars/nodea", id="host_vars-file-wins"),
        pytest.param("nodeb", "v_group_vars_all_beats_inventory_groups", "group_vars/all", id="gv-all-quirk"),
        pytest.param("nodeb", "v_files", "group_vars/alpha", id="group_vars-group"),
        pytest.param("nodea", "v_files", "group_vars/deepest/b", id="group_vars-dir-no-ext-last"),
        pytest.param("nodeb", "v_beta_top", "merged-into-beta", id="group-defined-twice"),
    ],
)
def test_precedence_fixture(host: str, var: str, expected: str) -> None:
    inv = load_inventory(DATA / "precedence" / "inventory.yml")
    assert _var(inv, host, var) == expected


def test_group_priority_is_not_a_var() -> None:
    inv = load_inventory(DATA / "precedence" / "inventory.yml")
    assert "ansible_group_priority" not in inv.hosts["nodec"].vars
    assert inv.hosts["nodec"].groups == ("all", "dc", "alpha", "zz_low", "prio")


@pytest.mark.parametrize(
    ("inventory", "files", "expected"),
    [
        pytest.param(
            "all:\n  vars: {x: {a: 1, b: 2}}\n  children:\n    g: {vars: {x: {b: 3}}, hosts: {h: }}\n",
            {},
            {"b": 3},
            id="hash-replace-not-merge",
        ),
        pytest.param(
            "all:\n  hosts:\n    h: {x: inv}\n",
            {"host_vars/h": "x: file-no-ext\n"},
            "file-no-ext",
            id="host_vars-no-extension",
        ),
        pytest.param(
            "all:\n  hosts:\n    h: {x: inv}\n", {"host_vars/h.json": '{"x": "json"}'}, "json", id="host_vars-json"
        ),
        pytest.param(
            "all:\n  vars: {x: inv}\n  hosts:\n    h:\n",
            {"group_vars/all/a.yml": "x: a\n", "group_vars/all/b.yml": "x: b\n"},
            "b",
            id="dir-sorted-last-wins",
        ),
        pytest.param(
            "all:\n  hosts:\n    h:\n",
            {"group_vars/all/x.yml": "x: dir\n", "group_vars/all.yml": "x: file\n"},
            "dir",
            id="dir-shadows-file-like-ansible",
        ),
        pytest.param(
            "all:\n  hosts:\n    h:\n",
            {"group_vars/all.yml": "x: yml\n", "group_vars/all.yaml": "x: yaml\n"},
            "yml",
            id="yml-before-yaml",
        ),
        pytest.param(
            "all:\n  hosts:\n    h:\n",
            {
                "group_vars/all/sub/x.yml": "x: nested\n",
                "group_vars/all/.hidden.yml": "x: no\n",
                "group_vars/all/x.yml~": "x: no\n",
                "group_vars/all/notes.txt": "x: no\n",
            },
            "nested",
            id="dir-recursive-skips-hidden-backup-other-ext",
        ),
        pytest.param(
            "all:\n  hosts:\n    h:\n",
            {"group_vars/all.yml": "# only a comment\n", "host_vars/h.yml": ""},
            "unset",
            id="empty-vars-files-ignored",
        ),
        pytest.param(
            "all:\n  vars: {x: all}\n  hosts:\n    h:\n",
            {"group_vars/ungrouped.yml": "x: ungrouped\n"},
            "ungrouped",
            id="group_vars-ungrouped",
        ),
        pytest.param(
            "g:\n  hosts:\n    h:\n  vars: {x: g}\n",
            {"group_vars/all.yml": "x: all-file\n"},
            "all-file",
            id="group_vars-all-beats-inventory-group",
        ),
        pytest.param(
            "g:\n  hosts:\n    h:\n",
            {"group_vars/g.yml": "x: g-file\n", "host_vars/h.yml": "x: h\n"},
            "h",
            id="host_vars-beats-group_vars",
        ),
        pytest.param(
            "all:\n  hosts:\n    h: {x: first}\n  children:\n    g:\n      hosts:\n        h: {x: second}\n",
            {},
            "second",
            id="later-in-file-wins",
        ),
    ],
)
def test_precedence_cases(tmp_path: Path, inventory: str, files: dict[str, str], expected: object) -> None:
    inv = _load(tmp_path, inventory, files)
    assert inv.hosts["h"].vars.get("x", "unset") == expected


def test_port_only_where_host_first_appears(tmp_path: Path) -> None:
    # `h` and `h:2200` are different YAML keys for one host; Ansible ignores a later :port.
    inv = _load(tmp_path, "all:\n  hosts:\n    h: {x: 1}\n    h:2200: {x: 2}\n")
    assert _var(inv, "h", "x") == 2
    assert "ansible_port" not in inv.hosts["h"].vars


def test_warnings_for_files_ansible_ignores(tmp_path: Path) -> None:
    inv = _load(
        tmp_path,
        "all:\n  children:\n    routers:\n      hosts:\n        rt1:\n",
        {
            "group_vars/routres.yml": "x: 1\n",
            "group_vars/routers/a.yml": "x: 2\n",
            "group_vars/routers.yml": "x: 3\n",
            "host_vars/rt2.yml": "x: 4\n",
            "group_vars/README.md": "docs\n",
        },
    )
    gv, hv = tmp_path / "group_vars", tmp_path / "host_vars"
    assert inv.warnings == (
        f"{gv}/routers.yml: ignored, the vars of group 'routers' come from {gv}/routers",
        f"{gv}/routres.yml: ignored, the inventory has no group 'routres'",
        f"{hv}/rt2.yml: ignored, the inventory has no host 'rt2'",
    )
    assert _var(inv, "rt1", "x") == 2


def test_warning_host_and_group_same_name(tmp_path: Path) -> None:
    inv = _load(tmp_path, "all:\n  hosts:\n    web:\n  children:\n    web:\n      hosts:\n        w1:\n")
    assert inv.warnings == ("'web' is both a group and a host; a --limit of that name selects the host",)


# --- structure ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inventory", "groups"),
    [
        pytest.param("all:\n  hosts:\n    a:\n    b:\n", {"all": ("a", "b"), "ungrouped": ("a", "b")}, id="flat"),
        pytest.param(
            "all:\n  hosts:\n    a:\n  children:\n    g:\n      hosts:\n        a:\n        b:\n",
            {"all": ("a", "b"), "ungrouped": (), "g": ("a", "b")},
            id="all-hosts-also-in-group-not-ungrouped",
        ),
        pytest.param(
            "web:\n  hosts:\n    w1:\ndb:\n  hosts: d1\n",
            {"all": ("w1", "d1"), "ungrouped": (), "web": ("w1",), "db": ("d1",)},
            id="top-level-groups-and-string-hosts",
        ),
        pytest.param(
            "ungrouped:\n  hosts:\n    u:\n    g1:\ng:\n  hosts:\n    g1:\n",
            {"all": ("u", "g1"), "ungrouped": ("u",), "g": ("g1",)},
            id="explicit-ungrouped-cleared-like-ansible",
        ),
        pytest.param(
            "all:\n  children:\n    p:\n      children: c\nc:\n  hosts:\n    h:\nempty:\n",
            {"all": ("h",), "ungrouped": (), "p": ("h",), "c": ("h",), "empty": ()},
            id="string-children-and-empty-group",
        ),
        pytest.param(
            "all:\n  children:\n    a:\n      children:\n        shared:\n    b:\n      children:\n        shared:\n"
            "          hosts:\n            s:\n",
            {"all": ("s",), "ungrouped": (), "a": ("s",), "b": ("s",), "shared": ("s",)},
            id="diamond",
        ),
        pytest.param(
            "base: &base\n  hosts:\n    h1:\nother:\n  <<: *base\n  vars: {x: 1}\n",
            {"all": ("h1",), "ungrouped": (), "base": ("h1",), "other": ("h1",)},
            id="yaml-merge-key",
        ),
    ],
)
def test_groups(tmp_path: Path, inventory: str, groups: dict[str, tuple[str, ...]]) -> None:
    assert _load(tmp_path, inventory).groups == groups


def test_host_groups_include_ancestors(tmp_path: Path) -> None:
    inv = _load(
        tmp_path,
        "all:\n  children:\n    dc:\n      children:\n        mps:\n          hosts:\n            m1:\nrole:\n"
        "  children:\n    mps:\n",
    )
    assert inv.hosts["m1"].groups == ("all", "dc", "role", "mps")
    assert inv.hosts["m1"].vars["group_names"] == ["dc", "mps", "role"]
    assert inv.hosts["m1"].vars["inventory_hostname"] == "m1"


@pytest.mark.parametrize(
    ("key", "names"),
    [
        pytest.param("mp[01:12]", [f"mp{i:02d}" for i in range(1, 13)], id="zero-padded"),
        pytest.param("mp[1:3]", ["mp1", "mp2", "mp3"], id="plain"),
        pytest.param("mp[8:11].dc1", ["mp8.dc1", "mp9.dc1", "mp10.dc1", "mp11.dc1"], id="unpadded-widths"),
        pytest.param("[a:c].example.com", ["a.example.com", "b.example.com", "c.example.com"], id="alpha"),
        pytest.param("rt[01:10:4]", ["rt01", "rt05", "rt09"], id="step"),
        pytest.param("n[a:e:2]", ["na", "nc", "ne"], id="alpha-step"),
        pytest.param("dc[1:2]-mp[a:b]", ["dc1-mpa", "dc1-mpb", "dc2-mpa", "dc2-mpb"], id="two-ranges"),
        pytest.param("h[:2]", ["h0", "h1", "h2"], id="begin-omitted"),
        pytest.param("10.0.0.[7:9]", ["10.0.0.7", "10.0.0.8", "10.0.0.9"], id="ipv4"),
        pytest.param("mp[5:5]", ["mp5"], id="single"),
    ],
)
def test_host_ranges(tmp_path: Path, key: str, names: list[str]) -> None:
    inv = _load(tmp_path, f"all:\n  hosts:\n    '{key}':\n      v: 1\n")
    assert list(inv.hosts) == names
    assert all(h.vars["v"] == 1 for h in inv.hosts.values())


@pytest.mark.parametrize(
    ("key", "names", "port"),
    [
        pytest.param("rt02:2222", ["rt02"], 2222, id="name"),
        pytest.param("10.0.0.5:2200", ["10.0.0.5"], 2200, id="ipv4"),
        pytest.param("[fd00::5]:22", ["fd00::5"], 22, id="ipv6-bracketed"),
        pytest.param("fd00::5", ["fd00::5"], None, id="ipv6-bare-no-port"),
        pytest.param("mp[1:2]:2022", ["mp1", "mp2"], 2022, id="range-and-port"),
    ],
)
def test_host_key_port(tmp_path: Path, key: str, names: list[str], port: int | None) -> None:
    inv = _load(tmp_path, f"all:\n  hosts:\n    '{key}':\n")
    assert list(inv.hosts) == names
    assert [h.vars.get("ansible_port") for h in inv.hosts.values()] == [port] * len(names)


# --- templating ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        pytest.param({"p": 8443, "u": "https://h:{{ p }}"}, "https://h:8443", id="interpolate"),
        pytest.param({"p": 8443, "u": "{{p}}"}, 8443, id="whole-keeps-type"),
        pytest.param({"p": [1, 2], "u": "{{ p }}"}, [1, 2], id="whole-list"),
        pytest.param({"a": "{{ b }}", "b": "{{ c }}", "c": "x", "u": "{{ a }}-{{ b }}"}, "x-x", id="chain"),
        pytest.param({"p": 1, "u": "{{ p | int + 1 }}"}, "{{ p | int + 1 }}", id="filter-left"),
        pytest.param({"p": 1, "u": "{{ p }}-{{ q.r }}"}, "{{ p }}-{{ q.r }}", id="partly-complex-left-whole"),
        pytest.param({"u": "{{ missing }}"}, "{{ missing }}", id="undefined-left"),
        pytest.param({"a": "{{ u }}", "u": "{{ a }}"}, "{{ a }}", id="cycle-left"),
        pytest.param({"p": 1, "u": "{% if p %}y{% endif %}"}, "{% if p %}y{% endif %}", id="statement-left"),
        pytest.param({"p": 1, "u": {"k": ["{{ p }}"]}}, {"k": [1]}, id="nested"),
        pytest.param({"a": "{{ b | upper }}", "u": "x{{ a }}"}, "x{{ a }}", id="ref-to-unresolvable"),
        pytest.param({"u": "no template {braces}"}, "no template {braces}", id="plain"),
    ],
)
def test_resolve_vars(variables: dict[str, Any], expected: object) -> None:
    assert resolve_vars(variables)["u"] == expected


def test_deep_chain_is_bounded() -> None:
    chain = {f"v{i}": f"{{{{ v{i + 1} }}}}" for i in range(20)} | {"v20": "end"}
    resolved = resolve_vars(chain)
    assert resolved["v15"] == "end"
    assert resolved["v0"] == "{{ v1 }}"


def test_unsafe_is_never_templated(tmp_path: Path) -> None:
    inv = _load(tmp_path, "all:\n  vars:\n    p: 1\n    u: !unsafe '{{ p }}'\n    w: '{{ u }}'\n  hosts:\n    h:\n")
    assert _var(inv, "h", "u") == "{{ p }}"
    assert type(_var(inv, "h", "u")) is str
    assert _var(inv, "h", "w") == "{{ p }}"


# --- errors: one InventoryError naming the file and line --------------------------------------------

ERRORS: list[Any] = [
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    mp01:\n   bad: indent  # <-- error\n"},
        "inventory.yml",
        "invalid YAML",
        id="yaml-syntax",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n\tmp01:  # <-- error\n"}, "inventory.yml", "invalid YAML", id="yaml-tab"
    ),
    pytest.param(
        {"inventory.yml": "all:\n  children:\n    routers:  # <-- error\n      - rt01\n"},
        "inventory.yml",
        "group 'routers' must be a mapping",
        id="group-is-list",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  children:\n    routers:\n      hosts:  # <-- error\n        - rt01\n"},
        "inventory.yml",
        "`hosts` of group 'routers' must be a mapping",
        id="hosts-is-list",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts: 42  # <-- error\n"},
        "inventory.yml",
        "got a number (42)",
        id="hosts-is-number",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  children:\n    mps:\n      host:  # <-- error\n        mp01:\n"},
        "inventory.yml",
        "unknown key 'host' in group 'mps'",
        id="typo-host",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  childs:  # <-- error\n    mps:\n"},
        "inventory.yml",
        "did you mean 'children'?",
        id="typo-children",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  Vars:  # <-- error\n    x: 1\n"},
        "inventory.yml",
        "did you mean 'vars'?",
        id="typo-vars-case",
    ),
    pytest.param(
        {"inventory.yml": "routers:\n  rt01.example.com:  # <-- error\n"},
        "inventory.yml",
        "list it under `hosts:`",
        id="host-directly-under-group",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    mp01:\n    mp02:\n    mp01:  # <-- error\n"},
        "inventory.yml",
        "duplicate key 'mp01' (first at line 3)",
        id="duplicate-host",
    ),
    pytest.param(
        {"inventory.yml": "routers:\n  hosts:\n    r1:\nrouters:  # <-- error\n  vars: {}\n"},
        "inventory.yml",
        "duplicate key 'routers'",
        id="duplicate-group",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    h:\n      ansible_user: a\n      ansible_user: b  # <-- error\n"},
        "inventory.yml",
        "duplicate key 'ansible_user'",
        id="duplicate-var",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    'mp[01:1]':  # <-- error\n"},
        "inventory.yml",
        "zero-padded bounds must have equal length",
        id="range-width",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    'mp[3:1]':  # <-- error\n"},
        "inventory.yml",
        "begin must not be greater than end",
        id="range-reversed",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    'mp[1-3]':  # <-- error\n"},
        "inventory.yml",
        "must be [begin:end]",
        id="range-dash",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    'mp[1:]':  # <-- error\n"},
        "inventory.yml",
        "has no end value",
        id="range-no-end",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    'mp[1:3:0]':  # <-- error\n"},
        "inventory.yml",
        "step must be a positive integer",
        id="range-step-zero",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    'mp[1:c]':  # <-- error\n"},
        "inventory.yml",
        "two numbers or two letters",
        id="range-mixed",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    'mp[1:3':  # <-- error\n"},
        "inventory.yml",
        "unclosed '['",
        id="range-unclosed",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    'mp1]':  # <-- error\n"},
        "inventory.yml",
        "unmatched ']'",
        id="range-stray-bracket",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    mp01: 10.0.0.1  # <-- error\n"},
        "inventory.yml",
        "write `ansible_host: 10.0.0.1`",
        id="host-value-string",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    12345:  # <-- error\n"},
        "inventory.yml",
        "host name 12345 must be a non-empty string (quote it)",
        id="host-int",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  children: [mps, routers]  # <-- error\n"},
        "inventory.yml",
        "`children` of group 'all' must be a mapping",
        id="children-list",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  vars:  # <-- error\n    - x\n"},
        "inventory.yml",
        "`vars` of group 'all' must be a mapping",
        id="vars-list",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  vars:\n    1: x  # <-- error\n"},
        "inventory.yml",
        "variable name 1 must be a non-empty string",
        id="var-name-int",
    ),
    pytest.param(
        {"inventory.yml": "a:\n  children:\n    b:\n      children:\n        a:  # <-- error\n"},
        "inventory.yml",
        "makes a loop",
        id="children-cycle",
    ),
    pytest.param(
        {"inventory.yml": "g:\n  children:\n    all:  # <-- error\n"},
        "inventory.yml",
        "group 'all' is the root",
        id="all-as-child",
    ),
    pytest.param(
        {"inventory.yml": "g:\n  vars:\n    ansible_group_priority: high  # <-- error\n"},
        "inventory.yml",
        "ansible_group_priority of group 'g' must be an integer",
        id="bad-priority",
    ),
    pytest.param(
        {
            "inventory.yml": "all:\n  vars:\n    pw: !vault |  # <-- error\n      $ANSIBLE_VAULT;1.1;AES256\n"
            "      6162\n"
        },
        "inventory.yml",
        "`!vault` value: Ansible Vault is not supported",
        id="vault-tag",
    ),
    pytest.param(
        {
            "inventory.yml": "all:\n  hosts:\n    h:\n",
            "group_vars/all.yml": "x: 1\npw: |  # <-- error\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n",
        },
        "group_vars/all.yml",
        "Ansible Vault is not supported",
        id="vault-text-in-group_vars",
    ),
    pytest.param(
        {
            "inventory.yml": "all:\n  hosts:\n    h:\n",
            "host_vars/h/vault.yml": "$ANSIBLE_VAULT;1.1;AES256  # <-- error\n6162\n",
        },
        "host_vars/h/vault.yml",
        "the whole file is encrypted",
        id="vault-whole-file",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    h:\n", "group_vars/all.yml": "- x  # <-- error\n- y\n"},
        "group_vars/all.yml",
        "a vars file must be a mapping",
        id="vars-file-list",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    h:\n", "host_vars/h.yml": "\n\njust text  # <-- error\n"},
        "host_vars/h.yml",
        "got a string ('just text')",
        id="vars-file-scalar",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    h:\n", "group_vars/all.yml": "a: 1\na: 2  # <-- error\n"},
        "group_vars/all.yml",
        "duplicate key 'a'",
        id="vars-file-duplicate",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    h:\n", "group_vars/all.json": '{"a": 1,\n "a": 2}  # <-- error'},
        "group_vars/all.json",
        "duplicate key 'a'",
        id="json-duplicate",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    h:\n", "group_vars/all.yml": "1: x  # <-- error\n"},
        "group_vars/all.yml",
        "variable name 1 must be a string",
        id="vars-file-int-key",
    ),
    pytest.param(
        {"inventory.yml": "# nothing here  # <-- error\n\n"},
        "inventory.yml",
        "inventory file is empty",
        id="empty-comments-only",
    ),
    pytest.param({"inventory.yml": "{}  # <-- error\n"}, "inventory.yml", "inventory file is empty", id="empty-map"),
    pytest.param({"inventory.yml": "- mp01  # <-- error\n- mp02\n"}, "inventory.yml", "got a list", id="root-list"),
    pytest.param(
        {"inventory.yml": "[routers]  # <-- error\nrt01 ansible_host=10.0.0.1\n"},
        "inventory.yml",
        "looks like an INI inventory",
        id="ini",
    ),
    pytest.param({"inventory.yml": "rt01  # <-- error\nrt02\n"}, "inventory.yml", "looks like an INI", id="ini-plain"),
    pytest.param(
        {"inventory.yml": "# prod\nrt01\n\n[routers]  # <-- error\nrt02 ansible_port=2222\n[routers:vars]\nx=1\n"},
        "inventory.yml",
        "ansible-inventory -i FILE --list --yaml",
        id="ini-section-after-hosts",
    ),
    pytest.param(
        {"inventory.yml": "hosts:\n  mp01:  # <-- error\n"},
        "inventory.yml",
        "a top-level 'hosts' is read as a group of that name; put it under `all:`",
        id="top-level-hosts",
    ),
    pytest.param(
        {"inventory.yml": "plugin: amazon.aws.aws_ec2  # <-- error\nregions: [us-east-1]\n"},
        "inventory.yml",
        "inventory plugin 'amazon.aws.aws_ec2'",
        id="plugin-config",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  vars:\n    x: !include foo.yml  # <-- error\n"},
        "inventory.yml",
        "could not determine a constructor for the tag '!include'",
        id="unknown-tag",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    h:\n---  # <-- error\nall:\n"},
        "inventory.yml",
        "expected a single document",
        id="two-documents",
    ),
    pytest.param(
        {"inventory.yml": "all:\n  hosts:\n    [a, b]:  # <-- error\n"},
        "inventory.yml",
        "mapping key must be a plain value",
        id="unhashable-key",
    ),
]


@pytest.mark.parametrize(("files", "bad_file", "fragment"), ERRORS)
def test_errors_name_file_and_line(tmp_path: Path, files: dict[str, str], bad_file: str, fragment: str) -> None:
    _write(tmp_path, files)
    text = (tmp_path / bad_file).read_text(encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if MARK in row)
    with pytest.raises(InventoryError) as info:
        load_inventory(tmp_path / "inventory.yml")
    err = info.value
    assert (err.path, err.line) == (str(tmp_path / bad_file), line), str(err)
    assert fragment in err.message
    assert str(err).startswith(f"{tmp_path / bad_file}:{line}: ")
    assert isinstance(err, UsageError)  # so the CLI exits 2


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        pytest.param(lambda p: None, "inventory file not found", id="missing"),
        pytest.param(lambda p: p.mkdir(), "is a directory: pass the inventory file inside it", id="directory"),
        pytest.param(lambda p: p.write_bytes(b"all:\n  hosts: {\xff: }\n"), "not UTF-8", id="binary"),
    ],
)
def test_errors_without_line(tmp_path: Path, setup: Any, fragment: str) -> None:
    path = tmp_path / "inventory.yml"
    setup(path)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert info.value.path == str(path)
    assert info.value.line is None
    assert fragment in info.value.message


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "inventory.yml").write_bytes("\ufeffall:\n  hosts:\n    h1:\n".encode())
    assert list(load_inventory(tmp_path / "inventory.yml").hosts) == ["h1"]


def test_inventory_without_hosts_loads_but_selects_nothing(tmp_path: Path) -> None:
    inv = _load(tmp_path, "all:\n  children:\n    routers:\n")
    assert inv.hosts == {}
    assert inv.groups == {"all": (), "ungrouped": (), "routers": ()}
    with pytest.raises(UsageError, match="the inventory has no hosts"):
        inv.select(None)


def test_directory_hint_lists_candidates(tmp_path: Path) -> None:
    _write(tmp_path, {"prod/hosts.yml": "all:\n", "prod/group_vars/all.yml": "x: 1\n"})
    with pytest.raises(InventoryError, match=r"\(it holds hosts.yml\)"):
        load_inventory(tmp_path / "prod")


# --- the same answers as real Ansible ---------------------------------------------------------------

FIXTURES = [DATA / "dc1" / "inventory.yml", DATA / "precedence" / "inventory.yml", DATA / "multidc" / "hosts.yaml"]
needs_ansible = pytest.mark.skipif(
    shutil.which("ansible-inventory") is None or shutil.which("ansible") is None, reason="ansible-core not on PATH"
)


def _ansible_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_INVENTORY_ENABLED="yaml",
        ANSIBLE_INVENTORY_UNPARSED_FAILED="true",
        ANSIBLE_DEPRECATION_WARNINGS="false",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
        ANSIBLE_HOME=str(tmp_path / "ansible-home"),
    )
    env.pop("ANSIBLE_CONFIG", None)
    return env


def _members(listing: dict[str, Any], group: str) -> set[str]:
    entry = listing.get(group, {})
    found = set(entry.get("hosts", []))
    for child in entry.get("children", []):
        found |= _members(listing, child)
    return found


@needs_ansible
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.parent.name)
def test_matches_ansible_inventory(tmp_path: Path, path: Path) -> None:
    """ansible-inventory --list: same hosts, groups and merged (untemplated) hostvars."""
    out = subprocess.run(
        ["ansible-inventory", "-i", str(path), "--list"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=_ansible_env(tmp_path),
    ).stdout
    listing = json.loads(out)
    hostvars = listing.pop("_meta")["hostvars"]
    inv = load_inventory(path)
    assert set(inv.hosts) == set(_members(listing, "all"))
    assert {g: set(h) for g, h in inv.groups.items() if h} == {
        g: m for g in [*listing, "all"] if (m := _members(listing, g))
    }
    for name, host in inv.hosts.items():
        theirs = hostvars.get(name, {})
        templated = {k for k, v in theirs.items() if isinstance(v, str) and "{{" in v}
        mine = {k: v for k, v in host.vars.items() if k not in MAGIC and k not in templated}
        assert mine == {k: v for k, v in theirs.items() if k not in templated}, name


@needs_ansible
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.parent.name)
def test_matches_ansible_templated_hostvars(tmp_path: Path, path: Path) -> None:
    """What a play sees (templated, with magic vars) equals Host.vars, value for value."""
    tree = tmp_path / "tree"
    env = _ansible_env(tmp_path) | {
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.tree",
        "ANSIBLE_CALLBACK_TREE_DIR": str(tree),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal",
    }
    subprocess.run(
        ["ansible", "-i", str(path), "all", "-m", "debug", "-a", "var=hostvars[inventory_hostname]"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=env,
    )
    inv = load_inventory(path)
    for name, host in inv.hosts.items():
        seen = json.loads((tree / name).read_text(encoding="utf-8"))["hostvars[inventory_hostname]"]
        assert host.vars == {k: seen[k] for k in host.vars}, name
