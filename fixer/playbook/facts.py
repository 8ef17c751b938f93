"""Facts as playbook variables: what `fixer check` learned about a host, for `plan_host(facts=...)`.

Only jce-unlimited.yml needs facts today: the Message Processor's Java. The caller (the CLI, which
gathered them with `fixer check`'s facts) passes `facts_vars(node_facts)`; an operator can instead set
the same variables per host in the inventory (host_vars) or with `-e`. Facts rank above inventory vars
and below play vars and extra vars.
"""

from __future__ import annotations

from typing import Any

from fixer.facts.model import MessageProcessorFacts, NodeFacts


def facts_vars(facts: NodeFacts) -> dict[str, Any]:
    """Variables from a host's facts; only those known (a None fact is left out, so it stays undefined)."""
    out: dict[str, Any] = {}
    if isinstance(facts, MessageProcessorFacts):
        java = facts.java
        values = {
            "java_home": java.java_home,
            "java_security_file": java.security_file,
            "java_version": java.version,
            "java_major": java.major,
            "jce_crypto_policy": java.crypto_policy if java.crypto_policy != "unknown" else None,
        }
        out.update({k: v for k, v in values.items() if v is not None})
    return out
