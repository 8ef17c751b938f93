"""Typed view of one inventory host, as the rest of fixer sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = ("message_processor", "router")
ROLE_GROUPS = {"message_processors": "message_processor", "routers": "router"}

DEFAULT_APIGEE_ROOT = "/opt/apigee"
DEFAULT_NGINX_CONF_DIR = "/opt/nginx/conf.d"


@dataclass(frozen=True)
class Host:
    """One inventory host with its merged variables (group_vars < host vars, Ansible precedence)."""

    name: str
    groups: tuple[str, ...]
    vars: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def address(self) -> str:
        return str(self.vars.get("ansible_host", self.name))

    @property
    def port(self) -> int:
        return int(self.vars.get("ansible_port", 22))

    @property
    def user(self) -> str | None:
        user = self.vars.get("ansible_user")
        return None if user is None else str(user)

    @property
    def key_file(self) -> str | None:
        key = self.vars.get("ansible_ssh_private_key_file")
        return None if key is None else str(key)

    @property
    def become(self) -> bool:
        return _truthy(self.vars.get("ansible_become", False))

    @property
    def become_user(self) -> str:
        return str(self.vars.get("ansible_become_user", "root"))

    @property
    def become_password(self) -> str | None:
        pw = self.vars.get("ansible_become_password", self.vars.get("ansible_become_pass"))
        return None if pw is None else str(pw)

    @property
    def role(self) -> str | None:
        """`fixer_role` wins; otherwise membership of group message_processors or routers."""
        explicit = self.vars.get("fixer_role")
        if explicit is not None:
            return str(explicit)
        for group, role in ROLE_GROUPS.items():
            if group in self.groups:
                return role
        return None

    @property
    def apigee_root(self) -> str:
        return str(self.vars.get("apigee_root", DEFAULT_APIGEE_ROOT)).rstrip("/") or "/"

    @property
    def nginx_conf_dir(self) -> str:
        return str(self.vars.get("nginx_conf_dir", DEFAULT_NGINX_CONF_DIR)).rstrip("/") or "/"

    @property
    def java_home(self) -> str | None:
        jh = self.vars.get("fixer_java_home")
        return None if jh in (None, "") else str(jh)


def _truthy(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    return str(value).strip().lower() in ("yes", "true", "1", "on", "y")
