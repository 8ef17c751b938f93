"""Message processor checks, as tables of facts → expected finding ids."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fixer.checks.mp import check_message_processor
from fixer.facts.model import FileStat, JavaFacts, MessageProcessorFacts, PropertiesFacts, PropertyEntry
from fixer.facts.properties import parse_properties, parse_tokens

CUSTOMER = "/opt/apigee/customer/application/message-processor.properties"
GENERATED = "/opt/apigee/edge-message-processor/conf/system.properties"
APIGEE = FileStat("apigee", "apigee", 0o644)
JAVA_OK = JavaFacts("/usr/lib/jvm/java-17", "process", "17.0.15", 17, None, None, "unlimited", None, "9+ default")


def mp(customer: str, generated: str, stat: FileStat = APIGEE, java: JavaFacts = JAVA_OK,
       customer_error: str | None = None) -> MessageProcessorFacts:
    c_entries = parse_properties(customer)
    g = PropertiesFacts(GENERATED, True, APIGEE, parse_properties(generated))
    sni = g.get("jsse.enableSNIExtension")
    return MessageProcessorFacts(
        customer=PropertiesFacts(CUSTOMER, True, stat, c_entries, customer_error),
        generated=g,
        tokens=parse_tokens(c_entries),
        java=java,
        sni_enabled=sni is not None and sni.value.strip().lower() == "true",
        https_protocols=None,
        client_protocols=None,
    )


SNI_ON = "conf_system_jsse.enableSNIExtension=true\n"
GEN_ON = "jsse.enableSNIExtension=true\n"

CASES = [
    ("healthy", mp(SNI_ON, GEN_ON), set()),
    ("plus form", mp("conf/system.properties+jsse.enableSNIExtension=true\n", GEN_ON), set()),
    ("healthy with other tokens", mp(SNI_ON + "conf_system_https.protocols=TLSv1.2\n",
                                     GEN_ON + "https.protocols=TLSv1.2\n"), set()),
    ("no override at all", mp("# nothing\n", ""), {"mp-sni-disabled"}),
    ("explicit false", mp("conf_system_jsse.enableSNIExtension=false\n", "jsse.enableSNIExtension=false\n"),
     {"mp-sni-disabled"}),
    ("TRUE is true (Boolean.parseBoolean)", mp("conf_system_jsse.enableSNIExtension=TRUE\n",
                                                "jsse.enableSNIExtension=TRUE\n"), set()),
    ("restart pending", mp(SNI_ON, ""), {"mp-restart-pending"}),
    ("restart pending on another token", mp(SNI_ON + "conf_system_https.protocols=TLSv1.2\n", GEN_ON),
     {"mp-restart-pending"}),
    ("last token wins", mp("conf_system_jsse.enableSNIExtension=true\nconf_system_jsse.enableSNIExtension=false\n",
                           "jsse.enableSNIExtension=false\n"), {"mp-sni-disabled"}),
    ("owner root", mp(SNI_ON, GEN_ON, FileStat("root", "root", 0o600)), {"properties-owner"}),
    ("group wrong", mp(SNI_ON, GEN_ON, FileStat("apigee", "root", 0o644)), {"properties-owner"}),
    ("jce limited", mp(SNI_ON, GEN_ON, java=replace(JAVA_OK, crypto_policy="limited", major=8, update=161)),
     {"jce-limited"}),
    ("jce unknown is not a finding", mp(SNI_ON, GEN_ON, java=replace(JAVA_OK, crypto_policy="unknown")), set()),
    ("unreadable customer file", mp("", GEN_ON, customer_error="permission denied"), {"facts-unreadable"}),
    ("several at once", mp("", "", FileStat("root", "root", 0o600),
                           replace(JAVA_OK, crypto_policy="limited")),
     {"mp-sni-disabled", "properties-owner", "jce-limited"}),
]


@pytest.mark.parametrize(("label", "facts", "expected"), CASES, ids=[c[0] for c in CASES])
def test_mp_checks(label: str, facts: MessageProcessorFacts, expected: set[str]) -> None:
    findings = check_message_processor(facts, {})
    assert {f.id for f in findings} == expected


def test_sni_finding_carries_evidence_and_remediation() -> None:
    (finding,) = check_message_processor(mp("conf_system_jsse.enableSNIExtension=false\n",
                                            "a=b\njsse.enableSNIExtension=false\n"), {"apigee_root": "/srv/ap"})
    assert finding.severity == "error" and finding.cause == "sni"
    assert finding.evidence[0].file == GENERATED and finding.evidence[0].line == 2
    assert finding.evidence[1].file == CUSTOMER and finding.evidence[1].line == 1
    assert "conf_system_jsse.enableSNIExtension=true" in finding.remediation
    assert "/srv/ap/apigee-service/bin/apigee-service edge-message-processor restart" in finding.remediation


def test_restart_pending_names_each_token() -> None:
    (finding,) = check_message_processor(
        mp(SNI_ON + "conf_system_https.protocols=TLSv1.2\n", "jsse.enableSNIExtension=true\n"), {}
    )
    assert [e.line for e in finding.evidence] == [2]
    assert finding.evidence[0].values["generated https.protocols"] == "(absent)"


def test_pre_8u151_jce_remediation_says_install_jars() -> None:
    java = replace(JAVA_OK, crypto_policy="limited", major=8, update=144, version="1.8.0_144")
    (finding,) = check_message_processor(mp(SNI_ON, GEN_ON, java=java), {})
    assert "predates 8u151" in finding.remediation


def test_missing_customer_file_is_fine_when_generated_is_right() -> None:
    facts = replace(mp("", GEN_ON), customer=PropertiesFacts(CUSTOMER, False))
    assert check_message_processor(facts, {}) == []


def test_entry_lookup_last_wins() -> None:
    props = PropertiesFacts("p", True, None, (PropertyEntry("a", "1", 1), PropertyEntry("a", "2", 2)))
    assert props.get("a") == PropertyEntry("a", "2", 2)
