"""Ansible-format inventories: loading, host ranges, group/host vars and --limit patterns."""

from fixer.inventory.model import Host

__all__ = ["Host"]
