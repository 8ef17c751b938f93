"""Everything on disk that makes up one lab node: its /opt tree, etc files, sshd config and init script.

Host layout of a node (``<labdir>/nodes/<name>``), and where the node sees it:
  opt/   -> /opt            (apigee tree, nginx, fake Java)
  lab/   -> /run/lab        (sshd_config, host key, authorized_keys, init.sh, sshd.pid)
  etc/   -> /etc/{passwd,group,shadow,sudoers,hosts,hostname} (lab copies; host files stay untouched)
  home/  -> /home/fixer
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.lab import apigee_service as svc
from tests.lab.certs import Pem
from tests.lab.javatree import build_java8
from tests.lab.router_certs import stale_router_cert_pem
from tests.lab.scenarios import MP_DEFAULT_TOKENS, ROUTER_DEFAULT_TOKENS, NodeSpec

SERVICE_SCRIPT = Path(__file__).with_name("apigee_service.py")
READY_SERVER = Path(__file__).with_name("ReadyServer.java")
SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class LabUsers:
    apigee_uid: int
    apigee_gid: int
    fixer_uid: int
    fixer_gid: int
    password_hash: str  # sha512-crypt of the lab's sudo password for user fixer


def _ids_in(path: str, column: int) -> set[int]:
    return {
        int(line.split(":")[column]) for line in Path(path).read_text().splitlines() if line.count(":") >= 3
    }


def pick_users(password: str) -> LabUsers:
    """Free ids on this host: a system id (<1000) for apigee, a login id (>=2000) for fixer."""
    taken = _ids_in("/etc/passwd", 2) | _ids_in("/etc/group", 2)
    system_id = next(i for i in range(999, 100, -1) if i not in taken)
    login_id = next(i for i in range(2000, 60000) if i not in taken)
    # openssl rather than the crypt module, which is deprecated in 3.11 and gone in 3.13.
    proc = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"],
        input=password,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return LabUsers(system_id, system_id, login_id, login_id, proc.stdout.strip())


def etc_files(users: LabUsers) -> dict[str, tuple[str, int, int]]:
    """passwd/group/shadow contents -> (text, mode, gid): host entries plus the lab users."""
    days = (datetime.date.today() - datetime.date(1970, 1, 1)).days
    passwd = Path("/etc/passwd").read_text().rstrip("\n") + "\n"
    passwd += f"apigee:x:{users.apigee_uid}:{users.apigee_gid}:Apigee Edge:/opt/apigee:/usr/sbin/nologin\n"
    passwd += f"fixer:x:{users.fixer_uid}:{users.fixer_gid}:fixer lab login user:/home/fixer:/bin/sh\n"
    group = Path("/etc/group").read_text().rstrip("\n") + "\n"
    group += f"apigee:x:{users.apigee_gid}:\nfixer:x:{users.fixer_gid}:\n"
    shadow_lines = []
    for line in Path("/etc/shadow").read_text().splitlines():
        fields = line.split(":")
        if len(fields) > 1 and not fields[1].startswith(("!", "*")):
            fields[1] = "*"  # never copy a host password hash into the lab directory
        shadow_lines.append(":".join(fields))
    shadow_lines.append(f"apigee:!:{days}::::::")
    # A real (not locked) hash: with UsePAM no, sshd refuses key logins when the hash starts with "!".
    shadow_lines.append(f"fixer:{users.password_hash}:{days}:0:99999:7:::")
    shadow_gid = Path("/etc/shadow").stat().st_gid
    return {
        "passwd": (passwd, 0o644, 0),
        "group": (group, 0o644, 0),
        "shadow": ("\n".join(shadow_lines) + "\n", 0o640, shadow_gid),
    }


def sudoers_text(mode: str) -> str:
    lines = [
        "# Lab sudoers (bind-mounted over /etc/sudoers inside the node; the host file is untouched).",
        "Defaults env_reset",
        f'Defaults secure_path="{SECURE_PATH}"',
        # Keep sudo from mailing, syslogging or writing /var/lib/sudo on the host.
        "Defaults !mail_badpass, !mail_no_user, !syslog, lecture=never",
        "root ALL=(ALL:ALL) ALL",
    ]
    if mode == "nopasswd":
        lines.append("fixer ALL=(ALL) NOPASSWD: ALL")
    elif mode == "password":
        # No cached credentials: every become must present the password.
        lines += ["Defaults:fixer timestamp_timeout=0", "fixer ALL=(ALL) ALL"]
    return "\n".join(lines) + "\n"


def sshd_config_text(ip: str, tcp_forwarding: bool = True) -> str:
    return f"""\
# Lab node sshd: key-only login for user fixer.
ListenAddress {ip}:22
HostKey /run/lab/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile /run/lab/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers fixer
StrictModes no
UseDNS no
MaxStartups 100:30:200
MaxSessions 50
AllowTcpForwarding {"yes" if tcp_forwarding else "no"}
X11Forwarding no
PrintMotd no
PrintLastLog no
Subsystem sftp internal-sftp
"""


def init_script_text(name: str, ip: str, node_dir: Path) -> str:
    # The node dir is first pinned on /mnt: the tmpfs mounts below may hide its real path (e.g. a
    # lab dir under /tmp), and every later bind mount takes its source from /mnt.
    return f"""\
#!/bin/sh
# Init of lab node {name}: runs in its own net, mount (private propagation) and uts namespaces.
set -eu
ip -batch - <<EOF
link set lo up
address del 127.0.0.1/8 dev lo
address add 127.0.0.1/32 dev lo
address add {ip}/24 dev eth0
link set eth0 up
EOF
# 127.x on eth0 needs route_localnet; lo narrowed to 127.0.0.1/32 so 127.77.x is not local.
echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet
echo 1 > /proc/sys/net/ipv4/conf/default/route_localnet
[ ! -e /proc/sys/net/ipv6/conf/all/disable_ipv6 ] || echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
mount --bind '{node_dir}' /mnt
mount -t tmpfs -o mode=0755 lab-run /run
mkdir -p /run/sshd /run/lab
mount --bind /mnt/lab /run/lab
mount --bind /mnt/opt /opt
for f in passwd group shadow sudoers hosts hostname; do mount --bind /mnt/etc/$f /etc/$f; done
mount -t tmpfs -o mode=0755 lab-home /home
mkdir /home/fixer
mount --bind /mnt/home /home/fixer
umount /mnt
# Private /root (root's real dotfiles cost ~115 ms per exec), /tmp, /var/tmp like a separate machine,
# and /var/log so sshd/sudo never write the host's logs.
mount -t tmpfs -o mode=0700 lab-root /root
mount -t tmpfs -o mode=1777 lab-tmp /tmp
mount -t tmpfs -o mode=1777 lab-vartmp /var/tmp
mount -t tmpfs -o mode=0755 lab-varlog /var/log
mkdir -p /var/log/nginx  # nginx -t opens its compiled-in error log before reading -c's config
hostname {name}
echo $$ > /run/lab/sshd.pid
exec /usr/sbin/sshd -D -e -f /run/lab/sshd_config
"""


NGINX_MAIN_CONF = f"""\
# Router nginx main config (lab): every runtime path stays inside the node's /opt/nginx.
user nobody nogroup;
worker_processes 1;
pid {svc.NGINX_PID};
error_log {svc.NGINX_ERROR_LOG};
events {{ worker_connections 256; }}
http {{
    access_log /opt/nginx/logs/access.log;
    client_body_temp_path /opt/nginx/tmp/client_body;
    proxy_temp_path /opt/nginx/tmp/proxy;
    fastcgi_temp_path /opt/nginx/tmp/fastcgi;
    uwsgi_temp_path /opt/nginx/tmp/uwsgi;
    scgi_temp_path /opt/nginx/tmp/scgi;
    include /opt/nginx/conf.d/*.conf;
}}
"""


class NodeFiles:
    """Host paths of one node plus the builders for its contents."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.opt = root / "opt"
        self.lab = root / "lab"
        self.etc = root / "etc"
        self.home = root / "home"

    def in_opt(self, inner: str | Path) -> Path:
        """Host path of an absolute path under the node's /opt."""
        rel = Path(inner).relative_to("/opt")
        return self.opt / rel

    @property
    def pid_file(self) -> Path:
        return self.lab / "sshd.pid"

    @property
    def log_file(self) -> Path:
        return self.lab / "node.log"


def _write(path: Path, text: str | bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    os.chmod(path, mode)
    os.chown(path, uid, gid)


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    os.chown(top, uid, gid)
    for dirpath, dirnames, filenames in os.walk(top):
        for entry in dirnames + filenames:
            os.chown(os.path.join(dirpath, entry), uid, gid)


def build_node(
    spec: NodeSpec,
    files: NodeFiles,
    ip: str,
    users: LabUsers,
    etc: dict[str, tuple[str, int, int]],
    host_key: bytes,
    authorized_key: str,
    hosts_text: str,
    leaf: Pem | None,
) -> None:
    if files.root.exists():
        shutil.rmtree(files.root)
    for d in (files.opt, files.lab, files.etc):
        d.mkdir(parents=True, mode=0o755)
    files.home.mkdir(mode=0o755)
    os.chown(files.home, users.fixer_uid, users.fixer_gid)
    for name, (text, mode, gid) in etc.items():
        _write(files.etc / name, text, mode, 0, gid)
    _write(files.etc / "sudoers", sudoers_text(spec.sudo), 0o440)
    _write(files.etc / "hosts", hosts_text)
    _write(files.etc / "hostname", f"{spec.name}\n")
    _write(files.lab / "sshd_config", sshd_config_text(ip, spec.tcp_forwarding))
    _write(files.lab / "ssh_host_ed25519_key", host_key, 0o600)
    _write(files.lab / "authorized_keys", authorized_key + "\n")
    _write(files.lab / "init.sh", init_script_text(spec.name, ip, files.root), 0o755)
    if spec.kind == "mp":
        _build_mp(spec, files, users)
    elif spec.kind == "router":
        if leaf is None:
            raise ValueError("router needs a certificate")
        _build_router(spec, files, users, leaf)


def _apigee_common(
    files: NodeFiles, component: svc.Component, defaults: tuple[str, ...], spec: NodeSpec
) -> None:
    apigee = files.opt / "apigee"
    for sub in (
        "customer/application",
        f"{component.name}/token",
        f"{component.name}/conf",
        "var/log",
        "var/run",
    ):
        (apigee / sub).mkdir(parents=True, exist_ok=True)
    (apigee / component.name / "token" / "default.properties").write_text("\n".join(defaults) + "\n")
    (apigee / "customer" / "application" / f"{component.short}.properties").write_text(
        "\n".join(spec.customer) + "\n"
    )


def _install_service(files: NodeFiles, uid: int, gid: int) -> None:
    # The tree belongs to apigee like on a real node; the service script itself stays root's.
    _chown_tree(files.opt / "apigee", uid, gid)
    _write(files.opt / "apigee/apigee-service/bin/apigee-service", SERVICE_SCRIPT.read_bytes(), 0o755)
    os.chown(files.opt / "apigee/apigee-service", 0, 0)
    os.chown(files.opt / "apigee/apigee-service/bin", 0, 0)


def _build_mp(spec: NodeSpec, files: NodeFiles, users: LabUsers) -> None:
    _apigee_common(files, svc.MP, MP_DEFAULT_TOKENS, spec)
    defaults = svc.parse_properties("\n".join(MP_DEFAULT_TOKENS))
    customer = svc.parse_properties("\n".join(spec.customer))
    (files.opt / "apigee/edge-message-processor/conf/system.properties").write_text(
        svc.render_system_properties(defaults, customer)
    )
    if spec.java_process:
        source = files.in_opt(svc.MP.java_source)
        source.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(READY_SERVER, source)
        files.in_opt(svc.JAVA_KNOB).write_text("MP listener runs as a JVM (lab knob)\n")
    _install_service(files, users.apigee_uid, users.apigee_gid)
    if spec.java is not None:
        build_java8(files.in_opt(spec.java.home), spec.java.update, spec.java.crypto_policy)


def _build_router(spec: NodeSpec, files: NodeFiles, users: LabUsers, leaf: Pem) -> None:
    _apigee_common(files, svc.ROUTER, ROUTER_DEFAULT_TOKENS, spec)
    _install_service(files, users.apigee_uid, users.apigee_gid)
    nginx = files.opt / "nginx"
    for sub in ("conf.d", "ssl", "logs", "run", "tmp"):
        (nginx / sub).mkdir(parents=True, exist_ok=True)
    _write(nginx / "nginx.conf", NGINX_MAIN_CONF)
    _write(nginx / "ssl/server.crt", leaf.cert)
    _write(nginx / "ssl/server.key", leaf.key, 0o600)
    defaults = svc.parse_properties("\n".join(ROUTER_DEFAULT_TOKENS))
    customer = svc.parse_properties("\n".join(spec.customer))
    _write(
        nginx / "conf.d/0-default.conf",
        svc.render_router_conf(spec.name, *svc.router_settings(defaults, customer)),
    )


def apply_after_start(spec: NodeSpec, files: NodeFiles, users: LabUsers) -> bool:
    """Operator edits made since the last restart. Returns True when nginx must reload to see them."""
    component = svc.MP if spec.kind == "mp" else svc.ROUTER
    customer = files.in_opt(component.customer_file)
    if spec.customer_after_start is not None:
        customer.write_text("\n".join(spec.customer_after_start) + "\n")
    if spec.customer_root_owned:
        os.chown(customer, 0, 0)
        os.chmod(customer, spec.customer_mode)
    if spec.stale_cert:  # a wrong certificate copied in without its key and without a reload
        _write(files.in_opt(svc.NGINX_CERT), stale_router_cert_pem())
    if spec.drift_protocols is not None:
        conf = files.in_opt(svc.NGINX_DEFAULT_CONF)
        lines = [
            f"    ssl_protocols {spec.drift_protocols};" if ln.strip().startswith("ssl_protocols ") else ln
            for ln in conf.read_text().splitlines()
        ]
        conf.write_text("\n".join(lines) + "\n")
        return True
    return False
