"""Tests of fixer.facts.properties: java.util.Properties semantics, Apigee tokens, stat output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixer.errors import ParseError
from fixer.facts.model import FileStat, PropertyEntry, Token
from fixer.facts.properties import parse_properties, parse_stat, parse_tokens

DATA = Path(__file__).parent / "data" / "parsers"


def _read(name: str) -> str:
    # newline="" keeps CRLF / CR exactly as on the node
    with (DATA / name).open(encoding="utf-8", newline="") as handle:
        return handle.read()


def _pairs(text: str) -> list[tuple[str, str]]:
    return [(e.key, e.value) for e in parse_properties(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a=b", [("a", "b")], id="equals"),
        pytest.param("a:b", [("a", "b")], id="colon"),
        pytest.param("a b", [("a", "b")], id="whitespace-separator"),
        pytest.param("a\tb", [("a", "b")], id="tab-separator"),
        pytest.param("  a  =  b", [("a", "b")], id="whitespace-around-separator"),
        pytest.param("a = b  ", [("a", "b  ")], id="trailing-whitespace-kept"),
        pytest.param("a  =  = b", [("a", "= b")], id="only-first-separator-skipped"),
        pytest.param("a =:b", [("a", ":b")], id="colon-after-equals-is-value"),
        pytest.param("a", [("a", "")], id="key-only"),
        pytest.param("a   ", [("a", "")], id="key-only-trailing-ws"),
        pytest.param("a=", [("a", "")], id="empty-value"),
        pytest.param("=b", [("", "b")], id="empty-key"),
        pytest.param("# c\n! c\n   # c\n\n  \n\t\n", [], id="comments-and-blank-lines"),
        pytest.param("a=b # not a comment", [("a", "b # not a comment")], id="inline-hash-is-value"),
        pytest.param("k\\ e\\:y\\=x = v", [("k e:y=x", "v")], id="escaped-separators-in-key"),
        pytest.param("\\#k=v\n\\!k=w", [("#k", "v"), ("!k", "w")], id="escaped-comment-chars"),
        pytest.param("a=\\t\\n\\r\\f\\\\", [("a", "\t\n\r\f\\")], id="escapes"),
        pytest.param('a=\\q\\z\\"', [("a", 'qz"')], id="unknown-escape-is-the-char"),
        pytest.param("a=\\u0041\\u00e9\\u20AC", [("a", "Aé€")], id="unicode-escapes"),
        pytest.param("a=\\uD83D\\uDE00", [("a", "\U0001f600")], id="surrogate-pair"),
        pytest.param("a=1,\\\n    2,\\\n\t3", [("a", "1,2,3")], id="continuation-strips-indent"),
        pytest.param("a=x\\\\\nb=y", [("a", "x\\"), ("b", "y")], id="even-backslashes-no-continuation"),
        pytest.param("a=x\\\\\\\n y", [("a", "x\\y")], id="odd-backslashes-continue"),
        pytest.param("a=x\\\n\nb=y", [("a", "x"), ("b", "y")], id="blank-line-ends-continuation"),
        pytest.param("a=x\\\n  # kept", [("a", "x# kept")], id="hash-in-continuation-is-value"),
        pytest.param("# comment \\\nb=y", [("b", "y")], id="comment-never-continues"),
        pytest.param("a=x\\", [("a", "x")], id="continuation-at-eof"),
        pytest.param("a=1\r\nb=2\r\n", [("a", "1"), ("b", "2")], id="crlf"),
        pytest.param("a=1\rb=2\r", [("a", "1"), ("b", "2")], id="cr-only"),
        pytest.param("a=1\\\r\n  2\r\n", [("a", "12")], id="crlf-continuation"),
        pytest.param("a=1\nb=2\na=3", [("a", "1"), ("b", "2"), ("a", "3")], id="duplicates-kept"),
        pytest.param("\f a = b", [("a", "b")], id="form-feed-is-whitespace"),
    ],
)
def test_parse_properties_semantics(text: str, expected: list[tuple[str, str]]) -> None:
    assert _pairs(text) == expected


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("a=1\nb=2", [1, 2]),
        ("# c\n\na=1\\\n  2\\\n  3\nb=2", [3, 6]),
        ("a=1\r\n\r\nb=2", [1, 3]),
        ("a=1\rb=2\r\rc=3", [1, 2, 4]),
        ("\\\n# comment after an empty continuation\nb=2", [3]),
    ],
)
def test_parse_properties_line_is_where_logical_line_starts(text: str, lines: list[int]) -> None:
    assert [e.line for e in parse_properties(text)] == lines


@pytest.mark.parametrize("text", ["a=\\u12", "a=\\u12G4", "a\\uZZZZ=b"])
def test_parse_properties_malformed_unicode_escape(text: str) -> None:
    with pytest.raises(ParseError, match="line 1"):
        parse_properties(text)


def test_parse_properties_matches_java_17() -> None:
    """tricky.properties.java17.json was produced by java.util.Properties.load on OpenJDK 17."""
    entries = parse_properties(_read("tricky.properties"))
    expected = json.loads((DATA / "tricky.properties.java17.json").read_text(encoding="utf-8"))
    assert {e.key: e.value for e in entries} == expected
    by_key = {e.key: e.line for e in entries}
    assert by_key["plain"] == 4
    assert by_key["cont"] == 14
    assert by_key["three_backslashes"] == 20
    assert by_key["eof_cont"] == 34
    assert [e.value for e in entries if e.key == "dup"] == ["1", "2"]


def test_parse_properties_message_processor_crlf() -> None:
    entries = parse_properties(_read("message-processor.properties"))
    assert entries[0] == PropertyEntry("conf_system_jsse.enableSNIExtension", "true", 7)
    values = {e.key: e.value for e in entries}
    assert values["conf_system_jdk.tls.client.protocols"] == "TLSv1.2, TLSv1.3"
    assert values["conf_jvmsecurity_jdk.tls.disabledAlgorithms"] == (
        "SSLv3, RC4, DES, MD5withRSA, DH keySize < 1024, EC keySize < 224, 3DES_EDE_CBC, anon, NULL"
    )
    assert values["max.heap"] == "4096m"
    assert values["conf_system_jsse.enableSNIExtension"] == "false"  # last one wins in Java
    assert not any("\r" in e.key or "\r" in e.value for e in entries)
    assert len(entries) == 10


def test_parse_properties_router() -> None:
    entries = parse_properties(_read("router.properties"))
    assert entries[1] == PropertyEntry(
        "conf_load_balancing_load.balancing.driver.server.ssl.ciphers",
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256",
        3,
    )
    assert entries[-1] == PropertyEntry(
        "conf_load_balancing_load.balancing.driver.nginx.worker.processes", "4", 9
    )


# --- tokens ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "file", "inner"),
    [
        ("conf_system_jsse.enableSNIExtension", "system", "jsse.enableSNIExtension"),
        (
            "conf_load_balancing_load.balancing.driver.server.ssl.protocols",
            "load_balancing",
            "load.balancing.driver.server.ssl.protocols",
        ),
        ("conf_message-processor_a.b", "message-processor", "a.b"),
        ("conf_jvmsecurity_jdk.tls.disabledAlgorithms", "jvmsecurity", "jdk.tls.disabledAlgorithms"),
        ("conf_http_HTTPClient.proxy.host", "http", "HTTPClient.proxy.host"),
        ("conf_router_maxidle", "router", "maxidle"),
        ("conf_router_client_pool_size", "router", "client_pool_size"),
        ("conf/system.properties+https.protocols", "system", "https.protocols"),
        ("conf/load_balancing.properties+a.b_c", "load_balancing", "a.b_c"),
    ],
)
def test_parse_tokens_forms(key: str, file: str, inner: str) -> None:
    entry = PropertyEntry(key, "v", 12)
    assert parse_tokens([entry]) == (Token(file=file, key=inner, value="v", line=12, raw_key=key),)


@pytest.mark.parametrize(
    "key",
    [
        "max.heap",
        "bin_setenv_max_mem",
        "conf_",
        "conf_system",
        "conf_system_",
        "conf__x.y",
        "conf_.x",
        "conf_nounderscore.key",
        "conf/system.properties+",
        "conf/system.props+x",
        "conf/a/b.properties+x",
        "CONF_system_x.y",
    ],
)
def test_parse_tokens_ignores_other_keys(key: str) -> None:
    assert parse_tokens([PropertyEntry(key, "v", 1)]) == ()


def test_parse_tokens_message_processor_file() -> None:
    tokens = parse_tokens(parse_properties(_read("message-processor.properties")))
    assert [(t.file, t.key, t.line) for t in tokens] == [
        ("system", "jsse.enableSNIExtension", 7),
        ("system", "https.protocols", 10),
        ("system", "jdk.tls.client.protocols", 11),
        ("jvmsecurity", "jdk.tls.disabledAlgorithms", 14),
        ("message-processor-communication", "local.http.host", 16),
        ("http", "HTTPClient.proxy.host", 17),
        ("http", "HTTPClient.proxy.port", 18),
        ("system", "jsse.enableSNIExtension", 21),
    ]
    assert tokens[0].raw_key == "conf_system_jsse.enableSNIExtension"
    assert tokens[-1].value == "false"


# --- stat --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("apigee apigee 644 999 998\n", FileStat("apigee", "apigee", 0o644)),
        ("root root 600 0 0", FileStat("root", "root", 0o600)),
        ("UNKNOWN UNKNOWN 640 1001 1002\n", FileStat("1001", "1002", 0o640)),
        ("apigee UNKNOWN 664 999 1002", FileStat("apigee", "1002", 0o664)),
        ("apigee apigee 644", FileStat("apigee", "apigee", 0o644)),
        ("\napigee apigee 4755 999 998\n\n", FileStat("apigee", "apigee", 0o4755)),
        ("apigee apigee 0 999 998", FileStat("apigee", "apigee", 0)),
    ],
)
def test_parse_stat(text: str, expected: FileStat) -> None:
    assert parse_stat(text) == expected


def test_parse_stat_mode_text() -> None:
    assert parse_stat("root root 600 0 0").mode_text == "0600"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "stat: cannot statx '/opt/apigee/customer/application/x.properties': No such file or directory",
        "apigee apigee 689 999 998",
        "apigee apigee rw-r--r-- 999 998",
        "apigee apigee 644 999",
        "apigee apigee 644 abc 998",
        "apigee apigee 644 999 998\napigee apigee 644 999 998",
    ],
)
def test_parse_stat_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_stat(text)
