"""The lab's TLS backends ("backend zoo", issue 4): servers the message processors call southbound.

One network namespace ``fxlX-be`` with a veth into the bridge carries one address per backend
(127.77.X.41..49) and one nginx (master + one worker) with a listener per address: one backend per
failure case, every certificate generated at lab start-up (tests/lab/certs.py). The nodes' /etc/hosts
copies name each backend (``good.backend.lab`` ...), so MPs reach them by name like real targets.

Files in ``<lab dir>/backends``: ``ca.pem`` (the lab root, the truststore to use), ``inter.pem`` (the
intermediate CA that issued be-incomplete's leaf and that be-incomplete does not send), ``key.pem`` (the
one RSA key of all leaves), ``<backend>.pem`` (each backend's leaf), ``nginx/`` (config, logs, pid).
Inside every node ``/run/lab/backends/{ca,inter}.pem`` are copies of the two CA files (the lab dir itself
may be hidden there, e.g. under the node's private /tmp).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tests.lab.certs import CertAuthority, LeafSpec, backend_pems

DOMAIN = "backend.lab"
PORT = 443
NGINX = "/usr/sbin/nginx"
NODE_DIR = "/run/lab/backends"  # inside every node: ca.pem and inter.pem (the lab dir may be hidden there)
# Suites Java 17 does not offer at all (no CAMELLIA, no ARIA in JSSE). OpenSSL 3.0's DEFAULT list (what
# fixer's probe offers) has none of them either: no RSA-certificate suite exists that OpenSSL's DEFAULT
# offers and Java 17 lacks (PSK/SRP aside), so a probe sees this backend refuse TLS 1.2 with
# handshake_failure, like Java does; `openssl s_client -cipher CAMELLIA256-SHA` shows it working.
JAVA_LESS_CIPHERS = "ECDHE-ARIA256-GCM-SHA384:ARIA256-GCM-SHA384:CAMELLIA256-SHA:CAMELLIA128-SHA"
MODERN = "TLSv1.2 TLSv1.3"
Issuer = Literal["root", "intermediate", "self"]


@dataclass(frozen=True)
class BackendSpec:
    name: str  # be-good
    host: int  # last octet of its address
    label: str  # its DNS name is <label>.backend.lab
    what: str  # the failure it carries, for humans
    protocols: str = MODERN
    ciphers: str = "HIGH:!aNULL:!MD5"
    sni_only: bool = False  # default server rejects handshakes (ssl_reject_handshake on)
    listening: bool = True  # False: the address exists, nothing listens (connection refused)
    # The leaf: by default it names the backend (DNS name and IP SAN) and comes from the lab root.
    issuer: Issuer = "root"
    expired: bool = False
    cert_names: tuple[str, ...] = ()  # DNS names of the leaf instead of its own (then no IP SAN either)

    @property
    def dns(self) -> str:
        return f"{self.label}.{DOMAIN}"


BACKEND_SPECS: tuple[BackendSpec, ...] = (
    BackendSpec("be-good", 41, "good", "healthy: TLSv1.2+1.3, leaf from the lab root with DNS and IP SANs"),
    BackendSpec("be-tls10", 42, "tls10", "accepts TLSv1.0 only", protocols="TLSv1", ciphers="DEFAULT:@SECLEVEL=0"),
    BackendSpec("be-sni", 43, "sni", "SNI required: the default server rejects the handshake", sni_only=True),
    BackendSpec("be-expired", 44, "expired", "leaf expired two days ago", expired=True),
    BackendSpec("be-incomplete", 45, "incomplete", "leaf from an intermediate CA the server does not send",
                issuer="intermediate"),
    BackendSpec("be-selfsigned", 46, "selfsigned", "self-signed leaf", issuer="self"),
    BackendSpec("be-hostname", 47, "hostname", "valid leaf from the lab root naming other.backend.lab only",
                cert_names=(f"other.{DOMAIN}",)),
    BackendSpec("be-cipher", 48, "cipher", "TLSv1.2 with CAMELLIA/ARIA suites only (none in Java 17)",
                protocols="TLSv1.2", ciphers=JAVA_LESS_CIPHERS),
    BackendSpec("be-unreachable", 49, "unreachable", "the name resolves, nothing listens (refused)",
                listening=False),
)


@dataclass(frozen=True)
class Backend:
    """One running backend, as tests use it."""

    name: str
    dns: str
    ip: str
    what: str
    cert: Path | None  # its leaf certificate (PEM), None for be-unreachable
    port: int = PORT

    @property
    def url(self) -> str:
        return f"https://{self.dns}:{self.port}/"

    @property
    def target(self) -> str:
        """``host:port`` as `fixer probe` takes it."""
        return f"{self.dns}:{self.port}"


def leaf_spec(spec: BackendSpec, ip: str) -> LeafSpec:
    names = spec.cert_names or (spec.dns,)
    return LeafSpec(names[0], names, None if spec.cert_names else ip, spec.issuer, spec.expired)


def hosts_lines(ips: dict[str, str]) -> str:
    """/etc/hosts lines naming every backend (``ips``: backend name -> address)."""
    by_name = {s.name: s for s in BACKEND_SPECS}
    return "".join(f"{ip} {by_name[name].dns}\n" for name, ip in ips.items())


def _server(spec: BackendSpec, ip: str, cert: Path, key: Path) -> str:
    return (
        "    server {\n"
        f"        listen {ip}:{PORT} ssl;\n"
        f"        server_name {spec.dns};\n"
        f"        ssl_certificate {cert};\n"
        f"        ssl_certificate_key {key};\n"
        f"        ssl_protocols {spec.protocols};\n"
        f"        ssl_ciphers '{spec.ciphers}';\n"
        f"        location / {{ return 200 '{spec.name}\\n'; }}\n"
        "    }\n"
    )


def nginx_conf(top: Path, ips: dict[str, str]) -> str:
    nginx = top / "nginx"
    key = top / "key.pem"
    servers = []
    for spec in BACKEND_SPECS:
        if not spec.listening:
            continue
        ip = ips[spec.name]
        if spec.sni_only:
            # Without SNI (or with another name) the handshake ends in alert unrecognized_name.
            servers.append(
                "    server {\n"
                f"        listen {ip}:{PORT} ssl default_server;\n"
                "        ssl_reject_handshake on;\n"
                f"        ssl_protocols {spec.protocols};\n"
                "    }\n"
            )
        servers.append(_server(spec, ip, top / f"{spec.name}.pem", key))
    return (
        "# Lab TLS backends (tests/lab/backends.py): one listener per failure case.\n"
        "worker_processes 1;\n"
        f"pid {nginx / 'nginx.pid'};\n"
        f"error_log {nginx / 'error.log'};\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        "    access_log off;\n"
        + "".join(f"    {kind}_temp_path {nginx / 'tmp' / kind};\n"
                  for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + "".join(servers)
        + "}\n"
    )


def write_backends(top: Path, ca: CertAuthority, ips: dict[str, str]) -> None:
    """Certificates and the nginx config of every backend under ``top`` (``<lab dir>/backends``)."""
    top.mkdir(parents=True, exist_ok=True)
    (top / "nginx" / "tmp").mkdir(parents=True, exist_ok=True)
    pems = backend_pems(ca, {s.name: leaf_spec(s, ips[s.name]) for s in BACKEND_SPECS if s.listening})
    (top / "ca.pem").write_bytes(pems.ca)
    (top / "inter.pem").write_bytes(pems.intermediate)
    key = top / "key.pem"
    key.write_bytes(pems.key)
    os.chmod(key, 0o600)
    for name, pem in pems.leaves.items():
        (top / f"{name}.pem").write_bytes(pem)
    (top / "nginx" / "nginx.conf").write_text(nginx_conf(top, ips))


def start_script(top: Path, ips: dict[str, str], sysctl: str) -> str:
    """Run inside ``fxlX-be``: addresses, 127.x on eth0 (route_localnet), then nginx (it daemonizes)."""
    addresses = "".join(f"address add {ip}/24 dev eth0\n" for ip in ips.values())
    nginx = top / "nginx"
    return (
        "set -eu\n"
        "ip -batch - <<EOF\n"
        "link set lo up\n"
        "address del 127.0.0.1/8 dev lo\n"
        "address add 127.0.0.1/32 dev lo\n"
        f"{addresses}"
        "link set eth0 up\n"
        "EOF\n"
        f"{sysctl}\n"
        f"exec {NGINX} -p '{nginx}/' -c '{nginx / 'nginx.conf'}' -e '{nginx / 'error.log'}'\n"
    )


def copy_trust(top: Path, node_dir: Path) -> None:
    """``ca.pem`` and ``inter.pem`` into a node's lab dir, where the node sees them as ``NODE_DIR``."""
    node_dir.mkdir(exist_ok=True)
    for name in ("ca.pem", "inter.pem"):
        shutil.copyfile(top / name, node_dir / name)


def pid_file(top: Path) -> Path:
    return top / "nginx" / "nginx.pid"
