"""Tests of fixer.facts.nginx: conf.d parsing with crossplane, nginx defaults and `nginx -v`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fixer.facts.model import NginxServer
from fixer.facts.nginx import (
    NGINX_DEFAULT_CIPHERS,
    NginxServerSpec,
    nginx_default_protocols,
    parse_nginx_files,
    parse_nginx_version,
)

DATA = Path(__file__).parent / "data" / "parsers" / "nginx"
CONF_D = "/opt/nginx/conf.d"
OLD_DEFAULT = ("TLSv1", "TLSv1.1", "TLSv1.2")


def _conf(*names: str) -> dict[str, str]:
    return {f"{CONF_D}/{name}": (DATA / name).read_text(encoding="utf-8") for name in names}


def _parse(files: dict[str, str]) -> tuple[list[NginxServerSpec], list[str]]:
    return parse_nginx_files(files, OLD_DEFAULT, NGINX_DEFAULT_CIPHERS)


def _one(text: str, name: str = "vh.conf") -> NginxServerSpec:
    servers, errors = _parse({f"{CONF_D}/{name}": text})
    assert errors == []
    assert len(servers) == 1
    return servers[0]


def test_generated_default_conf() -> None:
    servers, errors = _parse(_conf("0-default.conf"))
    assert errors == []
    assert [(s.line, s.listen, s.ssl) for s in servers] == [
        (13, ("9001",), False),
        (24, ("443 ssl",), True),
        (37, ("15999",), False),
    ]
    file_ciphers = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:!aNULL:!MD5"
    assert servers[1] == NginxServerSpec(
        file=f"{CONF_D}/0-default.conf",
        line=24,
        listen=("443 ssl",),
        server_name=("api.example.com", "api-internal.example.com"),
        ssl=True,
        ssl_protocols=("TLSv1.2", "TLSv1.3"),  # spread over two lines in the file
        ssl_protocols_line=29,
        ssl_protocols_source="server",
        ssl_ciphers=file_ciphers,  # quoted in the file, inherited from the file level
        ssl_ciphers_line=5,
        ssl_ciphers_source="file",
        ssl_certificate="/opt/nginx/conf.d/myorg_prod_secure.crt",
        ssl_certificate_key="/opt/nginx/conf.d/myorg_prod_secure.key",
    )
    plain = servers[0]
    assert (plain.ssl_protocols, plain.ssl_protocols_line, plain.ssl_protocols_source) == (
        ("TLSv1.2",),
        4,
        "file",
    )
    assert plain.server_name == ("_",)
    assert plain.ssl_certificate is None


def test_virtual_host_files_and_order() -> None:
    files = _conf("myorg_test_legacy.conf", "0-default.conf", "myorg_prod_h2.conf")
    servers, errors = _parse(files)
    assert errors == []
    assert [(Path(s.file).name, s.line) for s in servers] == [
        ("0-default.conf", 13),
        ("0-default.conf", 24),
        ("0-default.conf", 37),
        ("myorg_prod_h2.conf", 1),
        ("myorg_test_legacy.conf", 2),
    ]
    h2, legacy = servers[3], servers[4]
    assert h2.listen == ("127.0.0.1:8443 ssl http2", "[::]:443 ssl")
    assert h2.ssl is True
    # nothing in this file: nginx's built-in defaults (file-level settings of 0-default do not leak)
    assert (h2.ssl_protocols, h2.ssl_protocols_line, h2.ssl_protocols_source) == (
        OLD_DEFAULT,
        None,
        "default",
    )
    assert (h2.ssl_ciphers, h2.ssl_ciphers_line, h2.ssl_ciphers_source) == (
        "HIGH:!aNULL:!MD5",
        None,
        "default",
    )
    assert legacy.ssl is True  # `ssl on;`
    assert legacy.listen == ("8443",)
    assert legacy.ssl_protocols == ("TLSv1", "TLSv1.1", "TLSv1.2")
    assert (legacy.ssl_ciphers, legacy.ssl_ciphers_line) == ("DEFAULT:!EXPORT:@SECLEVEL=0", 11)
    assert legacy.ssl_certificate_key == "/opt/nginx/conf.d/myorg_test_legacy.key"


def test_broken_file_gives_error_and_no_servers() -> None:
    servers, errors = _parse(_conf("broken.conf", "myorg_prod_h2.conf"))
    assert [Path(s.file).name for s in servers] == ["myorg_prod_h2.conf"]
    assert errors == [f'{CONF_D}/broken.conf:6: unexpected end of file, expecting "}}"']


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("server {\n listen 443 ssl;\n}\n}\n", 4, 'unexpected "}"'),
        # crossplane reports an unterminated quote at the line where the quote opens
        ('server {\n ssl_ciphers "HIGH;\n}\n', 2, 'unexpected end of file, expecting "}"'),
        ("server {\n listen 443 ssl;\n", 2, 'unexpected end of file, expecting "}"'),
    ],
)
def test_syntax_errors_name_remote_path(text: str, line: int, message: str) -> None:
    servers, errors = _parse({"/srv/nginx/conf.d/bad.conf": text})
    assert servers == []
    assert errors == [f"/srv/nginx/conf.d/bad.conf:{line}: {message}"]
    assert "/tmp" not in errors[0]


@pytest.mark.parametrize(
    ("text", "ssl"),
    [
        ("server { listen 443 ssl; }", True),
        ("server { listen 127.0.0.1:8443 ssl http2; }", True),
        ("server { listen [::]:443 ssl; }", True),
        ("server { listen 443; ssl on; }", True),
        ("server { listen 443; ssl ON; }", True),
        ("server { listen 443; ssl off; }", False),
        ("server { listen 9001; }", False),
        ("server { listen 9001 default_server; listen 9443 ssl default_server; }", True),
        ("server { listen ssl.example.com:80; }", False),  # "ssl" in the address is not the parameter
        ("ssl on;\nserver { listen 443; }", True),  # http-level `ssl on` (pre-1.25 style)
        ("ssl on;\nserver { listen 443; ssl off; }", False),
    ],
)
def test_ssl_flag(text: str, ssl: bool) -> None:
    assert _one(text).ssl is ssl


def test_server_level_wins_over_file_level_and_lines() -> None:
    text = (
        "ssl_protocols TLSv1 TLSv1.1;\n"
        "ssl_ciphers 'AES128-SHA';\n"
        "ssl_certificate /etc/file.crt;\n"
        "ssl_certificate_key /etc/file.key;\n"
        "server {\n"
        "    listen 443 ssl;\n"
        "    ssl_protocols TLSv1.2;\n"
        "    ssl_certificate /etc/server.crt;\n"
        "}\n"
    )
    spec = _one(text)
    assert (spec.ssl_protocols, spec.ssl_protocols_line, spec.ssl_protocols_source) == (
        ("TLSv1.2",),
        7,
        "server",
    )
    assert (spec.ssl_ciphers, spec.ssl_ciphers_line, spec.ssl_ciphers_source) == ("AES128-SHA", 2, "file")
    assert spec.ssl_certificate == "/etc/server.crt"
    assert spec.ssl_certificate_key == "/etc/file.key"


def test_file_level_directive_after_server_still_applies() -> None:
    spec = _one("server { listen 443 ssl; }\nssl_protocols TLSv1.3;\n")
    assert (spec.ssl_protocols, spec.ssl_protocols_line, spec.ssl_protocols_source) == (
        ("TLSv1.3",),
        2,
        "file",
    )


def test_nested_blocks_includes_and_upstreams_are_ignored() -> None:
    text = (
        "include /opt/nginx/conf.d/common/*.inc;\n"
        "upstream pool { server 10.0.0.1:8998; server 10.0.0.2:8998; }\n"
        "map $http_host $vh { default 1; }\n"
        "server {\n"
        "  listen 443 ssl;\n"
        "  server_name a.example.com\n"
        "              b.example.com *.c.example.com;\n"
        "  include snippets/ssl.conf;\n"
        "  location /x {\n"
        "    ssl_protocols SSLv3;\n"  # not valid nginx here, and never a server setting
        "    if ($request_method = POST) { ssl_ciphers NULL; return 403; }\n"
        "  }\n"
        "}\n"
    )
    spec = _one(text)
    assert spec.server_name == ("a.example.com", "b.example.com", "*.c.example.com")
    assert spec.ssl_protocols_source == "default"
    assert spec.ssl_ciphers == NGINX_DEFAULT_CIPHERS
    assert spec.line == 4


def test_duplicate_directive_is_reported_and_last_wins() -> None:
    text = "server {\n listen 443 ssl;\n ssl_protocols TLSv1.2;\n ssl_protocols TLSv1.3;\n}\n"
    servers, errors = _parse({f"{CONF_D}/dup.conf": text})
    assert servers[0].ssl_protocols == ("TLSv1.3",)
    assert errors == [f'{CONF_D}/dup.conf:4: "ssl_protocols" directive is duplicate']


def test_same_basename_in_two_directories() -> None:
    files = {
        "/opt/nginx/conf.d/a.conf": "server { listen 1 ssl; }",
        "/etc/nginx/conf.d/a.conf": "server { listen 2; }",
    }
    servers, errors = _parse(files)
    assert errors == []
    assert [(s.file, s.listen) for s in servers] == [
        ("/etc/nginx/conf.d/a.conf", ("2",)),
        ("/opt/nginx/conf.d/a.conf", ("1 ssl",)),
    ]


def test_given_defaults_are_used() -> None:
    servers, _ = parse_nginx_files({"/x.conf": "server { listen 443 ssl; }"}, ("TLSv1.2", "TLSv1.3"), "ALL")
    assert servers[0].ssl_protocols == ("TLSv1.2", "TLSv1.3")
    assert servers[0].ssl_ciphers == "ALL"


def test_empty_inputs() -> None:
    assert _parse({}) == ([], [])
    assert _parse({f"{CONF_D}/empty.conf": "# nothing\n"}) == ([], [])


def test_unwritable_text_is_an_error_not_a_crash() -> None:
    servers, errors = _parse({f"{CONF_D}/bad.conf": "server { listen 443 ssl; }\ud800"})  # lone surrogate
    assert servers == []
    assert len(errors) == 1
    assert errors[0].startswith(f"{CONF_D}/bad.conf: cannot parse: ")


def test_spec_fields_match_model_nginx_server() -> None:
    spec = _one("server { listen 443 ssl; }")
    server = NginxServer(**dataclasses.asdict(spec), effective_ciphers=("X",), cipher_expansion="node")
    model_fields = {f.name for f in dataclasses.fields(NginxServer)}
    spec_fields = {f.name for f in dataclasses.fields(NginxServerSpec)}
    assert model_fields - spec_fields == {"effective_ciphers", "cipher_expansion"}
    assert server.listen == ("443 ssl",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.ssl = False  # type: ignore[misc]


@pytest.mark.parametrize(
    ("version", "protocols"),
    [
        ("1.8.1", ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2")),
        ("1.9.1", ("TLSv1", "TLSv1.1", "TLSv1.2")),
        ("1.20.1", ("TLSv1", "TLSv1.1", "TLSv1.2")),
        ("1.22.1", ("TLSv1", "TLSv1.1", "TLSv1.2")),
        ("1.23.3", ("TLSv1", "TLSv1.1", "TLSv1.2")),
        ("1.23.4", ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")),
        ("1.21.4.1", ("TLSv1", "TLSv1.1", "TLSv1.2")),  # openresty numbering
        ("1.25.3", ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")),
        ("1.27.2", ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")),
        ("1.27.3", ("TLSv1.2", "TLSv1.3")),
        ("1.28.0", ("TLSv1.2", "TLSv1.3")),
        ("2.0", ("TLSv1.2", "TLSv1.3")),
        (None, ("TLSv1", "TLSv1.1", "TLSv1.2")),
        ("", ("TLSv1", "TLSv1.1", "TLSv1.2")),
        ("unknown", ("TLSv1", "TLSv1.1", "TLSv1.2")),
    ],
)
def test_nginx_default_protocols(version: str | None, protocols: tuple[str, ...]) -> None:
    assert nginx_default_protocols(version) == protocols


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("nginx version: nginx/1.22.1\n", "1.22.1"),
        ("nginx version: nginx/1.20.1 (apigee)\n", "1.20.1"),
        ("nginx version: openresty/1.21.4.1\n", "1.21.4.1"),
        ("Tengine version: Tengine/2.3.2 (nginx/1.18.0)\n", "1.18.0"),
        ("nginx version: nginx/1.25.3\nbuilt by gcc 12.2.0 (Debian 12.2.0-14)\n", "1.25.3"),
        ("sh: 1: /opt/nginx/sbin/nginx: not found\n", None),
        ("", None),
    ],
)
def test_parse_nginx_version(text: str, version: str | None) -> None:
    assert parse_nginx_version(text) == version
