"""Proxy bundles: TargetEndpoint XML parsed safely, bundles scanned (dirs, zips), `fixer bundles scan`."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from fixer.bundles import parse
from fixer.bundles.parse import SSLInfo, TargetEndpoint, parse_target_endpoint
from fixer.bundles.scan import scan_paths, scan_zip
from fixer.cli import main
from fixer.errors import UsageError

DATA = Path(__file__).parent / "data" / "bundles"
GOOD = DATA / "good"
ORDERS = GOOD / "orders-v1"


def te(body: str, name: str = "default") -> bytes:
    head = f'<?xml version="1.0" encoding="UTF-8"?>\n<TargetEndpoint name="{name}">\n'
    return f"{head}{body}\n</TargetEndpoint>\n".encode()


# -- parse ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "url", "servers", "ssl"), [
    ("<HTTPTargetConnection><URL>http://b.example/x</URL></HTTPTargetConnection>", "http://b.example/x", (), None),
    ("<HTTPTargetConnection><LoadBalancer><Server name='ts1'/><Server name='ts2'/></LoadBalancer>"
     "<Path>/p</Path></HTTPTargetConnection>", None, ("ts1", "ts2"), None),
    ("<HTTPTargetConnection><SSLInfo><Enabled>true</Enabled></SSLInfo><URL> https://b/ </URL></HTTPTargetConnection>",
     "https://b/", (), SSLInfo(3, enabled=True)),
    ("<HTTPTargetConnection><SSLInfo/><URL>https://b/</URL></HTTPTargetConnection>", "https://b/", (), SSLInfo(3)),
    ("<HTTPTargetConnection><URL>https://b/</URL>\n<SSLInfo><Enabled>False</Enabled>"
     "<ClientAuthEnabled>true</ClientAuthEnabled><KeyStore>ks</KeyStore><KeyAlias>a</KeyAlias>"
     "<TrustStore>ref://ts</TrustStore><IgnoreValidationErrors>true</IgnoreValidationErrors>"
     "<Ciphers><Cipher>C1</Cipher><!-- x --><Cipher>C2</Cipher></Ciphers><Protocols/></SSLInfo>"
     "</HTTPTargetConnection>", "https://b/", (),
     SSLInfo(4, False, True, "ks", "a", "ref://ts", True, ("C1", "C2"), ())),
])
def test_parse_table(body: str, url: str | None, servers: tuple[str, ...], ssl: SSLInfo | None) -> None:
    ep = parse_target_endpoint(te(body), "t.xml", bundle="b")
    assert (ep.name, ep.file, ep.line, ep.bundle, ep.connection) == ("default", "t.xml", 2, "b", "HTTPTargetConnection")
    assert (ep.url, ep.servers, ep.ssl) == (url, servers, ssl)


def test_parse_other_connections_and_name_from_the_file() -> None:
    ep = parse_target_endpoint(b"<TargetEndpoint><ScriptTarget><ResourceURL>node://s.js</ResourceURL></ScriptTarget>"
                               b"</TargetEndpoint>", "b.zip!apiproxy/targets/node.xml")
    assert (ep.name, ep.connection, ep.url, ep.ssl, ep.tls) == ("node", "ScriptTarget", None, None, False)


def test_parse_namespaced_document_by_local_name() -> None:
    data = (b'<TargetEndpoint xmlns="urn:x" name="n"><HTTPTargetConnection><SSLInfo><Protocols>'
            b"<Protocol>TLSv1.2</Protocol></Protocols></SSLInfo><URL>https://h</URL></HTTPTargetConnection>"
            b"</TargetEndpoint>")
    ep = parse_target_endpoint(data, "n.xml")
    assert ep.ssl is not None and ep.ssl.protocols == ("TLSv1.2",) and ep.url == "https://h"


def test_parse_keeps_comments_in_the_tree() -> None:
    tree = parse.safe_parse((ORDERS / "apiproxy/targets/default.xml").read_bytes(), "d.xml")
    comments = [c.text for c in tree.getroot().iter() if not isinstance(c.tag, str)]
    assert comments == [" the orders backend still runs an old F5 profile: TLSv1.2 pending CHG-4411 "]


@pytest.mark.parametrize(("data", "message"), [
    ((DATA / "evil" / "xxe.xml").read_bytes(), r"xxe\.xml:2: XML with a DOCTYPE declaration refused"),
    ((DATA / "evil" / "billion-laughs.xml").read_bytes(), r"laughs\.xml:2: XML with a DOCTYPE declaration refused"),
    (b"<TargetEndpoint>\n<!ENTITY x 'y'>\n</TargetEndpoint>", r"t\.xml:2: XML with a ENTITY declaration refused"),
    ('<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE a [<!ENTITY x "y">]>\n<TargetEndpoint>&x;</TargetEndpoint>'
     .encode("utf-16"), r"t\.xml: XML with a DOCTYPE declaration refused"),
    (b"<TargetEndpoint><HTTPTargetConnection></TargetEndpoint>", r"t\.xml:1: not well-formed XML"),
    (b"<ProxyEndpoint name='default'/>", r"t\.xml:1: expected a <TargetEndpoint> document, got <ProxyEndpoint>"),
    (te("<HTTPTargetConnection><SSLInfo><Enabled>yes</Enabled></SSLInfo></HTTPTargetConnection>"),
     r"t\.xml:3: <Enabled> must be true or false, got 'yes'"),
])
def test_parse_refuses(data: bytes, message: str) -> None:
    name = "t.xml" if "t\\.xml" in message else message.split(":")[0].replace("\\", "")
    with pytest.raises(UsageError, match=message):
        parse_target_endpoint(data, name)


def test_parse_refuses_huge_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "MAX_XML_BYTES", 100)
    with pytest.raises(UsageError, match="larger than 100 bytes"):
        parse.safe_parse(te("<Description>" + "x" * 200 + "</Description>"), "t.xml")


# -- scan -----------------------------------------------------------------------------------------

def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _bundle_zip(root: Path) -> bytes:
    return _zip({str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()})


def test_scan_exploded_bundle() -> None:
    eps = scan_paths([ORDERS])
    assert [(e.name, e.url, e.ssl.protocols if e.ssl else None) for e in eps] == [
        ("default", "https://orders.dc1.example.internal:8443/api/v1", ("TLSv1", "TLSv1.1")),
        ("legacy", "https://legacy-orders.example.internal/v0", None),
    ]
    assert eps[0].file == str(ORDERS / "apiproxy/targets/default.xml") and eps[0].bundle == str(ORDERS)
    assert eps[1].tls and eps[1].ssl is None  # https without SSLInfo


def test_scan_directory_of_bundles_with_a_zip(tmp_path: Path) -> None:
    (tmp_path / "payments-rev3.zip").write_bytes(_bundle_zip(GOOD / "payments-lb"))
    (tmp_path / "notes.txt").write_text("not a bundle")
    eps = scan_paths([GOOD, tmp_path])
    assert [e.name for e in eps] == ["local", "default", "legacy", "payments", "payments"]
    from_zip = eps[-1]
    assert from_zip == TargetEndpoint(
        "payments", f"{tmp_path / 'payments-rev3.zip'}!apiproxy/targets/default.xml", 2,
        str(tmp_path / "payments-rev3.zip"), "HTTPTargetConnection", None, ("payments-ts-1", "payments-ts-2"),
        SSLInfo(14, True, True, "ref://payments-mtls-keystore", "payments-client", "ref://payments-truststore", None,
                ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), ("TLSv1.2",)))
    assert eps[3] == dataclasses.replace(from_zip, file=eps[3].file, bundle=str(GOOD / "payments-lb"))


@pytest.mark.parametrize(("members", "message"), [
    ({"apiproxy/targets/default.xml": te(""), "../evil": b"x"}, r"zip member '\.\./evil' has an absolute path"),
    ({"apiproxy/targets/../../evil.xml": te("")}, r"absolute path or '\.\.'"),
    ({"/etc/cron.d/evil": b"x", "apiproxy/a.xml": b"<APIProxy/>"}, r"'/etc/cron\.d/evil' has an absolute path"),
    ({"README": b"x"}, r"not an API proxy bundle \(no apiproxy/ at the top of the zip\)"),
    ({"apiproxy/targets/default.xml": (DATA / "evil" / "xxe.xml").read_bytes()},
     r"b\.zip!apiproxy/targets/default\.xml:2: XML with a DOCTYPE declaration refused"),
])
def test_scan_zip_refuses(tmp_path: Path, members: dict[str, bytes], message: str) -> None:
    path = tmp_path / "b.zip"
    path.write_bytes(_zip(members))
    with pytest.raises(UsageError, match=message):
        scan_paths([path])


def test_scan_zip_bounds_member_size(monkeypatch: pytest.MonkeyPatch) -> None:
    import fixer.bundles.scan as scan_module

    monkeypatch.setattr(scan_module, "MAX_XML_BYTES", 50)
    data = _zip({"apiproxy/targets/default.xml": te("<Description>" + "x" * 100 + "</Description>")})
    with pytest.raises(UsageError, match=r"b\.zip!apiproxy/targets/default\.xml: \d+ bytes: refused"):
        scan_zip(Path("b.zip"), data)


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.mkdir(), "no API proxy bundle here"),
    (lambda p: p.write_text("hello"), "not a zip file"),
    (lambda p: p.write_bytes(b"PK\x03\x04 truncated"), "not a zip file|cannot read the zip"),
])
def test_scan_bad_paths(tmp_path: Path, make: Callable[[Path], object], message: str) -> None:
    path = tmp_path / "x"
    make(path)
    with pytest.raises(UsageError, match=message):
        scan_paths([path])


# -- CLI ------------------------------------------------------------------------------------------

def test_cli_scan_text() -> None:
    result = CliRunner().invoke(main, ["bundles", "scan", str(GOOD / "payments-lb"), str(GOOD / "mock-local")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"payments  ({GOOD / 'payments-lb/apiproxy/targets/default.xml'}:2)",
        "  target servers: payments-ts-1, payments-ts-2 (each TargetServer carries its own sSLInfo: Management API)",
        "  ssl: enabled true, client auth true, ignore validation errors (default)",
        "  stores: keystore ref://payments-mtls-keystore, key alias payments-client, truststore ref://payments-truststore",
        "  protocols: TLSv1.2",
        "  ciphers: TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        f"local  ({GOOD / 'mock-local/apiproxy/targets/local.xml'}:2)",
        "  connection: LocalTargetConnection (no TLS settings)",
    ]


def test_cli_scan_json() -> None:
    result = CliRunner().invoke(main, ["bundles", "scan", str(ORDERS), "--format", "json"])
    assert result.exit_code == 0, result.output
    endpoints = json.loads(result.output)["endpoints"]
    assert [e["name"] for e in endpoints] == ["default", "legacy"]
    assert endpoints[0]["ssl"]["protocols"] == ["TLSv1", "TLSv1.1"] and endpoints[0]["ssl"]["ciphers"] is None
    assert endpoints[1]["ssl"] is None and endpoints[1]["tls"] is True and endpoints[1]["servers"] == []


def test_cli_scan_bad_input_exits_2(tmp_path: Path) -> None:
    evil = tmp_path / "evil.zip"
    evil.write_bytes(_zip({"apiproxy/targets/x.xml": te(""), "../evil": b"x"}))
    result = CliRunner().invoke(main, ["bundles", "scan", str(evil)])
    assert result.exit_code == 2
    assert "fixer: error:" in result.output and "'../evil'" in result.output
    assert CliRunner().invoke(main, ["bundles", "scan", str(tmp_path / "missing")]).exit_code == 2
    assert CliRunner().invoke(main, ["bundles", "scan"]).exit_code == 2


def test_a_zip_with_damaged_compressed_data_is_bad_input(tmp_path: Path) -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("apiproxy/targets/default.xml", te("") * 20)
    data = bytearray(buf.getvalue())
    start = data.index(b"PK\x03\x04") + 30 + len("apiproxy/targets/default.xml")
    data[start:start + 2] = b"\xff\xff"  # an invalid deflate block header
    path = tmp_path / "bad.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(UsageError, match="cannot read the zip"):
        scan_paths([path])
