"""Pure assembly of typed facts from the sections of the batched read."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict

from fixer.errors import ParseError
from fixer.facts.gather import CERT_FILE_LIMIT, Section
from fixer.facts.java import (
    decide_crypto_policy,
    java_major_update,
    parse_disabled_algorithms,
    parse_java_release,
    parse_java_security,
    parse_java_version_output,
)
from fixer.facts.model import (
    CertificateFile,
    DirectiveLine,
    JavaFacts,
    KeyFile,
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


def comma_list(value: str | None) -> tuple[str, ...] | None:
    """A Java list property (`https.protocols`, `jdk.tls.client.cipherSuites`...): comma separated, trimmed."""
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
        https_protocols=comma_list(effective("https.protocols")),
        client_protocols=comma_list(effective("jdk.tls.client.protocols")),
        https_cipher_suites=comma_list(effective("https.cipherSuites")),
        client_cipher_suites=comma_list(effective("jdk.tls.client.cipherSuites")),
    )


INLINE_KEY = "data:(inline private key, not shown)"
INLINE_CERT_WITH_KEY = "data:(inline certificate with a private key, not shown)"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _not_read(path: str) -> str | None:
    """Why the router script skips a path (see gather._ROUTER), or None when it reads it."""
    if path.startswith("engine:"):
        return "an OpenSSL engine key: not read"
    if "$" in path:
        return "the path uses nginx variables: not read"
    return None


def certificate_file(path: str, section: Section | None) -> CertificateFile:
    """An ssl_certificate file from its `cert.file` section: `size N` then its CERTIFICATE blocks."""
    if path == INLINE_CERT_WITH_KEY:
        return CertificateFile(path, None, "an inline certificate (data:) holding a private key: not kept")
    if path.startswith("data:"):
        return CertificateFile(path, path.removeprefix("data:"))
    skipped = _not_read(path)
    if skipped is not None or section is None:
        return CertificateFile(path, None, skipped or "not read by the fact script")
    first, _, rest = section.body.partition("\n")
    size: int | None = None
    if first.startswith("size "):
        try:
            size = int(first.removeprefix("size ").strip())
        except ValueError:
            size = None
    else:
        rest = section.body
    if section.rc == 3:
        return CertificateFile(path, None, f"larger than {CERT_FILE_LIMIT} bytes: not read", size)
    if section.rc != 0:
        return CertificateFile(path, None, _read_error(section.body), size)
    if "PRIVATE KEY" in rest:  # never kept, whatever the node sent
        return CertificateFile(path, None, "unexpected PRIVATE KEY text among the certificate blocks: not kept", size)
    if "-----BEGIN" not in rest:
        return CertificateFile(path, rest, "no PEM CERTIFICATE block in the file", size)
    return CertificateFile(path, rest, None, size)


def key_file(path: str, section: Section | None) -> KeyFile:
    """An ssl_certificate_key file from its `key.digest` section: the public key's SHA-256, or why not."""
    if path.startswith("data:"):
        return KeyFile(INLINE_KEY, None, "an inline key (data:) in the configuration: not checked")
    skipped = _not_read(path)
    if skipped is not None or section is None:
        return KeyFile(path, None, skipped or "not read by the fact script")
    text = section.body.strip()
    if section.rc == 0 and _SHA256_HEX.fullmatch(text):
        return KeyFile(path, text)
    if section.rc == 0:
        return KeyFile(path, None, "unexpected output of the key digest")
    if "No such file" in text:
        return KeyFile(path, None, "missing")
    if "Permission denied" in text:
        return KeyFile(path, None, "permission denied")
    lines = text.splitlines()
    first = lines[0][:200] if lines else f"exit status {section.rc}"
    return KeyFile(path, None, f"cannot read the key with openssl (encrypted, or not a key?): {first}")


_CERT_DIRECTIVES = ("ssl_certificate", "ssl_certificate_key")


def _tokens(text: str) -> list[tuple[str, int, bool]]:
    """nginx conf tokens (word, line, quoted): words (quotes removed), `{`, `}` and `;`; comments dropped."""
    out: list[tuple[str, int, bool]] = []
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c in "{};":
            out.append((c, line, False))
            i += 1
        elif c in "\"'":
            start, j = line, i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            word = text[i + 1:j]
            line += word.count("\n")
            out.append((word, start, True))
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "{};\"'":
                j += 1
            out.append((text[i:j], line, False))
            i = j
    return out


def directive_lines(text: str) -> dict[tuple[int | None, str], int]:
    """Line of the last ssl_certificate / ssl_certificate_key statement of each `server {}` block (keyed by
    the line of its `server` word, as crossplane numbers it) and of the file's top level (key None)."""
    found: dict[tuple[int | None, str], int] = {}
    stack: list[tuple[str, int]] = []  # enclosing blocks: (directive, line)
    statement: list[tuple[str, int]] = []
    for word, line, quoted in _tokens(text):
        if quoted:
            statement.append((word, line))
        elif word == "{":
            stack.append(statement[0] if statement else ("", line))
            statement = []
        elif word == "}":
            if stack:
                stack.pop()
            statement = []
        elif word == ";":
            if statement and statement[0][0] in _CERT_DIRECTIVES:
                if not stack:
                    found[(None, statement[0][0])] = statement[0][1]
                elif stack[-1][0] == "server" and len(stack) == 1:
                    found[(stack[-1][1], statement[0][0])] = statement[0][1]
            statement = []
        else:
            statement.append((word, line))
    return found


def _directive_lines(servers: Sequence[NginxServer], files: Mapping[str, str]) -> tuple[DirectiveLine, ...]:
    lines = {path: directive_lines(text) for path, text in files.items()}
    out = []
    for server in servers:
        if not server.ssl:
            continue
        found = lines.get(server.file, {})
        for name in _CERT_DIRECTIVES:
            line = found.get((server.line, name), found.get((None, name)))
            if line is not None:
                out.append(DirectiveLine(server.file, server.line, name, line))
    return tuple(out)


def _router_tls_files(
    servers: Sequence[NginxServer], sections: Sequence[Section]
) -> tuple[tuple[CertificateFile, ...], tuple[KeyFile, ...]]:
    certs = {s.arg: s for s in sections if s.name == "cert.file"}
    keys = {s.arg: s for s in sections if s.name == "key.digest"}
    cert_paths = sorted({s.ssl_certificate for s in servers if s.ssl and s.ssl_certificate})
    key_paths = sorted({s.ssl_certificate_key for s in servers if s.ssl and s.ssl_certificate_key})
    return (
        tuple(certificate_file(p, certs.get(p)) for p in cert_paths),
        tuple(key_file(p, keys.get(p)) for p in key_paths),
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
        fields = asdict(spec)
        if (spec.ssl_certificate_key or "").startswith("data:"):
            fields["ssl_certificate_key"] = INLINE_KEY  # a private key written into the conf is never kept
        if (spec.ssl_certificate or "").startswith("data:") and "PRIVATE KEY" in (spec.ssl_certificate or ""):
            fields["ssl_certificate"] = INLINE_CERT_WITH_KEY
        servers.append(NginxServer(**fields, effective_ciphers=names, cipher_expansion=how))
    certificates, keys = _router_tls_files(servers, sections)
    return RouterFacts(
        customer=customer,
        tokens=parse_tokens(customer.entries),
        conf_dir=host.nginx_conf_dir,
        conf_files=tuple(sorted(files)),
        servers=tuple(servers),
        nginx_version=version,
        parse_errors=tuple(errors + list(parse_errors)),
        directive_lines=_directive_lines(servers, files),
        certificates=certificates,
        keys=keys,
    )
