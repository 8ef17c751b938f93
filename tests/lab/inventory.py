"""Client-side files of a lab: Ansible inventory, group_vars, known_hosts and an OpenSSH client config."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.lab.scenarios import NodeSpec


def write_inventory(
    lab_dir: Path, specs: list[NodeSpec], ips: dict[str, str], key_file: Path, known_hosts: Path
) -> Path:
    groups: dict[str, dict[str, dict[str, object]]] = {}
    for spec in specs:
        host_vars: dict[str, object] = {"ansible_host": ips[spec.name], **spec.host_vars}
        if spec.kind == "router":  # the lab root CA issued every router leaf: the anchor of their chains
            host_vars.setdefault("fixer_router_cafile", str(lab_dir / "ca.pem"))
        groups.setdefault(spec.group, {})[spec.name] = host_vars
    doc = {"all": {"children": {group: {"hosts": hosts} for group, hosts in groups.items()}}}
    inventory = lab_dir / "inventory.yml"
    inventory.write_text(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))
    group_vars = lab_dir / "group_vars"
    group_vars.mkdir(exist_ok=True)
    all_vars = {
        "ansible_user": "fixer",
        "ansible_ssh_private_key_file": str(key_file),
        "ansible_become": True,
        # So that ansible-playbook, like fixer, checks host keys against the lab's file.
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes",
    }
    (group_vars / "all.yml").write_text(yaml.safe_dump(all_vars, sort_keys=False))
    return inventory


def write_known_hosts(path: Path, entries: list[tuple[str, str]]) -> None:
    """``entries``: (ip, "ssh-ed25519 AAAA...") pairs; port 22 needs no ``[ip]:port`` form."""
    path.write_text("".join(f"{ip} {key}\n" for ip, key in entries))


def write_ssh_config(path: Path, ips: dict[str, str], key_file: Path, known_hosts: Path) -> None:
    common = (
        "    User fixer\n"
        f"    IdentityFile {key_file}\n"
        "    IdentitiesOnly yes\n"
        f"    UserKnownHostsFile {known_hosts}\n"
        "    StrictHostKeyChecking yes\n"
        "    BatchMode yes\n"
    )
    blocks = []
    if "bastion" in ips and "mp-healthy" in ips:
        bastion = ips["bastion"]
        # The jump itself runs "ssh fixer@<ip>" with this same -F file, hence the ip as a Host pattern.
        blocks.append(f"Host bastion {bastion}\n    HostName {bastion}\n{common}")
        blocks.append(
            f"Host mp-via-bastion\n    HostName {ips['mp-healthy']}\n    ProxyJump fixer@{bastion}\n{common}"
        )
    blocks += [f"Host {name}\n    HostName {ip}\n{common}" for name, ip in ips.items() if name != "bastion"]
    blocks.append(f"Host *\n{common}")
    path.write_text("# OpenSSH client config for the fixer lab (use with ssh -F).\n\n" + "\n".join(blocks))
