"""The one batched remote read per host: a POSIX sh script per role, and the splitter of its output.

Each read is framed by lines carrying a per-run random boundary, so file contents can never fake a
section. Every value from the inventory reaches the script through shlex.quote.
"""

from __future__ import annotations

import posixpath
import secrets
import shlex
from dataclasses import dataclass

from fixer.errors import ParseError
from fixer.inventory.model import Host

CERT_FILE_LIMIT = 256 * 1024  # bytes of an ssl_certificate file the router script sends back, at most
DEFAULT_NGINX_MAIN_CONF = "/opt/nginx/conf/nginx.conf"  # Apigee's layout; host var nginx_main_conf

_PRELUDE = r"""
LC_ALL=C; export LC_ALL
B={boundary}
begin() {{ printf '\n%s BEGIN %s\n' "$B" "$*"; }}
end() {{ printf '\n%s END %s\n' "$B" "$1"; }}
# read NAME FILE: stat line and content of a file, each as its own section
readf() {{
  begin "$1.stat"; stat -c '%U %G %a %u %g' -- "$2" 2>&1; end $?
  begin "$1.content"; cat -- "$2" 2>&1; end $?
}}
printf '%s START\n' "$B"
"""

_MP = r"""
R={apigee_root}
JH={java_home}
readf customer "$R/customer/application/message-processor.properties"
readf generated "$R/edge-message-processor/conf/system.properties"
src=inventory
if [ -z "$JH" ]; then
  src=none
  # the running MP's own Java, as the component sees it
  me=$(readlink /proc/self/ns/net 2>/dev/null)
  for f in $(grep -l -a -s -e 'edge-message-processor' -e 'message-processor' /proc/[0-9]*/cmdline); do
    d=${{f%/cmdline}}
    # a process of another network namespace (a container, another node) is not this node's MP
    [ "$(readlink "$d/ns/net" 2>/dev/null)" = "$me" ] || continue
    exe=$(readlink "$d/exe" 2>/dev/null) || continue
    case "$exe" in */bin/java) JH=${{exe%/bin/java}}; src=process; break;; esac
  done
fi
if [ -z "$JH" ] && [ -n "${{JAVA_HOME:-}}" ]; then JH=$JAVA_HOME; src=env; fi
if [ -z "$JH" ] && j=$(command -v java 2>/dev/null); then
  j=$(readlink -f "$j"); JH=${{j%/bin/java}}; src=path
fi
case "$JH" in */jre) [ -f "${{JH%/jre}}/release" ] && JH=${{JH%/jre}};; esac
begin java.home; printf '%s %s\n' "$src" "$JH"; end 0
if [ -n "$JH" ]; then
  begin java.release; cat -- "$JH/release" 2>&1; end $?
  if [ ! -f "$JH/release" ]; then begin java.version; "$JH/bin/java" -version 2>&1; end $?; fi
  for s in "$JH/conf/security" "$JH/jre/lib/security" "$JH/lib/security"; do
    if [ -f "$s/java.security" ]; then
      begin java.security "$s/java.security"; cat -- "$s/java.security" 2>&1; end $?
      begin java.policydirs "$s/policy"; ls -1 -- "$s/policy" 2>&1; end $?
      if [ -f "$s/local_policy.jar" ]; then
        begin java.localpolicy "$s/local_policy.jar"; base64 < "$s/local_policy.jar" 2>&1; end $?
      fi
      break
    fi
  done
fi
"""

_ROUTER = r"""
R={apigee_root}
D={conf_dir}
readf customer "$R/customer/application/router.properties"
begin nginx.version; for n in /opt/nginx/sbin/nginx "$(command -v nginx 2>/dev/null)"; do
  [ -x "$n" ] && {{ "$n" -v 2>&1; break; }}; done; end 0
begin conf.dir "$D"; ls -1 -- "$D" 2>&1; end $?
for f in "$D"/*.conf; do
  [ -f "$f" ] || continue
  begin conf.file "$f"; cat -- "$f" 2>&1; end $?
done
if command -v openssl >/dev/null 2>&1; then
  begin openssl.version; openssl version 2>&1; end $?
  {{
    printf '%s\n' {default_ciphers}
    k='conf_load_balancing_load\.balancing\.driver\.server\.ssl\.ciphers'
    sed -n "s/^[[:space:]]*$k[[:space:]]*[=:][[:space:]]*//p" "$R/customer/application/router.properties" 2>/dev/null
    cat -- "$D"/*.conf 2>/dev/null | sed -n 's/^.*ssl_ciphers[[:space:]][[:space:]]*\([^;]*\);.*$/\1/p' \
      | sed -e "s/^[\"']//" -e "s/[\"'][[:space:]]*$//"
  }} | sort -u | while IFS= read -r c; do
    [ -n "$c" ] || continue
    begin openssl.ciphers "$c"; openssl ciphers -stdname -v "$c" 2>&1; end $?
  done
fi
P={conf_prefix}
S=sha256sum; command -v sha256sum >/dev/null 2>&1 || S='openssl dgst -sha256 -r'
# certf FILE: size, then only the CERTIFICATE blocks (a private key in the same file stays on the node)
certf() {{
  [ -e "$1" ] || {{ echo 'No such file or directory'; return 1; }}
  [ -f "$1" ] || {{ echo 'not a regular file'; return 1; }}
  n=$(wc -c -- "$1" 2>&1) || {{ printf '%s\n' "$n"; return 1; }}
  n=${{n%% *}}; printf 'size %s\n' "$n"
  [ "$n" -le {cert_limit} ] || {{ echo 'too large'; return 3; }}
  sed -n -e '/-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----/,/-----END[A-Z0-9 ]*PRIVATE KEY-----/d' \
    -e '/^-----BEGIN [A-Z0-9 ]*CERTIFICATE-----/,/^-----END [A-Z0-9 ]*CERTIFICATE-----/p' -- "$1" 2>&1
}}
# keyf FILE: the SHA-256 of the key's public key (DER SubjectPublicKeyInfo); the key itself is never printed
keyf() {{
  [ -e "$1" ] || {{ echo 'No such file or directory'; return 1; }}
  [ -f "$1" ] || {{ echo 'not a regular file'; return 1; }}
  command -v openssl >/dev/null 2>&1 || {{ echo 'openssl not found on the node'; return 127; }}
  h=$(openssl pkey -in "$1" -passin pass: -pubout -outform DER 2>/dev/null </dev/null | $S)
  case "$h" in
    ''|e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855*)
      openssl pkey -in "$1" -passin pass: -noout 2>&1 </dev/null | head -n 2; return 1;;
  esac
  printf '%s\n' "${{h%% *}}"
}}
# the ssl_certificate(_key) files the conf files name (one statement per line: split at ; {{ }})
sed -e 's/#.*$//' -- "$D"/*.conf 2>/dev/null | tr ';{{}}' '\n\n\n' | sed -n \
  -e 's/^[[:space:]]*ssl_certificate_key[[:space:]][[:space:]]*/key /p' \
  -e 's/^[[:space:]]*ssl_certificate[[:space:]][[:space:]]*/cert /p' | sort -u | while read -r kind p; do
  case "$p" in \"*\") p=${{p#\"}}; p=${{p%\"}};; \'*\') p=${{p#\'}}; p=${{p%\'}};; esac
  case "$p" in ''|data:*|engine:*|*'$'*) continue;; /*) f=$p;; *) f=$P/$p;; esac
  if [ "$kind" = cert ]; then begin cert.file "$p"; certf "$f"; end $?
  else begin key.digest "$p"; keyf "$f"; end $?; fi
done
"""


@dataclass(frozen=True)
class Section:
    name: str
    arg: str  # e.g. the file path a conf.file section holds
    body: str
    rc: int | None  # exit status of the command; None when the output was cut off


def new_boundary() -> str:
    return "FIXER-" + secrets.token_hex(12)


def script_prelude(boundary: str) -> str:
    """The framing prelude (LC_ALL=C, `begin`/`end`/`readf`, the START line) for other batched scripts."""
    return _PRELUDE.format(boundary=boundary)


def mp_script(host: Host, boundary: str) -> str:
    return _PRELUDE.format(boundary=boundary) + _MP.format(
        apigee_root=shlex.quote(host.apigee_root),
        java_home=shlex.quote(host.java_home or ""),
    )


def nginx_conf_prefix(host: Host) -> str:
    """Where nginx resolves relative `ssl_certificate` paths: the directory of its main nginx.conf."""
    main = str(host.vars.get("nginx_main_conf", DEFAULT_NGINX_MAIN_CONF))
    return posixpath.dirname(main.rstrip("/")) or "/"


def router_script(host: Host, boundary: str, default_ciphers: str) -> str:
    return _PRELUDE.format(boundary=boundary) + _ROUTER.format(
        apigee_root=shlex.quote(host.apigee_root),
        conf_dir=shlex.quote(host.nginx_conf_dir),
        default_ciphers=shlex.quote(default_ciphers),
        conf_prefix=shlex.quote(nginx_conf_prefix(host)),
        cert_limit=CERT_FILE_LIMIT,
    )


def split_sections(output: str, boundary: str) -> list[Section]:
    """Cut the script's stdout into sections; raises ParseError when the frame itself is broken."""
    start = f"{boundary} START\n"
    at = output.find(start)
    if at < 0:
        raise ParseError("the fact script produced no output (is /bin/sh a POSIX shell?)")
    text = output[at + len(start):]
    sections: list[Section] = []
    begin_tag = f"\n{boundary} BEGIN "
    end_tag = f"\n{boundary} END "
    pos = 0
    while True:
        b = text.find(begin_tag, pos)
        if b < 0:
            break
        header_end = text.find("\n", b + len(begin_tag))
        if header_end < 0:
            break
        name, _, arg = text[b + len(begin_tag):header_end].partition(" ")
        e = text.find(end_tag, header_end)
        if e < 0:
            sections.append(Section(name, arg, text[header_end + 1:], None))
            break
        rc_end = text.find("\n", e + len(end_tag))
        rc_text = text[e + len(end_tag):rc_end if rc_end >= 0 else None]
        try:
            rc: int | None = int(rc_text)
        except ValueError:
            rc = None
        sections.append(Section(name, arg, text[header_end + 1:e], rc))
        pos = rc_end if rc_end >= 0 else len(text)
    return sections
