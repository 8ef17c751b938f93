"""TargetEndpoint XML (`apiproxy/targets/*.xml`) parsed with a hardened lxml parser.

The parser never resolves entities, loads a DTD or touches the network, and any document carrying a
DOCTYPE or an entity declaration is refused outright (XXE, billion laughs): a proxy bundle has no use
for either. Element names are matched by local name, so a (non-standard) namespaced document still reads.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from lxml import etree

from fixer.errors import UsageError

MAX_XML_BYTES = 4 * 1024 * 1024  # a TargetEndpoint file is a few KiB; anything this big is refused

_DECLS = re.compile(rb"<!(DOCTYPE|ENTITY)\b")


def make_parser() -> etree.XMLParser:
    """The only XML parser fixer uses for bundle files: entities, DTDs and the network all off."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           dtd_validation=False, remove_comments=False, remove_pis=False, strip_cdata=False,
                           remove_blank_text=False)


def line_of(node: etree._Element) -> int | None:
    """The node's line in its document (lxml-stubs type `sourceline` loosely)."""
    value: object = node.sourceline
    return value if isinstance(value, int) else None


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def safe_parse(data: bytes, name: str) -> etree._ElementTree:
    """Parse `data` (the bytes of file `name`); UsageError naming the file (and line) when refused."""
    if len(data) > MAX_XML_BYTES:
        raise UsageError(f"{name}: {len(data)} bytes: refused, larger than {MAX_XML_BYTES} bytes")
    found = _DECLS.search(data)
    if found is not None:
        raise UsageError(f"{name}:{_line_at(data, found.start())}: XML with a {found[1].decode()} declaration "
                         "refused (entities and DTDs are never processed: XXE / entity expansion)")
    try:
        root = etree.fromstring(data, make_parser())
    except etree.XMLSyntaxError as exc:
        line = f":{exc.lineno}" if exc.lineno else ""
        raise UsageError(f"{name}{line}: not well-formed XML: {exc.msg}") from None
    tree = root.getroottree()
    # A DOCTYPE the byte scan missed (e.g. a UTF-16 document): refused all the same
    info = tree.docinfo
    if getattr(info, "doctype", "") or info.internalDTD is not None or info.externalDTD is not None:
        raise UsageError(f"{name}: XML with a DOCTYPE declaration refused (entities and DTDs are never processed)")
    for node in root.iter():
        if isinstance(node, etree._Entity):
            raise UsageError(f"{name}:{line_of(node)}: XML entity reference &{node.name}; refused")
    return tree


def local(el: etree._Element) -> str:
    """The element's name without namespace ('' for comments and processing instructions)."""
    if not isinstance(el.tag, str):
        return ""
    return etree.QName(el).localname


def child(el: etree._Element, name: str) -> etree._Element | None:
    for c in el:
        if local(c) == name:
            return c
    return None


def children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if local(c) == name]


def text(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    return "".join(t for t in el.itertext() if isinstance(t, str)).strip()


def to_flag(el: etree._Element | None, name: str) -> bool | None:
    """`true`/`false` (any case, as Apigee reads them) of an element; None when absent or empty."""
    value = text(el)
    if not value:
        return None
    lowered = value.lower()
    if lowered not in ("true", "false"):
        line = f":{line_of(el)}" if el is not None and line_of(el) else ""
        raise UsageError(f"{name}{line}: <{local(el) if el is not None else '?'}> must be true or false, "
                         f"got {value!r}")
    return lowered == "true"


@dataclass(frozen=True)
class SSLInfo:
    """The `<SSLInfo>` of an HTTPTargetConnection (None fields: element absent, Apigee's default)."""

    line: int | None
    enabled: bool | None = None
    client_auth_enabled: bool | None = None
    key_store: str | None = None
    key_alias: str | None = None
    trust_store: str | None = None
    ignore_validation_errors: bool | None = None
    ciphers: tuple[str, ...] | None = None  # None: no <Ciphers> (the MP's JVM default list)
    protocols: tuple[str, ...] | None = None  # None: no <Protocols> (the MP's JVM default)


@dataclass(frozen=True)
class TargetEndpoint:
    """One `<TargetEndpoint>`: where it sends requests and with which TLS settings."""

    name: str
    file: str  # path, or `bundle.zip!apiproxy/targets/x.xml` inside a zip
    line: int | None
    bundle: str | None = None  # the bundle directory or zip it came from
    connection: str | None = None  # HTTPTargetConnection | LocalTargetConnection | ScriptTarget | None
    url: str | None = None
    servers: tuple[str, ...] = ()  # <LoadBalancer><Server name=...> (TargetServers)
    ssl: SSLInfo | None = None

    @property
    def tls(self) -> bool:
        """TLS is on: an https URL, or SSLInfo Enabled (TargetServers carry their own sSLInfo)."""
        if self.ssl is not None and self.ssl.enabled:
            return True
        return bool(self.url and self.url.lower().startswith("https://"))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["servers"] = list(self.servers)
        if self.ssl is not None:
            for key in ("ciphers", "protocols"):
                value = out["ssl"][key]
                out["ssl"][key] = None if value is None else list(value)
        out["tls"] = self.tls
        return out


def _list(el: etree._Element | None, item: str) -> tuple[str, ...] | None:
    if el is None:
        return None
    return tuple(t for t in (text(c) for c in children(el, item)) if t)


def parse_ssl_info(el: etree._Element, name: str) -> SSLInfo:
    return SSLInfo(
        line=line_of(el),
        enabled=to_flag(child(el, "Enabled"), name),
        client_auth_enabled=to_flag(child(el, "ClientAuthEnabled"), name),
        key_store=text(child(el, "KeyStore")) or None,
        key_alias=text(child(el, "KeyAlias")) or None,
        trust_store=text(child(el, "TrustStore")) or None,
        ignore_validation_errors=to_flag(child(el, "IgnoreValidationErrors"), name),
        ciphers=_list(child(el, "Ciphers"), "Cipher"),
        protocols=_list(child(el, "Protocols"), "Protocol"),
    )


CONNECTIONS = ("HTTPTargetConnection", "LocalTargetConnection", "ScriptTarget")


def target_root(tree: etree._ElementTree, name: str) -> etree._Element:
    root = tree.getroot()
    if local(root) != "TargetEndpoint":
        raise UsageError(f"{name}:{line_of(root)}: expected a <TargetEndpoint> document, got <{local(root)}>")
    return root


def parse_target_endpoint(data: bytes, name: str, bundle: str | None = None) -> TargetEndpoint:
    """The TargetEndpoint in `data` (file `name`); UsageError when unsafe, malformed or not one."""
    root = target_root(safe_parse(data, name), name)
    stem = name.rsplit("/", 1)[-1].rsplit("!", 1)[-1]
    endpoint_name = root.get("name") or (stem[:-4] if stem.endswith(".xml") else stem)
    conn = next((c for c in root if local(c) in CONNECTIONS), None)
    if conn is None or local(conn) != "HTTPTargetConnection":
        return TargetEndpoint(endpoint_name, name, line_of(root), bundle, local(conn) if conn is not None else None)
    balancer = child(conn, "LoadBalancer")
    servers = tuple(s.get("name", "") for s in children(balancer, "Server")) if balancer is not None else ()
    ssl_el = child(conn, "SSLInfo")
    return TargetEndpoint(
        name=endpoint_name,
        file=name,
        line=line_of(root),
        bundle=bundle,
        connection="HTTPTargetConnection",
        url=text(child(conn, "URL")) or None,
        servers=servers,
        ssl=parse_ssl_info(ssl_el, name) if ssl_el is not None else None,
    )
