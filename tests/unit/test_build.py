"""Fact assembly from the batched read's sections (pure: no SSH, no node)."""

from __future__ import annotations

import base64
import io
import zipfile

from fixer.errors import ParseError
from fixer.facts.build import mp_facts, router_facts
from fixer.facts.gather import Section
from fixer.inventory.model import Host

MP = Host("mp1", ("message_processors",), {})
RT = Host("rt1", ("routers",), {})
CONF = "/opt/nginx/conf.d/0-default.conf"
NGINX = """server {
    listen 443 ssl;
    server_name api.example.com;
    ssl_protocols TLSv1.2;
    ssl_ciphers 'ECDHE-RSA-AES256-GCM-SHA384';
}
server {
    listen 9001;
}
"""
OPENSSL_OUT = ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 - ECDHE-RSA-AES256-GCM-SHA384 TLSv1.2 Kx=ECDH Au=RSA "
               "Enc=AESGCM(256) Mac=AEAD\n")


def sec(name: str, body: str, rc: int | None = 0, arg: str = "") -> Section:
    return Section(name, arg, body, rc)


def test_mp_effective_values_and_missing_files() -> None:
    facts = mp_facts(MP, [
        sec("customer.stat", "No such file or directory\n", 1),
        sec("customer.content", "cat: x: No such file or directory\n", 1),
        sec("generated.stat", "apigee apigee 644 999 998\n"),
        sec("generated.content", "https.protocols=TLSv1.2, TLSv1.3\njsse.enableSNIExtension=true\n"),
        sec("java.home", "path /usr/lib/jvm/java-17\n"),
        sec("java.release", 'JAVA_VERSION="17.0.15"\n'),
        sec("java.security", "jdk.tls.disabledAlgorithms=SSLv3, TLSv1, \\\n    TLSv1.1\n",
            arg="/usr/lib/jvm/java-17/conf/security/java.security"),
        sec("java.policydirs", "limited\nunlimited\n"),
    ])
    assert facts.customer.exists is False and facts.customer.error is None
    assert facts.sni_enabled is True
    assert facts.https_protocols == ("TLSv1.2", "TLSv1.3")
    assert facts.java.major == 17 and facts.java.source == "path"
    assert facts.java.disabled_algorithms == ("SSLv3", "TLSv1", "TLSv1.1")
    assert facts.java.crypto_policy == "unlimited"


def test_mp_permission_denied_is_recorded_not_fatal() -> None:
    facts = mp_facts(MP, [
        sec("customer.stat", "root root 600 0 0\n"),
        sec("customer.content", "cat: /x: Permission denied\n", 1),
    ])
    assert facts.customer.exists and facts.customer.error == "permission denied"
    assert facts.java.java_home is None and facts.java.source == "none"


def test_mp_bad_properties_escape_is_an_error_on_that_file() -> None:
    facts = mp_facts(MP, [sec("customer.stat", "apigee apigee 644 1 1\n"), sec("customer.content", "a=\\uZZZZ\n")])
    assert facts.customer.error is not None and "properties" in facts.customer.error


def test_mp_sni_default_is_a_host_var() -> None:
    host = Host("mp1", ("message_processors",), {"fixer_mp_sni_default": "true"})
    assert mp_facts(host, []).sni_enabled is True
    assert mp_facts(MP, []).sni_enabled is False


def test_pre_8u151_policy_jar_is_decoded() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as jar:
        jar.writestr("default_local.policy",
                     'grant {\n    permission javax.crypto.CryptoPermission "DES", 64;\n'
                     '    permission javax.crypto.CryptoPermission "*", 128;\n};\n')
    facts = mp_facts(MP, [
        sec("java.home", "inventory /opt/jdk8u144\n"),
        sec("java.release", 'JAVA_VERSION="1.8.0_144"\n'),
        sec("java.security", "x=1\n", arg="/opt/jdk8u144/jre/lib/security/java.security"),
        sec("java.policydirs", "ls: cannot access: No such file or directory\n", 2),
        sec("java.localpolicy", base64.encodebytes(buf.getvalue()).decode(),
            arg="/opt/jdk8u144/jre/lib/security/local_policy.jar"),
    ])
    assert (facts.java.update, facts.java.crypto_policy) == (144, "limited")


def test_router_uses_the_nodes_expansion_first() -> None:
    calls: list[str] = []

    def local(cipher_string: str) -> tuple[str, ...]:
        calls.append(cipher_string)
        return ("FROM_CONTROL",)

    facts = router_facts(RT, [
        sec("nginx.version", "nginx version: nginx/1.22.1\n"),
        sec("conf.file", NGINX, arg=CONF),
        sec("openssl.ciphers", OPENSSL_OUT, arg="ECDHE-RSA-AES256-GCM-SHA384"),
    ], local)
    ssl, plain = facts.servers
    assert ssl.ssl and ssl.effective_ciphers == ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",)
    assert ssl.cipher_expansion == "node"
    assert not plain.ssl and plain.ssl_protocols == ("TLSv1", "TLSv1.1", "TLSv1.2")  # nginx 1.22 default
    assert plain.cipher_expansion == "control" and calls == ["HIGH:!aNULL:!MD5"]
    assert facts.conf_files == (CONF,)


def test_router_falls_back_to_control_openssl_and_reports_failures() -> None:
    def local(cipher_string: str) -> tuple[str, ...]:
        raise ParseError("no cipher match")

    facts = router_facts(RT, [sec("conf.file", NGINX, arg=CONF),
                              sec("openssl.ciphers", "garbage\n", arg="ECDHE-RSA-AES256-GCM-SHA384")], local)
    assert facts.servers[0].cipher_expansion.startswith("failed: ")
    assert facts.servers[0].effective_ciphers == ()


def test_router_unreadable_conf_and_syntax_errors_are_listed() -> None:
    facts = router_facts(RT, [
        sec("conf.dir", "ls: cannot open directory: Permission denied\n", 2, arg="/opt/nginx/conf.d"),
        sec("conf.file", "server { listen 443 ssl;\n", arg=CONF),
    ], lambda c: ())
    assert any("Permission denied" in e or "permission denied" in e for e in facts.parse_errors)
    assert any(e.startswith(CONF) for e in facts.parse_errors)
