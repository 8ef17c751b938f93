"""Set `<SSLInfo>` children of a TargetEndpoint, keeping the rest of the document byte for byte.

The document is parsed with the hardened parser and edited with lxml (comments, whitespace and attribute
order kept); new elements take the indentation of their neighbours and Apigee's element order. Only the
`<SSLInfo>` element is then written back into the original text (or inserted right after the
`<HTTPTargetConnection>` start tag when it was missing); everything else, the XML declaration and encoding
included, stays exactly as read. The spliced result is re-parsed and compared (C14N) with the edited
tree; should they differ (an odd layout the splice cannot follow), the whole tree is serialised instead.
An edit that changes nothing returns the input bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from fixer.bundles.parse import child, children, line_of, local, safe_parse, target_root, text
from fixer.errors import UsageError

PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
# Apigee's documented order of the SSLInfo children: a new one goes after its predecessors
ORDER = ("Enabled", "Enforce", "ClientAuthEnabled", "KeyStore", "KeyAlias", "TrustStore", "IgnoreValidationErrors",
         "Ciphers", "Protocols", "CommonName")
_DEFAULT_UNIT = "    "


@dataclass(frozen=True)
class SSLSettings:
    """What to set; None leaves a child as it is. An empty tuple removes `<Ciphers>` / `<Protocols>`."""

    enabled: bool | None = None
    protocols: tuple[str, ...] | None = None
    ciphers: tuple[str, ...] | None = None
    ignore_validation_errors: bool | None = None


@dataclass
class _Layout:
    sep: str  # whitespace before each child
    close: str  # whitespace before the closing tag
    unit: str  # one indentation step


def _ws(value: str | None) -> str | None:
    """`value` when it is only whitespace (None, '' count), else None."""
    value = value or ""
    return value if not value.strip() else None


def _ws_before(el: etree._Element) -> str:
    prev = el.getprevious()
    parent = el.getparent()
    before = prev.tail if prev is not None else (parent.text if parent is not None else "")
    return _ws(before) or ""


def _indent(ws: str) -> str:
    return ws.rsplit("\n", 1)[-1] if "\n" in ws else ""


def _unit(inner: str, outer: str) -> str:
    """One indentation step: what a child's indent adds to its parent's."""
    if len(inner) > len(outer) and inner.startswith(outer):
        return inner[len(outer):]
    return _DEFAULT_UNIT


def _layout_of(el: etree._Element, fallback_unit: str) -> _Layout:
    """How `el`'s children are laid out (derived from its own indentation when it has none)."""
    own = _ws_before(el)
    if len(el):
        sep = _ws(el.text) or ""
        close = _ws(el[-1].tail) or ""
        return _Layout(sep, close, _unit(_indent(sep), _indent(close)) if "\n" in sep else fallback_unit)
    if "\n" not in own:
        return _Layout("", "", fallback_unit)
    indent = _indent(own)
    return _Layout("\n" + indent + fallback_unit, "\n" + indent, fallback_unit)


def _new(parent: etree._Element, name: str) -> etree._Element:
    namespace = etree.QName(parent).namespace
    return etree.Element(f"{{{namespace}}}{name}" if namespace else name)


def _insert(ssl: etree._Element, el: etree._Element, layout: _Layout) -> None:
    """Insert `el` into `ssl` after the last child that comes before it in ORDER."""
    rank = ORDER.index(local(el))
    prev = None
    for c in ssl:
        name = local(c)
        if name and (ORDER.index(name) if name in ORDER else len(ORDER)) < rank:
            prev = c
    if len(ssl) == 0:
        ssl.text = layout.sep
        el.tail = layout.close
        ssl.append(el)
    elif prev is None:
        first = next(c for c in ssl if local(c))
        el.tail = _ws_before(first) if first.getprevious() is not None else (_ws(ssl.text) or layout.sep)
        first.addprevious(el)
    else:
        el.tail = prev.tail
        prev.tail = layout.sep
        prev.addnext(el)


def _remove(el: etree._Element) -> None:
    parent = el.getparent()
    assert parent is not None
    if el.getnext() is None:  # the whitespace before the closing tag moves to what precedes `el`
        prev = el.getprevious()
        if prev is not None:
            prev.tail = el.tail
        else:
            parent.text = el.tail
    parent.remove(el)


def _set_flag(ssl: etree._Element, name: str, value: bool, layout: _Layout) -> bool:
    wanted = "true" if value else "false"
    el = child(ssl, name)
    if el is not None:
        if (text(el) or "").lower() == wanted:
            return False
        for c in list(el):
            el.remove(c)
        el.text = wanted
        return True
    el = _new(ssl, name)
    el.text = wanted
    _insert(ssl, el, layout)
    return True


def _set_list(ssl: etree._Element, name: str, item: str, values: tuple[str, ...], layout: _Layout) -> bool:
    el = child(ssl, name)
    if el is not None and tuple(text(c) or "" for c in children(el, item)) == values and values:
        return False
    if not values:
        if el is None:
            return False
        _remove(el)
        return True
    if el is None:
        el = _new(ssl, name)
        _insert(ssl, el, layout)
    inner = _layout_of(el, layout.unit)
    kept = [c for c in el if local(c) != item]  # comments stay, ahead of the items
    for c in list(el):
        el.remove(c)
    nodes = kept
    for value in values:
        new = _new(el, item)
        new.text = value
        nodes.append(new)
    el.text = inner.sep
    for i, node in enumerate(nodes):
        node.tail = inner.sep if i < len(nodes) - 1 else inner.close
        el.append(node)
    return True


def _start_tag(source: str, el: etree._Element) -> re.Match[str] | None:
    """The start tag of `el` in `source`, searched from the start of its line."""
    line = line_of(el)
    if line is None:
        return None
    offset = 0
    for _ in range(line - 1):
        offset = source.find("\n", offset) + 1
        if offset == 0:
            return None
    tag = f"{el.prefix}:{local(el)}" if el.prefix else local(el)
    pattern = re.compile(rf"<{re.escape(tag)}(?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*\s*(/?)>")
    return pattern.search(source, offset)


def _splice(source: str, old: etree._Element | None, conn: etree._Element, fragment: str) -> str | None:
    if old is not None:
        start = _start_tag(source, old)
        if start is None:
            return None
        if start[1]:
            end = start.end()
        else:
            tag = f"{old.prefix}:{local(old)}" if old.prefix else local(old)
            close = re.compile(rf"</{re.escape(tag)}\s*>").search(source, start.end())
            if close is None:
                return None
            end = close.end()
        return source[:start.start()] + fragment + source[end:]
    start = _start_tag(source, conn)
    if start is None or start[1]:
        return None
    ws = re.compile(r"\s*").match(source, start.end())
    assert ws is not None
    return source[:start.end()] + ws[0] + fragment + source[start.end():]


def _without_inherited_namespaces(fragment: str, parent: etree._Element) -> str:
    """lxml repeats the in-scope namespace declarations on a serialised sub-element: drop them again."""
    head_end = fragment.index(">")
    head = fragment[:head_end]
    for prefix, uri in parent.nsmap.items():
        attr = "xmlns" if prefix is None else f"xmlns:{prefix}"
        head = head.replace(f' {attr}="{uri}"', "", 1)
    return head + fragment[head_end:]


def _c14n(root: etree._Element) -> bytes:
    return etree.tostring(root, method="c14n", with_comments=True)


def _serialise(original: bytes, tree: etree._ElementTree, name: str, old: etree._Element | None,
               ssl: etree._Element, conn: etree._Element) -> bytes:
    encoding = tree.docinfo.encoding or "UTF-8"
    try:
        source = original.decode(encoding)
        serialised = etree.tostring(ssl, encoding="unicode", with_tail=False)
        assert isinstance(serialised, str)
        fragment = _without_inherited_namespaces(serialised, conn)
        if "\r\n" in source:
            fragment = fragment.replace("\n", "\r\n")
        spliced = _splice(source, old, conn, fragment)
        if spliced is not None:
            data = spliced.encode(encoding, errors="xmlcharrefreplace")
            if _c14n(safe_parse(data, name).getroot()) == _c14n(tree.getroot()):
                return data
    except (LookupError, UnicodeError, UsageError):
        pass
    body = etree.tostring(tree, encoding=encoding, xml_declaration=False)
    assert isinstance(body, bytes)
    declaration = re.match(rb"\s*<\?xml[^>]*\?>\s*", original)
    return (declaration[0] if declaration else b"") + body + (b"\n" if original.endswith(b"\n") else b"")


def edit_ssl_info(data: bytes, name: str, settings: SSLSettings, target: str | None = None) -> bytes:
    """`data` with the TargetEndpoint's SSLInfo set as `settings` asks; UsageError when it cannot be."""
    tree = safe_parse(data, name)
    root = target_root(tree, name)
    if target is not None and root.get("name") != target:
        raise UsageError(f"{name}: the TargetEndpoint is named {root.get('name')!r}, not {target!r}")
    conn = child(root, "HTTPTargetConnection")
    if conn is None:
        raise UsageError(f"{name}: no <HTTPTargetConnection> (a LocalTargetConnection or ScriptTarget has no TLS)")
    conn_layout = _layout_of(conn, _unit(_indent(_ws(conn.text) or ""), _indent(_ws_before(conn))))
    old = child(conn, "SSLInfo")
    ssl = old if old is not None else _new(conn, "SSLInfo")
    if old is None:
        ssl.tail = _ws(conn.text) or ""
        conn.insert(0, ssl)
    layout = _layout_of(ssl, conn_layout.unit)
    changed = old is None
    if settings.enabled is not None:
        changed = _set_flag(ssl, "Enabled", settings.enabled, layout) or changed
    if settings.ignore_validation_errors is not None:
        changed = _set_flag(ssl, "IgnoreValidationErrors", settings.ignore_validation_errors, layout) or changed
    if settings.ciphers is not None:
        changed = _set_list(ssl, "Ciphers", "Cipher", settings.ciphers, layout) or changed
    if settings.protocols is not None:
        changed = _set_list(ssl, "Protocols", "Protocol", settings.protocols, layout) or changed
    if not changed or (old is None and len(ssl) == 0):
        return data
    return _serialise(data, tree, name, old, ssl, conn)
