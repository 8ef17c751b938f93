"""Which shipped playbook fixes which `fixer check` finding, and where shipped playbooks live."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import fixer
from fixer.errors import PlaybookError

# finding id → file name under playbooks/. Findings not listed need something other than a config
# change on the node (a backend, a certificate, a proxy bundle).
FINDING_PLAYBOOKS: dict[str, str] = {
    "mp-sni-disabled": "enable-sni.yml",
    "mp-restart-pending": "restart-pending.yml",
    "properties-owner": "fix-ownership.yml",
    "jce-limited": "jce-unlimited.yml",
    "router-weak-protocol": "router-tls.yml",
    "router-weak-cipher": "router-tls.yml",
    "router-cipher-mismatch": "router-tls.yml",
    "router-config-drift": "router-tls.yml",
}


def playbook_dirs() -> list[Path]:
    """Where shipped playbooks are searched: the repository's playbooks/, then an installed copy."""
    return [
        Path(fixer.__file__).resolve().parent.parent / "playbooks",
        Path(sys.prefix) / "share" / "fixer" / "playbooks",
    ]


def find_playbook(name: str | os.PathLike[str]) -> Path:
    """`name` as a path when it exists, else a shipped playbook of that name (`enable-sni` or `enable-sni.yml`)."""
    given = Path(name)
    if given.is_file():
        return given
    if given.name == os.fspath(name):  # a bare name: look among the shipped ones
        for candidate in (given.name, f"{given.name}.yml"):
            for base in playbook_dirs():
                if (base / candidate).is_file():
                    return base / candidate
    shipped = sorted({p.name for base in playbook_dirs() if base.is_dir() for p in base.glob("*.yml")})
    raise PlaybookError(f"playbook not found (shipped playbooks: {', '.join(shipped) or 'none'})", os.fspath(name))
