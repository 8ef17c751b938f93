"""Pure parsers for the router's generated nginx conf.d files and `nginx -v` output.

The conf files are parsed with crossplane (NGINX's own Python parser). crossplane only reads files,
so each text is written to a private temporary directory first; nothing else touches the disk.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import crossplane  # type: ignore[import-untyped,unused-ignore]

NGINX_DEFAULT_CIPHERS = "HIGH:!aNULL:!MD5"
"""nginx's built-in `ssl_ciphers` (unchanged since 1.0.5)."""

# nginx's built-in `ssl_protocols`, by the first version that uses it (CHANGES of nginx):
# 1.9.1 dropped SSLv3, 1.23.4 added TLSv1.3, 1.27.3 dropped TLSv1 and TLSv1.1.
_DEFAULT_PROTOCOLS_SINCE: tuple[tuple[tuple[int, ...], tuple[str, ...]], ...] = (
    ((1, 27, 3), ("TLSv1.2", "TLSv1.3")),
    ((1, 23, 4), ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")),
    ((1, 9, 1), ("TLSv1", "TLSv1.1", "TLSv1.2")),
    ((0,), ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2")),
)
_UNKNOWN_VERSION_PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2")


@dataclass(frozen=True)
class NginxServerSpec:
    """One `server {}` block: every `model.NginxServer` field but the cipher expansion ones.

    Build the model object with `NginxServer(**asdict(spec), effective_ciphers=..., cipher_expansion=...)`.
    `listen` holds each `listen` directive's arguments joined by one space (`"443 ssl"`).
    """

    file: str
    line: int
    listen: tuple[str, ...]
    server_name: tuple[str, ...]
    ssl: bool
    ssl_protocols: tuple[str, ...]
    ssl_protocols_line: int | None
    ssl_protocols_source: str
    ssl_ciphers: str
    ssl_ciphers_line: int | None
    ssl_ciphers_source: str
    ssl_certificate: str | None
    ssl_certificate_key: str | None


Directive = dict[str, Any]  # one crossplane statement: {"directive", "line", "args", ["block"]}
_SSL_KEYS = ("ssl", "ssl_protocols", "ssl_ciphers", "ssl_certificate", "ssl_certificate_key")


def _version_tuple(version: str) -> tuple[int, ...] | None:
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version.strip())
    if match is None:
        return None
    return tuple(int(part) for part in match.groups(default="0"))


def nginx_default_protocols(version: str | None) -> tuple[str, ...]:
    """nginx's built-in `ssl_protocols` for `version` (as printed by `nginx -v`, e.g. "1.22.1").

    < 1.9.1: SSLv3 TLSv1 TLSv1.1 TLSv1.2; 1.9.1+: TLSv1 TLSv1.1 TLSv1.2; 1.23.4+: adds TLSv1.3;
    1.27.3+: TLSv1.2 TLSv1.3. An unknown or unreadable version gives TLSv1 TLSv1.1 TLSv1.2: the default
    of the nginx builds shipped with Edge routers, and the one that does not invent TLSv1.3 support.
    Only the first three numbers count (openresty's 1.21.4.1 is nginx 1.21.4).
    """
    parsed = _version_tuple(version) if version else None
    if parsed is None:
        return _UNKNOWN_VERSION_PROTOCOLS
    for since, protocols in _DEFAULT_PROTOCOLS_SINCE:
        if parsed >= since:
            return protocols
    return _UNKNOWN_VERSION_PROTOCOLS  # pragma: no cover - (0,) matches every version


def parse_nginx_version(text: str) -> str | None:
    """The version in `nginx -v` output (`nginx version: nginx/1.22.1` -> "1.22.1").

    Forks print their own name (`openresty/1.21.4.1`); when a fork also names the nginx core
    (`Tengine/2.3.2 (nginx/1.18.0)`), the nginx core version is returned. None when absent.
    """
    core = re.search(r"\bnginx/(\d+(?:\.\d+)+)", text)
    if core is not None:
        return core.group(1)
    fork = re.search(r"version:\s*[\w.-]+/(\d+(?:\.\d+)+)", text)
    return fork.group(1) if fork is not None else None


@dataclass(frozen=True)
class _Setting:
    args: tuple[str, ...]
    line: int


def _ssl_settings(directives: Sequence[Directive], where: str, errors: list[str]) -> dict[str, _Setting]:
    """The SSL directives directly in one context; a repeated one is reported like nginx does."""
    found: dict[str, _Setting] = {}
    for stmt in directives:
        name = stmt["directive"]
        if name not in _SSL_KEYS:
            continue
        if name in found:
            errors.append(f'{where}:{stmt["line"]}: "{name}" directive is duplicate')
        found[name] = _Setting(tuple(stmt["args"]), stmt["line"])
    return found


def _pick(
    name: str, server: Mapping[str, _Setting], http: Mapping[str, _Setting]
) -> tuple[_Setting | None, str]:
    if name in server:
        return server[name], "server"
    if name in http:
        return http[name], "file"
    return None, "default"


def _first_arg(setting: _Setting | None) -> str | None:
    return setting.args[0] if setting is not None and setting.args else None


def _server_spec(
    path: str,
    stmt: Directive,
    http: Mapping[str, _Setting],
    defaults: tuple[tuple[str, ...], str],
    errors: list[str],
) -> NginxServerSpec:
    block: list[Directive] = stmt.get("block", [])
    own = _ssl_settings(block, path, errors)
    listens = [tuple(d["args"]) for d in block if d["directive"] == "listen"]
    names = [arg for d in block if d["directive"] == "server_name" for arg in d["args"]]
    ssl_on, _ = _pick("ssl", own, http)
    protocols, protocols_source = _pick("ssl_protocols", own, http)
    ciphers, ciphers_source = _pick("ssl_ciphers", own, http)
    certificate, _ = _pick("ssl_certificate", own, http)
    key, _ = _pick("ssl_certificate_key", own, http)
    return NginxServerSpec(
        file=path,
        line=stmt["line"],
        listen=tuple(" ".join(args) for args in listens),
        server_name=tuple(names),
        ssl=any("ssl" in args[1:] for args in listens) or (_first_arg(ssl_on) or "").lower() == "on",
        ssl_protocols=protocols.args if protocols is not None else defaults[0],
        ssl_protocols_line=protocols.line if protocols is not None else None,
        ssl_protocols_source=protocols_source,
        ssl_ciphers=_first_arg(ciphers) or defaults[1],
        ssl_ciphers_line=ciphers.line if ciphers is not None else None,
        ssl_ciphers_source=ciphers_source,
        ssl_certificate=_first_arg(certificate),
        ssl_certificate_key=_first_arg(key),
    )


def _crossplane_parse(path: str, text: str, scratch: str, index: int) -> tuple[list[Directive], list[str]]:
    """Parse one file's text with crossplane; errors are rewritten to name `path`, not the temp file."""
    folder = os.path.join(scratch, str(index))
    os.mkdir(folder)
    local = os.path.join(folder, os.path.basename(path) or "nginx.conf")
    with open(local, "w", encoding="utf-8") as handle:
        handle.write(text)
    payload = crossplane.parse(
        local, single=True, comments=False, check_ctx=False, check_args=False, strict=False, catch_errors=True
    )
    errors: list[str] = []
    for error in payload.get("errors", []):
        message = str(error.get("error", "parse error"))
        message = re.sub(rf"\s+in {re.escape(local)}(?::\d+)?$", "", message)
        line = error.get("line")
        errors.append(f"{path}:{line}: {message}" if line is not None else f"{path}: {message}")
    configs = payload.get("config", [])
    parsed: list[Directive] = configs[0].get("parsed", []) if configs else []
    return parsed, errors


def parse_nginx_files(
    files: Mapping[str, str], default_protocols: tuple[str, ...], default_ciphers: str
) -> tuple[list[NginxServerSpec], list[str]]:
    """Every `server {}` of the given conf.d files (remote path -> text), ordered by path then line.

    The files are read as nginx includes them inside `http {}`: SSL directives at a file's top level
    apply to that file's servers (source "file"), a server's own directives win (source "server"), else
    `default_protocols` / `default_ciphers` apply (source "default", line None). `include`, `location`,
    `if` and other directives are ignored. Errors come back as `"<remote path>:<line>: <message>"`; a
    file with a syntax error contributes no servers.

    Caveat: real nginx puts the top level of every included file into the same `http {}`, so a file-level
    directive of one file also reaches servers of the other files. Those are reported here as "default"
    because the model has no field naming the file a setting comes from; Apigee's generated files set
    `ssl_*` inside their `server {}` blocks, where this does not matter.
    """
    servers: list[NginxServerSpec] = []
    errors: list[str] = []
    defaults = (tuple(default_protocols), default_ciphers)
    with tempfile.TemporaryDirectory(prefix="fixer-nginx-") as scratch:
        for index, path in enumerate(sorted(files)):
            try:
                parsed, file_errors = _crossplane_parse(path, files[path], scratch, index)
            except (OSError, ValueError) as exc:  # e.g. lone surrogates that cannot be written as UTF-8
                errors.append(f"{path}: cannot parse: {exc}")
                continue
            if file_errors:
                errors.extend(file_errors)
                continue
            http = _ssl_settings(parsed, path, errors)
            for stmt in parsed:
                if stmt["directive"] == "server" and "block" in stmt:
                    servers.append(_server_spec(path, stmt, http, defaults, errors))
    return servers, errors
