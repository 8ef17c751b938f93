"""Tests of fixer.facts.openssl: `openssl ciphers -stdname` parsing, names, weak suites, protocols."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

import fixer.facts.openssl as openssl_module
from fixer.errors import ParseError
from fixer.facts.openssl import (
    PROTOCOL_ORDER,
    expand_cipher_string,
    normalize_cipher_names,
    parse_openssl_ciphers_stdname,
    protocol_rank,
    weak_ciphers,
)

DATA = Path(__file__).parent / "data" / "parsers"


def _fixture(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


# Captured on the control machine (OpenSSL 3.0, see data/parsers/openssl_version.txt).
ALL = parse_openssl_ciphers_stdname(_fixture("openssl_ciphers_all.txt"))
NGINX_DEFAULT = parse_openssl_ciphers_stdname(_fixture("openssl_ciphers_nginx_default.txt"))
TABLE = {openssl: iana for iana, openssl in ALL}


def test_parse_captured_all() -> None:
    assert len(ALL) == 158
    assert ALL[0] == ("TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384")
    assert ("TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA") in ALL
    assert ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384") in ALL
    assert ("TLS_RSA_WITH_NULL_MD5", "NULL-MD5") in ALL  # line with a trailing blank
    assert len({iana for iana, _ in ALL}) == len(ALL)


def test_parse_captured_nginx_default() -> None:
    names = {iana for iana, _ in NGINX_DEFAULT}
    assert len(NGINX_DEFAULT) == 128
    assert "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" in names
    assert not any("_anon_" in name or "_NULL_" in name or name.endswith("_MD5") for name in names)


def test_parse_with_s_flag() -> None:
    assert parse_openssl_ciphers_stdname(_fixture("openssl_ciphers_s.txt"))[3:] == (
        ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"),
        ("TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"),
    )


def test_parse_none_stdname_keeps_openssl_name() -> None:
    pairs = parse_openssl_ciphers_stdname(_fixture("openssl_ciphers_legacy_format.txt"))
    assert ("GOST2012-GOST8912-GOST8912", "GOST2012-GOST8912-GOST8912") in pairs
    assert ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA") in pairs
    assert len(pairs) == 8


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("\n\n", ()),
        ("TLS_A - A TLSv1.2 Kx=RSA\r\n", (("TLS_A", "A"),)),
        ("   TLS_A   -   A\n", (("TLS_A", "A"),)),
        ("WARNING: can't open config file: /usr/local/ssl/openssl.cnf\nTLS_A - A SSLv3\n", (("TLS_A", "A"),)),
    ],
)
def test_parse_small_inputs(text: str, expected: tuple[tuple[str, str], ...]) -> None:
    assert parse_openssl_ciphers_stdname(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Error in cipher list\n"
        "80EB83A8B87F0000:error:0A0000B9:SSL routines::no cipher match:../ssl/ssl_lib.c:2741:\n",
        # plain `openssl ciphers -v` (no -stdname)
        "ECDHE-RSA-AES256-GCM-SHA384    TLSv1.2 Kx=ECDH     Au=RSA   Enc=AESGCM(256)            Mac=AEAD\n",
        "ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA\n",
        "sh: 1: openssl: not found\n",
    ],
)
def test_parse_rejects_other_output(text: str) -> None:
    with pytest.raises(ParseError):
        parse_openssl_ciphers_stdname(text)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["AES128-SHA"], ("TLS_RSA_WITH_AES_128_CBC_SHA",)),
        (["TLS_RSA_WITH_AES_128_CBC_SHA"], ("TLS_RSA_WITH_AES_128_CBC_SHA",)),
        (
            [" ECDHE-RSA-AES256-GCM-SHA384 ", "TLS_AES_128_GCM_SHA256", "", "AES256-SHA"],
            (
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_AES_128_GCM_SHA256",
                "TLS_RSA_WITH_AES_256_CBC_SHA",
            ),
        ),
        (["DES-CBC3-SHA", "SSL_RSA_WITH_RC4_128_MD5"], ("DES-CBC3-SHA", "SSL_RSA_WITH_RC4_128_MD5")),
        ([], ()),
    ],
)
def test_normalize_cipher_names(names: list[str], expected: tuple[str, ...]) -> None:
    assert normalize_cipher_names(names, TABLE) == expected


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("TLS_RSA_WITH_NULL_SHA256", "NULL encryption"),
        ("TLS_NULL_WITH_NULL_NULL", "NULL encryption"),
        ("TLS_ECDH_anon_WITH_NULL_SHA", "NULL encryption"),
        ("TLS_DH_anon_WITH_AES_128_CBC_SHA", "anonymous key exchange (no authentication)"),
        ("TLS_ECDH_anon_WITH_AES_256_CBC_SHA", "anonymous key exchange (no authentication)"),
        ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", "export-grade"),
        ("TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA", "export-grade"),
        ("TLS_RSA_WITH_RC4_128_SHA", "RC4"),
        ("TLS_ECDHE_RSA_WITH_RC4_128_SHA", "RC4"),
        ("TLS_RSA_WITH_RC4_128_MD5", "RC4"),
        ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "3DES/DES"),
        ("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "3DES/DES"),
        ("TLS_RSA_WITH_DES_CBC_SHA", "3DES/DES"),
        ("TLS_DHE_RSA_WITH_DES_CBC_SHA", "3DES/DES"),
        ("TLS_KRB5_WITH_IDEA_CBC_MD5", "MD5 MAC"),
        # OpenSSL names are recognised too
        ("DES-CBC3-SHA", "3DES/DES"),
        ("EDH-RSA-DES-CBC3-SHA", "3DES/DES"),
        ("RC4-SHA", "RC4"),
        ("ADH-AES128-SHA", "anonymous key exchange (no authentication)"),
        ("AECDH-AES256-SHA", "anonymous key exchange (no authentication)"),
        ("EXP-RC4-MD5", "export-grade"),
        ("NULL-MD5", "NULL encryption"),
    ],
)
def test_weak_ciphers_flags(name: str, reason: str) -> None:
    assert weak_ciphers([name]) == ((name, reason),)


@pytest.mark.parametrize(
    "name",
    [
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA",
        "TLS_RSA_WITH_IDEA_CBC_SHA",
        "TLS_RSA_WITH_SEED_CBC_SHA",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "AES128-SHA",
    ],
)
def test_weak_ciphers_leaves_strong_alone(name: str) -> None:
    assert weak_ciphers([name]) == ()


def test_weak_ciphers_on_captured_lists() -> None:
    assert weak_ciphers(iana for iana, _ in NGINX_DEFAULT) == ()
    weak = dict(weak_ciphers(iana for iana, _ in ALL))
    assert weak["TLS_RSA_WITH_NULL_MD5"] == "NULL encryption"
    assert weak["TLS_DH_anon_WITH_AES_256_GCM_SHA384"] == "anonymous key exchange (no authentication)"
    assert "TLS_RSA_WITH_AES_128_CBC_SHA" not in weak
    legacy = [
        iana for iana, _ in parse_openssl_ciphers_stdname(_fixture("openssl_ciphers_legacy_format.txt"))
    ]
    assert [reason for _, reason in weak_ciphers(legacy)] == [
        "3DES/DES",
        "RC4",
        "RC4",
        "anonymous key exchange (no authentication)",
        "NULL encryption",
    ]


@pytest.mark.parametrize(
    ("name", "rank"),
    [
        ("SSLv2", 0),
        ("SSLv3", 1),
        ("TLSv1", 2),
        ("TLSv1.0", 2),
        ("TLSv1.1", 3),
        ("TLSv1.2", 4),
        ("TLSv1.3", 5),
        (" TLSv1.2 ", 4),
    ],
)
def test_protocol_rank(name: str, rank: int) -> None:
    assert protocol_rank(name) == rank
    assert PROTOCOL_ORDER[rank] in name.replace("TLSv1.0", "TLSv1")


@pytest.mark.parametrize("name", ["TLSv1.4", "tlsv1.2", "TLS1.2", "", "DTLSv1.2"])
def test_protocol_rank_unknown(name: str) -> None:
    with pytest.raises(ParseError, match="unknown SSL/TLS protocol"):
        protocol_rank(name)


def test_protocol_order_sorts() -> None:
    assert sorted(["TLSv1.3", "TLSv1", "SSLv3", "TLSv1.2"], key=protocol_rank) == [
        "SSLv3", "TLSv1", "TLSv1.2", "TLSv1.3",
    ]  # fmt: skip


# --- expand_cipher_string: the local openssl -----------------------------------------------------------

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no local openssl")


@needs_openssl
def test_expand_nginx_default_matches_capture() -> None:
    local = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=True).stdout
    if (DATA / "openssl_version.txt").read_text().split()[:2] != local.split()[:2]:
        pytest.skip("the local openssl differs from the one the fixture was captured with")
    assert expand_cipher_string("HIGH:!aNULL:!MD5") == tuple(iana for iana, _ in NGINX_DEFAULT)


@needs_openssl
def test_expand_single_cipher() -> None:
    names = expand_cipher_string("AES128-SHA")
    assert "TLS_RSA_WITH_AES_128_CBC_SHA" in names
    assert names[-1] == "TLS_RSA_WITH_AES_128_CBC_SHA"
    assert "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" not in names


@needs_openssl
@pytest.mark.parametrize("cipher_string", ["FOO", "NOPE-AES-SHA:ALSO-NOT"])
def test_expand_no_cipher_match(cipher_string: str) -> None:
    with pytest.raises(ParseError, match="no cipher match"):
        expand_cipher_string(cipher_string)


def test_expand_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="cannot run"):
        expand_cipher_string("HIGH", openssl=str(tmp_path / "no-such-openssl"))


def _fake_openssl(tmp_path: Path, body: str) -> str:
    script = tmp_path / "openssl"
    script.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_expand_passes_arguments_without_a_shell(tmp_path: Path) -> None:
    args_file = tmp_path / "args"
    fake = _fake_openssl(
        tmp_path,
        f'printf "%s\\n" "$@" > {args_file}\necho "TLS_RSA_WITH_AES_128_CBC_SHA - AES128-SHA SSLv3 Kx=RSA"\n',
    )
    assert expand_cipher_string("AES128-SHA:$(reboot);`id`", openssl=fake) == (
        "TLS_RSA_WITH_AES_128_CBC_SHA",
    )
    assert args_file.read_text().splitlines() == ["ciphers", "-stdname", "-v", "AES128-SHA:$(reboot);`id`"]


def test_expand_other_failure(tmp_path: Path) -> None:
    fake = _fake_openssl(tmp_path, 'echo "Invalid command -stdname" >&2\nexit 1\n')
    with pytest.raises(ParseError, match=r"ciphers failed.*Invalid command -stdname"):
        expand_cipher_string("HIGH", openssl=fake)


def test_expand_unreadable_output(tmp_path: Path) -> None:
    fake = _fake_openssl(tmp_path, 'echo "ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA"\n')
    with pytest.raises(ParseError, match="not `openssl ciphers -stdname` output"):
        expand_cipher_string("HIGH", openssl=fake)


def test_expand_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openssl_module, "OPENSSL_TIMEOUT_SECONDS", 0.2)
    fake = _fake_openssl(tmp_path, "exec sleep 5\n")
    with pytest.raises(ParseError, match="timed out"):
        expand_cipher_string("HIGH", openssl=fake)
