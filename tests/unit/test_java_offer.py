"""What an MP's Java offers a backend: protocols, cipher suites, disabledAlgorithms, TargetEndpoint <SSLInfo>."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fixer.bundles.parse import SSLInfo, parse_target_endpoint
from fixer.checks.java_offer import (
    JAVA_DEFAULT_PROTOCOLS,
    JAVA_DEFAULT_SUITES,
    TLS13_SUITES,
    ClientOffer,
    endpoint_offer,
    java_offer,
    suite_disabled,
    tls12_suites,
)
from fixer.facts.build import comma_list
from fixer.facts.model import FileStat, JavaFacts, MessageProcessorFacts, PropertiesFacts
from fixer.facts.properties import parse_properties, parse_tokens

GENERATED = "/opt/apigee/edge-message-processor/conf/system.properties"
APIGEE = FileStat("apigee", "apigee", 0o644)
# OpenJDK 17's default jdk.tls.disabledAlgorithms (java.security)
JDK17_DISABLED = ("SSLv3", "TLSv1", "TLSv1.1", "RC4", "DES", "MD5withRSA", "DH keySize < 1024",
                  "EC keySize < 224", "3DES_EDE_CBC", "anon", "NULL", "ECDH", "include jdk.disabled.namedCurves")
JAVA17 = JavaFacts("/usr/lib/jvm/java-17", "process", "17.0.15", 17, None, None, "unlimited", "", "",
                   JDK17_DISABLED)
JAVA8 = JavaFacts("/usr/lib/jvm/java-1.8.0", "process", "1.8.0_292", 8, 292, None, "unlimited", "", "",
                  ("SSLv3", "RC4", "DES", "MD5withRSA", "DH keySize < 1024", "EC keySize < 224", "3DES_EDE_CBC",
                   "anon", "NULL"))

ECDHE_RSA_128 = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
ECDHE_RSA_256 = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
RSA_128 = "TLS_RSA_WITH_AES_128_CBC_SHA"
RC4_SUITE = "TLS_RSA_WITH_RC4_128_SHA"
TRIPLE_DES = "TLS_RSA_WITH_3DES_EDE_CBC_SHA"


def facts(generated: str = "", *, java: JavaFacts = JAVA17, https: tuple[str, ...] | None = None,
          client: tuple[str, ...] | None = None) -> MessageProcessorFacts:
    entries = parse_properties(generated)
    props = PropertiesFacts(GENERATED, True, APIGEE, entries)

    def suites(key: str) -> tuple[str, ...] | None:  # as fixer.facts.build reads them
        entry = props.get(key)
        return comma_list(entry.value if entry else None)

    return MessageProcessorFacts(customer=PropertiesFacts("/c.properties", False), generated=props,
                                 tokens=parse_tokens(()), java=java, sni_enabled=True, https_protocols=https,
                                 client_protocols=client, https_cipher_suites=suites("https.cipherSuites"),
                                 client_cipher_suites=suites("jdk.tls.client.cipherSuites"))


def disabled(*entries: str, major: int = 17) -> JavaFacts:
    return replace(JAVA17, major=major, disabled_algorithms=entries)


OPEN = disabled()  # a java.security without jdk.tls.disabledAlgorithms entries


# -- protocols ----------------------------------------------------------------------------------------

PROTOCOL_CASES = [
    ("Java default", facts(), ("TLSv1.2", "TLSv1.3"), "Java default"),
    ("https.protocols", facts(https=("TLSv1", "TLSv1.2"), java=OPEN), ("TLSv1", "TLSv1.2"), "https.protocols"),
    ("jdk.tls.client.protocols", facts(client=("TLSv1.2",)), ("TLSv1.2",), "jdk.tls.client.protocols"),
    ("client beats https", facts(https=("TLSv1.3",), client=("TLSv1.1", "TLSv1.2"), java=OPEN), ("TLSv1.1", "TLSv1.2"),
     "jdk.tls.client.protocols"),
    ("empty client falls back to https", facts(https=("TLSv1.2",), client=()), ("TLSv1.2",), "https.protocols"),
    ("disabledAlgorithms removes", facts(https=("TLSv1", "TLSv1.1", "TLSv1.2")), ("TLSv1.2",), "https.protocols"),
    ("disabledAlgorithms removes defaults", facts(java=disabled("TLSv1.3")), ("TLSv1", "TLSv1.1", "TLSv1.2"),
     "Java default"),
    ("re-enabling TLSv1.1 in java.security counts", facts(java=disabled("SSLv3", "TLSv1")),
     ("TLSv1.1", "TLSv1.2", "TLSv1.3"), "Java default"),
    ("everything disabled", facts(client=("TLSv1",), java=disabled("TLSv1")), (), "jdk.tls.client.protocols"),
    ("no java.security read: a current JDK's defaults are assumed",
     facts(https=("TLSv1", "TLSv1.2"), java=replace(JAVA17, disabled_algorithms=None)), ("TLSv1.2",),
     "https.protocols"),
    ("entries are stripped", facts(https=("TLSv1", "TLSv1.2"), java=disabled("  TLSv1 ")), ("TLSv1.2",),
     "https.protocols"),
]


@pytest.mark.parametrize(("label", "mp", "protocols", "source"), PROTOCOL_CASES, ids=[c[0] for c in PROTOCOL_CASES])
def test_protocols(label: str, mp: MessageProcessorFacts, protocols: tuple[str, ...], source: str) -> None:
    offer = java_offer(mp)
    assert offer.protocols == protocols
    assert offer.protocol_source == source
    assert all(offer.allows(p) for p in protocols)


def test_disabled_protocols_in_protocol_order_whether_offered_or_not() -> None:
    offer = java_offer(facts(java=disabled("TLSv1.1", "RC4", "TLSv1", "SSLv3")))
    assert offer.disabled_protocols == ("TLSv1", "TLSv1.1")
    assert offer.protocols == ("TLSv1.2", "TLSv1.3")
    assert not offer.allows("TLSv1")


def test_disabled_entries_keep_the_non_protocol_entries() -> None:
    offer = java_offer(facts(java=disabled("TLSv1", " RC4 ", "", "DH keySize < 1024", "TLSv1.3")))
    assert offer.disabled_entries == ("RC4", "DH keySize < 1024")


def test_defaults_of_a_default_jdk17_are_untouched() -> None:
    # the default list already leaves out what the default java.security disables
    offer = java_offer(facts())
    assert offer.suites == JAVA_DEFAULT_SUITES
    assert offer.suite_source == "Java default"
    assert offer.protocols == ("TLSv1.2", "TLSv1.3")  # TLSv1 and TLSv1.1: in the defaults, disabled by java.security
    assert set(JAVA_DEFAULT_PROTOCOLS) >= {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}
    assert offer.disabled_protocols == ("TLSv1", "TLSv1.1")
    assert isinstance(offer, ClientOffer)


# -- suites -------------------------------------------------------------------------------------------

SUITE_CASES = [
    ("client cipherSuites", f"jdk.tls.client.cipherSuites={ECDHE_RSA_128},{ECDHE_RSA_256}\n",
     (ECDHE_RSA_128, ECDHE_RSA_256), "jdk.tls.client.cipherSuites"),
    ("https cipherSuites", f"https.cipherSuites={ECDHE_RSA_256}\n", (ECDHE_RSA_256,), "https.cipherSuites"),
    ("client beats https", f"https.cipherSuites={ECDHE_RSA_256}\njdk.tls.client.cipherSuites={RSA_128}\n",
     (RSA_128,), "jdk.tls.client.cipherSuites"),
    ("spaces and commas", f"https.cipherSuites= {ECDHE_RSA_128} ,  {ECDHE_RSA_256}  \n",
     (ECDHE_RSA_128, ECDHE_RSA_256), "https.cipherSuites"),
    ("empty client value falls through", f"jdk.tls.client.cipherSuites=\nhttps.cipherSuites={RSA_128}\n",
     (RSA_128,), "https.cipherSuites"),
    ("last entry wins", f"https.cipherSuites={RSA_128}\nhttps.cipherSuites={ECDHE_RSA_128}\n", (ECDHE_RSA_128,),
     "https.cipherSuites"),
    ("disabledAlgorithms filters listed suites", f"https.cipherSuites={RC4_SUITE},{TRIPLE_DES},{ECDHE_RSA_128}\n",
     (ECDHE_RSA_128,), "https.cipherSuites"),
    ("all listed suites disabled", f"https.cipherSuites={RC4_SUITE}\n", (), "https.cipherSuites"),
]


@pytest.mark.parametrize(("label", "generated", "suites", "source"), SUITE_CASES, ids=[c[0] for c in SUITE_CASES])
def test_suites_from_system_properties(label: str, generated: str, suites: tuple[str, ...], source: str) -> None:
    offer = java_offer(facts(generated))
    assert offer.suites == suites
    assert offer.suite_source == source


def test_empty_properties_mean_the_java_default() -> None:
    offer = java_offer(facts("jdk.tls.client.cipherSuites=\nhttps.cipherSuites= , \n"))
    assert offer.suites == JAVA_DEFAULT_SUITES and offer.suite_source == "Java default"


def test_java8_default_has_no_chacha20() -> None:
    offer = java_offer(facts(java=JAVA8))
    assert offer.suites
    assert not [s for s in offer.suites if "CHACHA20" in s]
    assert offer.suites == tuple(s for s in JAVA_DEFAULT_SUITES if "CHACHA20" not in s)
    assert [s for s in java_offer(facts()).suites if "CHACHA20" in s]  # Java 17 has them


def test_disabled_algorithms_remove_default_suites_keeping_order() -> None:
    offer = java_offer(facts(java=disabled("TLS_RSA_*", "DHE_DSS")))
    assert offer.suites
    assert not [s for s in offer.suites if s.startswith("TLS_RSA_") or "_DHE_DSS_" in s]
    assert offer.suites == tuple(s for s in JAVA_DEFAULT_SUITES if s in offer.suites)
    assert "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA" in offer.suites
    assert offer.disabled_entries == ("TLS_RSA_*", "DHE_DSS")


def test_ecdh_entry_keeps_ecdhe_default_suites() -> None:
    offer = java_offer(facts(java=disabled("ECDH")))
    assert offer.suites == JAVA_DEFAULT_SUITES


# -- suite_disabled -------------------------------------------------------------------------------------

DISABLED_CASES = [
    # (suite, entries, disabled)
    (RSA_128, [RSA_128], True),  # exact name, containing WITH
    (RSA_128, ["tls_rsa_with_aes_128_cbc_sha"], True),  # Java compares names case-insensitively
    ("TLS_RSA_WITH_AES_256_CBC_SHA", [RSA_128], False),
    (RSA_128, ["TLS_RSA_*"], True),
    ("TLS_RSA_WITH_AES_256_GCM_SHA384", ["TLS_RSA_*"], True),
    (ECDHE_RSA_128, ["TLS_RSA_*"], False),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", ["TLS_*_CBC_*"], True),
    (RC4_SUITE, ["RC4"], True),
    ("TLS_ECDHE_RSA_WITH_RC4_128_SHA", ["rc4"], True),
    (TRIPLE_DES, ["3DES_EDE_CBC"], True),
    (TRIPLE_DES, ["DES"], False),  # DES is not a token of 3DES_EDE_CBC
    ("TLS_RSA_WITH_DES_CBC_SHA", ["DES"], True),
    ("TLS_RSA_WITH_AES_128_CBC_SHA256", ["DES"], False),
    ("TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", ["ECDH"], True),
    ("TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", ["ECDH"], True),
    (ECDHE_RSA_128, ["ECDH"], False),  # ECDH must not match ECDHE
    ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", ["ECDH"], False),
    ("TLS_DH_anon_WITH_AES_128_CBC_SHA", ["anon"], True),
    ("TLS_ECDH_anon_WITH_AES_128_CBC_SHA", ["anon"], True),
    ("TLS_RSA_WITH_NULL_SHA256", ["NULL"], True),
    ("TLS_ECDHE_ECDSA_WITH_NULL_SHA", ["NULL"], True),
    (ECDHE_RSA_128, ["NULL", "anon", "RC4"], False),
    ("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", ["DH keySize < 1024"], False),  # constraint, not the DH token
    ("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", ["DH keySize<1024"], False),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", ["EC keySize < 224"], False),
    ("TLS_RSA_WITH_RC4_128_MD5", ["MD5withRSA"], False),  # a signature algorithm, not the MD5 token
    (ECDHE_RSA_128, ["SHA1withECDSA", "SHA256withRSA"], False),
    ("TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", ["include jdk.disabled.namedCurves"], False),
    (ECDHE_RSA_128, ["SHA1 jdkCA & usage TLSServer"], False),
    (ECDHE_RSA_128, ["SHA1 usage SignedJAR & denyAfter 2019-01-01"], False),
    (RSA_128, ["TLSv1", "TLSv1.2", "SSLv3", "DTLSv1.0"], False),  # protocol entries never remove suites
    (RSA_128, ["", "   "], False),
    (RSA_128, [], False),
    (RSA_128, [" RC4 ", f"  {RSA_128}  "], True),  # entries are stripped
    ("TLS_AES_128_GCM_SHA256", ["AES_128_GCM"], True),  # a multi-token component
    ("TLS_AES_128_GCM_SHA256", ["AES_128"], True),
    ("TLS_AES_256_GCM_SHA384", ["AES_128"], False),
    ("TLS_CHACHA20_POLY1305_SHA256", ["CHACHA20"], True),
]


@pytest.mark.parametrize(("suite", "entries", "expected"), DISABLED_CASES,
                         ids=[f"{c[0]}-{'|'.join(c[1]) or 'none'}" for c in DISABLED_CASES])
def test_suite_disabled(suite: str, entries: list[str], expected: bool) -> None:
    assert suite_disabled(suite, entries) is expected


def test_suite_disabled_accepts_any_iterable() -> None:
    assert suite_disabled(RC4_SUITE, (e for e in ["DH keySize < 1024", "RC4"]))
    assert not suite_disabled(RC4_SUITE, iter(()))


# -- endpoint_offer -----------------------------------------------------------------------------------

def ssl_info(inner: str) -> SSLInfo:
    xml = (f'<TargetEndpoint name="t"><HTTPTargetConnection><SSLInfo><Enabled>true</Enabled>{inner}</SSLInfo>'
           "<URL>https://b.example.com/</URL></HTTPTargetConnection></TargetEndpoint>").encode()
    ssl = parse_target_endpoint(xml, "/b/apiproxy/targets/t.xml", bundle="/b").ssl
    assert ssl is not None
    return ssl


def protocols_xml(*names: str) -> str:
    return "<Protocols>" + "".join(f"<Protocol>{n}</Protocol>" for n in names) + "</Protocols>"


def ciphers_xml(*names: str) -> str:
    return "<Ciphers>" + "".join(f"<Cipher>{n}</Cipher>" for n in names) + "</Ciphers>"


BASE = java_offer(facts(f"https.cipherSuites={ECDHE_RSA_128}\n", https=("TLSv1.2",)))


def test_endpoint_without_ssl_info_is_the_java_offer() -> None:
    assert endpoint_offer(BASE, None, "TargetEndpoint t") is BASE


def test_ssl_info_without_lists_keeps_the_java_offer() -> None:
    assert endpoint_offer(BASE, ssl_info(""), "TargetEndpoint t") == BASE
    assert endpoint_offer(BASE, ssl_info("<Protocols/><Ciphers/>"), "TargetEndpoint t") == BASE


def test_ssl_info_protocols_replace_the_java_protocols() -> None:
    base = java_offer(facts(f"https.cipherSuites={ECDHE_RSA_128}\n", https=("TLSv1.2",), java=OPEN))
    offer = endpoint_offer(base, ssl_info(protocols_xml("TLSv1.1", "TLSv1.3")), "TargetEndpoint t")
    assert offer.protocols == ("TLSv1.1", "TLSv1.3")  # not narrowed by https.protocols, only by disabledAlgorithms
    assert offer.protocol_source == "<SSLInfo><Protocols> of TargetEndpoint t"
    assert offer.suites == base.suites and offer.suite_source == "https.cipherSuites"


def test_ssl_info_protocols_still_lose_the_disabled_ones() -> None:
    base = java_offer(facts(java=disabled("TLSv1", "TLSv1.1")))
    offer = endpoint_offer(base, ssl_info(protocols_xml("TLSv1", "TLSv1.1", "TLSv1.2")), "TargetEndpoint legacy")
    assert offer.protocols == ("TLSv1.2",)
    assert offer.disabled_protocols == ("TLSv1", "TLSv1.1")
    only_disabled = endpoint_offer(base, ssl_info(protocols_xml("TLSv1")), "TargetEndpoint legacy")
    assert only_disabled.protocols == ()
    assert not only_disabled.allows("TLSv1")


def test_ssl_info_ciphers_replace_the_suites_minus_disabled() -> None:
    base = java_offer(facts(java=disabled("RC4", "3DES_EDE_CBC", "TLSv1")))
    offer = endpoint_offer(base, ssl_info(ciphers_xml(RC4_SUITE, RSA_128, TRIPLE_DES, ECDHE_RSA_256)),
                           "TargetEndpoint t")
    assert offer.suites == (RSA_128, ECDHE_RSA_256)
    assert offer.suite_source == "<SSLInfo><Ciphers> of TargetEndpoint t"
    assert offer.protocols == base.protocols and offer.protocol_source == "Java default"


def test_ssl_info_with_both_lists() -> None:
    offer = endpoint_offer(BASE, ssl_info(ciphers_xml(RSA_128) + protocols_xml("TLSv1.2")), "TargetEndpoint t")
    assert (offer.protocols, offer.suites) == (("TLSv1.2",), (RSA_128,))
    assert "Protocols" in offer.protocol_source and "Ciphers" in offer.suite_source


def test_endpoint_offer_with_a_hand_made_ssl_info() -> None:
    ssl = SSLInfo(line=None, protocols=("TLSv1",), ciphers=("TLS_RSA_WITH_NULL_SHA256", RSA_128))
    base = java_offer(facts(java=disabled("NULL")))
    offer = endpoint_offer(base, ssl, "x")
    assert offer.protocols == ("TLSv1",) and offer.suites == (RSA_128,)


# -- tls12_suites -------------------------------------------------------------------------------------

TLS12_CASES = [
    ((), ()),
    (("TLS_AES_128_GCM_SHA256", ECDHE_RSA_128), (ECDHE_RSA_128,)),
    ((ECDHE_RSA_256, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", RSA_128), (ECDHE_RSA_256, RSA_128)),
    (tuple(sorted(TLS13_SUITES)), ()),
    ((RSA_128, ECDHE_RSA_128), (RSA_128, ECDHE_RSA_128)),
]


@pytest.mark.parametrize(("suites", "expected"), TLS12_CASES)
def test_tls12_suites(suites: tuple[str, ...], expected: tuple[str, ...]) -> None:
    assert tls12_suites(suites) == expected
    assert tls12_suites(list(suites)) == expected


def test_tls12_suites_of_the_java_default() -> None:
    out = tls12_suites(JAVA_DEFAULT_SUITES)
    assert len(out) == len(JAVA_DEFAULT_SUITES) - 3
    assert not set(out) & TLS13_SUITES
