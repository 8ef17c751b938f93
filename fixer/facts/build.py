"""Pure assembly of typed facts from the sections of the batched read."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import asdict

from fixer.errors import ParseError
from fixer.facts.gather import Section
from fixer.facts.java import (
    decide_crypto_policy,
    java_major_update,
    parse_disabled_algorithms,
    parse_java_release,
    parse_java_security,
    parse_java_version_output,
)
from fixer.facts.model import (
    JavaFacts,
    MessageProcessorFacts,
    NginxServer,
    PropertiesFacts,
    RouterFacts,
)
from fixer.facts.nginx import (
    NGINX_DEFAULT_CIPHERS,
    nginx_default_protocols,
    parse_nginx_files,
    parse_nginx_version,
)
from fixer.facts.openssl import parse_openssl_ciphers_stdname
from fixer.facts.properties import parse_properties, parse_stat, parse_tokens
from fixer.inventory.model import Host

# expands a cipher string on the control machine when the node could not (no openssl there)
LocalExpander = Callable[[str], tuple[str, ...]]

SNI_KEY = "jsse.enableSNIExtension"


def _one(sections: Sequence[Section], name: str) -> Section | None:
    for section in sections:
        if section.name == name:
            return section
    return None


def _read_error(body: str) -> str:
    text = body.strip().splitlines()
    last = text[-1] if text else "unreadable"
    if "No such file" in last:
        return "missing"
    if "Permission denied" in last:
        return "permission denied"
    return last


def properties_facts(sections: Sequence[Section], prefix: str, path: str) -> PropertiesFacts:
    stat_sec = _one(sections, f"{prefix}.stat")
    content = _one(sections, f"{prefix}.content")
    if stat_sec is None or stat_sec.rc != 0:
        reason = _read_error(stat_sec.body) if stat_sec else "not read"
        return PropertiesFacts(path=path, exists=False, error=None if reason == "missing" else reason)
    try:
        stat = parse_stat(stat_sec.body)
    except ParseError as exc:
        return PropertiesFacts(path=path, exists=True, error=f"unexpected stat output: {exc}")
    if content is None or content.rc != 0:
        reason = _read_error(content.body) if content else "not read"
        return PropertiesFacts(path=path, exists=True, stat=stat, error=reason)
    try:
        entries = parse_properties(content.body)
    except ParseError as exc:
        return PropertiesFacts(path=path, exists=True, stat=stat, error=f"not a valid .properties file: {exc}")
    return PropertiesFacts(path=path, exists=True, stat=stat, entries=entries)


def _bool(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "true"  # java.lang.Boolean.parseBoolean


def _list(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(p.strip() for p in value.split(",") if p.strip())


def java_facts(sections: Sequence[Section]) -> JavaFacts:
    home_sec = _one(sections, "java.home")
    src, _, home = (home_sec.body.strip() if home_sec else "none ").partition(" ")
    if not home:
        return JavaFacts(java_home=None, source="none", crypto_policy_evidence="no Java found on the node")
    version = None
    release = _one(sections, "java.release")
    if release is not None and release.rc == 0:
        version = parse_java_release(release.body)
    version_out = _one(sections, "java.version")
    if version is None and version_out is not None:
        version = parse_java_version_output(version_out.body)
    major, update = java_major_update(version) if version else (None, None)
    security = _one(sections, "java.security")
    props: dict[str, str] = {}
    if security is not None and security.rc == 0:
        props = parse_java_security(security.body)
    dirs_sec = _one(sections, "java.policydirs")
    policy_dirs = (
        [d.strip() for d in dirs_sec.body.splitlines() if d.strip()] if dirs_sec and dirs_sec.rc == 0 else []
    )
    jar_sec = _one(sections, "java.localpolicy")
    jar: bytes | None = None
    if jar_sec is not None and jar_sec.rc == 0:
        try:
            jar = base64.b64decode("".join(jar_sec.body.split()), validate=True)
        except (binascii.Error, ValueError):
            jar = None
    setting = props.get("crypto.policy")
    policy, evidence = decide_crypto_policy(major, update, setting, policy_dirs, jar)
    disabled = props.get("jdk.tls.disabledAlgorithms")
    return JavaFacts(
        java_home=home,
        source=src,
        version=version,
        major=major,
        update=update,
        security_file=security.arg if security else None,
        crypto_policy=policy,
        crypto_policy_setting=setting,
        crypto_policy_evidence=evidence,
        disabled_algorithms=parse_disabled_algorithms(disabled) if disabled is not None else None,
    )


def mp_facts(host: Host, sections: Sequence[Section]) -> MessageProcessorFacts:
    root = host.apigee_root
    customer = properties_facts(
        sections, "customer", f"{root}/customer/application/message-processor.properties"
    )
    generated = properties_facts(sections, "generated", f"{root}/edge-message-processor/conf/system.properties")

    def effective(key: str) -> str | None:
        entry = generated.get(key)
        return entry.value if entry else None

    sni_default = str(host.vars.get("fixer_mp_sni_default", "false"))
    sni_value = effective(SNI_KEY)
    return MessageProcessorFacts(
        customer=customer,
        generated=generated,
        tokens=parse_tokens(customer.entries),
        java=java_facts(sections),
        sni_enabled=_bool(sni_value if sni_value is not None else sni_default),
        https_protocols=_list(effective("https.protocols")),
        client_protocols=_list(effective("jdk.tls.client.protocols")),
    )


def router_facts(host: Host, sections: Sequence[Section], expand_locally: LocalExpander) -> RouterFacts:
    root = host.apigee_root
    customer = properties_facts(sections, "customer", f"{root}/customer/application/router.properties")
    version_sec = _one(sections, "nginx.version")
    version = parse_nginx_version(version_sec.body) if version_sec else None
    default_protocols = tuple(
        str(host.vars["fixer_nginx_default_protocols"]).split()
    ) if "fixer_nginx_default_protocols" in host.vars else nginx_default_protocols(version)
    files = {s.arg: s.body for s in sections if s.name == "conf.file" and s.rc == 0}
    errors = [f"{s.arg}: {_read_error(s.body)}" for s in sections if s.name == "conf.file" and s.rc != 0]
    conf_dir_sec = _one(sections, "conf.dir")
    if conf_dir_sec is not None and conf_dir_sec.rc != 0:
        errors.append(f"{host.nginx_conf_dir}: {_read_error(conf_dir_sec.body)}")
    specs, parse_errors = parse_nginx_files(files, default_protocols, NGINX_DEFAULT_CIPHERS)
    node_expansions: dict[str, tuple[str, ...]] = {}
    for s in sections:
        if s.name == "openssl.ciphers" and s.rc == 0:
            try:
                node_expansions[s.arg] = tuple(iana for iana, _ in parse_openssl_ciphers_stdname(s.body))
            except ParseError:
                continue  # the control machine's OpenSSL expands it instead
    servers = []
    for spec in specs:
        if spec.ssl_ciphers in node_expansions:
            names, how = node_expansions[spec.ssl_ciphers], "node"
        else:
            try:
                names, how = expand_locally(spec.ssl_ciphers), "control"
            except ParseError as exc:
                names, how = (), f"failed: {exc}"
        servers.append(NginxServer(**asdict(spec), effective_ciphers=names, cipher_expansion=how))
    return RouterFacts(
        customer=customer,
        tokens=parse_tokens(customer.entries),
        conf_dir=host.nginx_conf_dir,
        conf_files=tuple(sorted(files)),
        servers=tuple(servers),
        nginx_version=version,
        parse_errors=tuple(errors + list(parse_errors)),
    )
