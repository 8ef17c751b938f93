"""Typed facts of one node. Frozen dataclasses, built by the pure parsers in this package."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileStat:
    owner: str
    group: str
    mode: int  # permission bits, e.g. 0o644

    @property
    def mode_text(self) -> str:
        return f"{self.mode:04o}"


@dataclass(frozen=True)
class PropertyEntry:
    """One `key=value` of a Java .properties file (logical line, continuations joined)."""

    key: str
    value: str
    line: int  # 1-based line where the entry starts


@dataclass(frozen=True)
class Token:
    """An Apigee customer override token: `conf_<file>_<key>=v` or `conf/<file>.properties+<key>=v`."""

    file: str  # generated file stem, e.g. "system" for conf/system.properties
    key: str  # key inside that file, e.g. "jsse.enableSNIExtension"
    value: str
    line: int
    raw_key: str  # the key as written in the customer file


@dataclass(frozen=True)
class PropertiesFacts:
    """A remote .properties file: whether it exists, its owner/mode, and its entries."""

    path: str
    exists: bool
    stat: FileStat | None = None
    entries: tuple[PropertyEntry, ...] = ()
    error: str | None = None  # e.g. "permission denied" when the file could not be read

    def get(self, key: str) -> PropertyEntry | None:
        """Last occurrence wins, as java.util.Properties does."""
        found = None
        for entry in self.entries:
            if entry.key == key:
                found = entry
        return found


@dataclass(frozen=True)
class JavaFacts:
    java_home: str | None
    source: str  # how JAVA_HOME was found: "inventory", "process", "env", "path", "none"
    version: str | None = None  # e.g. "1.8.0_151" or "17.0.15"
    major: int | None = None  # 8, 11, 17, 21 ...
    update: int | None = None  # the 151 of 8u151, None on 9+
    security_file: str | None = None
    crypto_policy: str = "unknown"  # "limited" | "unlimited" | "unknown"
    crypto_policy_setting: str | None = None  # the crypto.policy= value, if any
    crypto_policy_evidence: str = ""
    disabled_algorithms: tuple[str, ...] | None = None  # jdk.tls.disabledAlgorithms from java.security


@dataclass(frozen=True)
class MessageProcessorFacts:
    customer: PropertiesFacts  # <apigee_root>/customer/application/message-processor.properties
    generated: PropertiesFacts  # <apigee_root>/edge-message-processor/conf/system.properties
    tokens: tuple[Token, ...]  # the customer file's override tokens
    java: JavaFacts
    # effective values (generated system.properties; java.security for disabledAlgorithms)
    sni_enabled: bool
    https_protocols: tuple[str, ...] | None
    client_protocols: tuple[str, ...] | None
    role: str = "message_processor"
    https_cipher_suites: tuple[str, ...] | None = None  # https.cipherSuites
    client_cipher_suites: tuple[str, ...] | None = None  # jdk.tls.client.cipherSuites


@dataclass(frozen=True)
class NginxServer:
    """One `server { }` block of a generated nginx conf file, with inherited http-level SSL settings."""

    file: str
    line: int
    listen: tuple[str, ...]
    server_name: tuple[str, ...]
    ssl: bool  # a listen has `ssl` or `ssl on`
    ssl_protocols: tuple[str, ...]
    ssl_protocols_line: int | None  # None when inherited from nginx's default
    ssl_protocols_source: str  # "server" | "file" | "default"
    ssl_ciphers: str
    ssl_ciphers_line: int | None
    ssl_ciphers_source: str
    ssl_certificate: str | None
    ssl_certificate_key: str | None
    effective_ciphers: tuple[str, ...]  # IANA names, expanded with OpenSSL
    cipher_expansion: str  # "node" | "control" | "failed: <why>"


@dataclass(frozen=True)
class DirectiveLine:
    """Where the `ssl_certificate` or `ssl_certificate_key` a TLS server block uses is written: in the block
    itself or at its file's top level."""

    file: str
    server_line: int  # NginxServer.line of the block
    directive: str  # "ssl_certificate" | "ssl_certificate_key"
    line: int


@dataclass(frozen=True)
class CertificateFile:
    """An `ssl_certificate` file of a TLS server block, read on the node: only its CERTIFICATE blocks
    (a public chain) leave the node; a private key kept in the same file is filtered out there."""

    path: str  # as written in the conf (relative paths are read against the nginx conf prefix)
    pem: str | None  # the file's certificate blocks, in file order; None when it could not be read
    error: str | None = None  # "missing", "permission denied", "larger than 262144 bytes", ...
    size: int | None = None  # bytes of the whole file


@dataclass(frozen=True)
class KeyFile:
    """An `ssl_certificate_key` file: only the SHA-256 of its public key is computed on the node
    (`openssl pkey -pubout -outform DER | sha256sum`); the private key never leaves the node."""

    path: str
    public_key_sha256: str | None  # hex SHA-256 of the DER SubjectPublicKeyInfo
    error: str | None = None


@dataclass(frozen=True)
class ListenerProbe:
    """One TLS `listen` of a server block, probed from the control machine (TLSv1..TLSv1.3)."""

    file: str  # conf file of the server block
    line: int  # line of the server block
    listen: str  # the directive's arguments, e.g. "443 ssl"
    address: str  # what was probed (ansible_host when the listen names no address)
    port: int
    servername: str | None  # SNI sent; None: none
    status: str  # "ok" | "unreachable" | "no-handshake" (answers, every handshake failed) | "skipped"
    note: str = ""  # why skipped, or the first failure
    protocols: tuple[str, ...] = ()  # protocols that completed a handshake
    served_sha256: str | None = None  # SHA-256 of the DER leaf served (hex)
    served_subject: str | None = None
    served_not_after: str | None = None  # ISO 8601 UTC
    compare: bool = False  # the served leaf must equal this block's ssl_certificate (SNI or default server)


@dataclass(frozen=True)
class RouterFacts:
    customer: PropertiesFacts  # <apigee_root>/customer/application/router.properties
    tokens: tuple[Token, ...]
    conf_dir: str
    conf_files: tuple[str, ...]
    servers: tuple[NginxServer, ...]
    nginx_version: str | None
    parse_errors: tuple[str, ...] = ()
    role: str = "router"
    directive_lines: tuple[DirectiveLine, ...] = ()  # of the TLS server blocks' certificates and keys
    certificates: tuple[CertificateFile, ...] = ()  # the ssl_certificate files of TLS server blocks
    keys: tuple[KeyFile, ...] = ()  # their ssl_certificate_key files (public key digests only)
    listeners: tuple[ListenerProbe, ...] = ()  # probes from the control machine (fixer_probe_listeners)
    listeners_probed: bool = False  # False: not probed (disabled, or not a router check run)


NodeFacts = MessageProcessorFacts | RouterFacts
