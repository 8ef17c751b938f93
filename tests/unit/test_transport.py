"""Pure parts of the transport: ssh_config resolution, ProxyJump specs, known_hosts handling."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from fixer.errors import UsageError
from fixer.transport.hostkeys import known_hosts_name, load_known_hosts
from fixer.transport.ssh import _jump_parts, _resolve

CONFIG = """
Host mp*
    User opdk
    Port 2200
    IdentityFile {key}
    ProxyJump jump@bastion.example.com:2022
Host bastion.example.com
    User jumper
Host direct
    HostName 10.0.0.9
    ProxyJump none
"""


@pytest.fixture
def config(tmp_path: Path) -> paramiko.SSHConfig:
    key = tmp_path / "id_test"
    key.write_text("not really a key")
    return paramiko.SSHConfig.from_text(CONFIG.format(key=key))


def test_config_fills_what_the_inventory_leaves_out(config: paramiko.SSHConfig, tmp_path: Path) -> None:
    target = _resolve("mp01", None, None, None, config)
    assert (target.hostname, target.port, target.user) == ("mp01", 2200, "opdk")
    assert target.key_files == (str(tmp_path / "id_test"),)
    assert target.proxy_jump == "jump@bastion.example.com:2022"


def test_inventory_values_win_over_config(config: paramiko.SSHConfig) -> None:
    target = _resolve("mp01", 22, "root", "/nonexistent/key", config)
    assert (target.port, target.user) == (22, "root")
    assert target.key_files == ()  # a missing key file is not offered


def test_proxyjump_none_and_hostname(config: paramiko.SSHConfig) -> None:
    target = _resolve("direct", None, None, None, config)
    assert target.hostname == "10.0.0.9" and target.proxy_jump is None


def test_no_config() -> None:
    target = _resolve("h", None, None, None, None)
    assert (target.hostname, target.port, target.user, target.proxy_jump) == ("h", 22, None, None)


@pytest.mark.parametrize(
    ("spec", "parts"),
    [
        ("bastion", ("bastion", None, None, None)),
        ("u@bastion", ("bastion", None, "u", None)),
        ("u@bastion:2022", ("bastion", 2022, "u", None)),
        ("[2001:db8::1]:2022", ("2001:db8::1", 2022, None, None)),
        ("a@b@host", ("host", None, "a@b", None)),
        ("  bastion ", ("bastion", None, None, None)),
    ],
)
def test_jump_parts(spec: str, parts: tuple[object, ...]) -> None:
    assert _jump_parts(spec) == parts


def test_known_hosts_name() -> None:
    assert known_hosts_name("10.0.0.1", 22) == "10.0.0.1"
    assert known_hosts_name("10.0.0.1", 2222) == "[10.0.0.1]:2222"


def test_missing_known_hosts_is_usage_error_in_strict_mode(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_known_hosts(tmp_path / "nope", "strict")
    assert len(load_known_hosts(tmp_path / "nope", "accept-new")) == 0


def test_unknown_policy(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown host key policy"):
        load_known_hosts(tmp_path / "kh", "yolo")


def test_known_hosts_loaded(tmp_path: Path) -> None:
    key = paramiko.Ed25519Key.from_private_key_file  # noqa: F841 - keep paramiko's key classes importable
    kh = tmp_path / "kh"
    kh.write_text(
        "[10.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx4LF3D0Cn0Zt0bgqS8G1x0m4Y0n9m8c8k1b2v4vB1S\n"
    )
    keys = load_known_hosts(kh, "strict")
    assert keys.lookup("[10.0.0.1]:2222") is not None
