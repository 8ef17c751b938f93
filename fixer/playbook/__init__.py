"""Playbooks: Ansible-like YAML (plays of tasks and handlers over a closed set of modules).

Public API:
- `load_playbook(path) -> Playbook`, `parse_playbook(text, path) -> Playbook` (PlaybookError, exit 2)
- `Playbook`, `Play`, `Task`, `Requirement` (frozen dataclasses)
- `FINDING_PLAYBOOKS` (finding id → shipped playbook file name), `find_playbook(name)`, `playbook_dirs()`
- `facts_vars(node_facts)`: host facts as variables for `fixer.plan.planner.plan_host(facts=...)`
"""

from __future__ import annotations

from fixer.playbook.facts import facts_vars
from fixer.playbook.findings import FINDING_PLAYBOOKS, find_playbook, playbook_dirs
from fixer.playbook.loader import load_playbook, parse_playbook
from fixer.playbook.model import Play, Playbook, Requirement, Task

__all__ = [
    "FINDING_PLAYBOOKS",
    "Play",
    "Playbook",
    "Requirement",
    "Task",
    "facts_vars",
    "find_playbook",
    "load_playbook",
    "parse_playbook",
    "playbook_dirs",
]
