"""Message processor checks: SNI, restart pending, ownership, JCE policy."""

from __future__ import annotations

from typing import Any

from fixer.checks.common import properties_owner, unreadable
from fixer.checks.model import Evidence, Finding
from fixer.facts.build import SNI_KEY
from fixer.facts.model import MessageProcessorFacts, Token

SNI_TOKEN = f"conf_system_{SNI_KEY}"


def _service_cmd(apigee_root: str) -> str:
    return f"{apigee_root}/apigee-service/bin/apigee-service edge-message-processor"


def _pending(facts: MessageProcessorFacts) -> list[tuple[Token, str | None]]:
    """System tokens whose value differs from the generated system.properties (last token wins)."""
    latest: dict[str, Token] = {}
    for token in facts.tokens:
        if token.file == "system":
            latest[token.key] = token
    out = []
    for key, token in latest.items():
        entry = facts.generated.get(key)
        now = entry.value if entry else None
        if now is None or now.strip() != token.value.strip():
            out.append((token, now))
    return out


def check_sni(facts: MessageProcessorFacts, apigee_root: str) -> list[Finding]:
    if facts.sni_enabled:
        return []
    pending = {t.key for t, _ in _pending(facts)}
    token = next((t for t in reversed(facts.tokens) if t.file == "system" and t.key == SNI_KEY), None)
    if token is not None and token.value.strip().lower() == "true" and SNI_KEY in pending:
        return []  # fixed in the customer file, waits for a restart: mp-restart-pending says so
    generated = facts.generated.get(SNI_KEY)
    evidence = [
        Evidence(
            facts.generated.path,
            generated.line if generated else None,
            {SNI_KEY: generated.value if generated else "(absent: Private Cloud default is false)"},
        )
    ]
    if token is not None:
        evidence.append(Evidence(facts.customer.path, token.line, {token.raw_key: token.value}))
    return [
        Finding(
            id="mp-sni-disabled",
            severity="error",
            cause="sni",
            message="SNI is disabled on this message processor: backends that need server_name in the "
            "ClientHello fail with handshake_failure or unrecognized_name",
            evidence=tuple(evidence),
            remediation=f"set {SNI_TOKEN}=true in {facts.customer.path}, chown apigee:apigee it, then "
            f"{_service_cmd(apigee_root)} restart on every message processor, one at a time",
        )
    ]


def check_restart_pending(facts: MessageProcessorFacts, apigee_root: str) -> list[Finding]:
    pending = _pending(facts)
    if not pending:
        return []
    evidence = tuple(
        Evidence(
            facts.customer.path,
            token.line,
            {token.raw_key: token.value, f"generated {token.key}": "(absent)" if now is None else now},
        )
        for token, now in pending
    )
    keys = ", ".join(token.key for token, _ in pending)
    return [
        Finding(
            id="mp-restart-pending",
            severity="warning",
            cause="config",
            message=f"customer overrides not yet in {facts.generated.path} ({keys}): "
            "the message processor has not been restarted since they were set",
            evidence=evidence,
            remediation=f"{_service_cmd(apigee_root)} restart (one message processor at a time), "
            "then check again",
        )
    ]


def check_jce(facts: MessageProcessorFacts) -> list[Finding]:
    java = facts.java
    if java.crypto_policy != "limited":
        return []
    where = java.security_file or java.java_home or "?"
    return [
        Finding(
            id="jce-limited",
            severity="error",
            cause="jce",
            message=f"Java {java.version or '?'} at {java.java_home} runs with the LIMITED JCE policy: "
            "AES-256 cipher suites are unavailable, so servers that only offer them fail the handshake",
            evidence=(
                Evidence(where, None, {
                    "crypto.policy": java.crypto_policy_setting or "(unset)",
                    "evidence": java.crypto_policy_evidence,
                }),
            ),
            remediation=(
                f"set crypto.policy=unlimited in {where} and restart the message processor"
                if java.update is None or java.update >= 151 or (java.major or 0) >= 9
                else "this Java predates 8u151: install the JCE Unlimited Strength policy jars into "
                f"{java.java_home}/jre/lib/security (or upgrade Java), then restart the message processor"
            ),
        )
    ]


def check_message_processor(facts: MessageProcessorFacts, host_vars: dict[str, Any]) -> list[Finding]:
    root = str(host_vars.get("apigee_root", "/opt/apigee")).rstrip("/")
    findings: list[Finding] = []
    findings += unreadable(facts.customer)
    findings += unreadable(facts.generated)
    findings += properties_owner(facts.customer, "the message processor", _service_cmd(root))
    findings += check_sni(facts, root)
    findings += check_restart_pending(facts, root)
    findings += check_jce(facts)
    return findings
