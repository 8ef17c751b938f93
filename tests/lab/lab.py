"""Start and stop a lab of real OpenSSH nodes, one set of namespaces per node (reference/lab.md).

Shape: a bridge namespace ``fxlX-br`` (bridge br0, 127.77.X.254/24) and per node a namespace
``fxlX-<host>`` whose eth0 (127.77.X.<host>/24) is a veth into the bridge. Each node's init runs as
``setsid -f ip netns exec <ns> unshare --mount --uts --propagation private /bin/sh init.sh`` and ends
by exec'ing sshd, so the recorded init PID is the sshd PID and nsenter on it reaches the node.
The scenario lab also has ``fxlX-be``: one nginx serving the TLS backends (tests/lab/backends.py).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.lab import backends as be
from tests.lab import netns, procs
from tests.lab.certs import CertAuthority, ssh_ed25519
from tests.lab.components import reload_nginx, start_components
from tests.lab.inventory import write_inventory, write_known_hosts, write_ssh_config
from tests.lab.node import (
    SECURE_PATH,
    LabUsers,
    NodeFiles,
    apply_after_start,
    build_node,
    etc_files,
    pick_users,
)
from tests.lab.scenarios import NodeSpec, bench_specs, scenario_specs
from tests.lab.state import STATE_FILE, ExtraPid, LabError, LabState, NodeState

log = logging.getLogger(__name__)

SUDO_PASSWORD = "fixer-lab-sudo"
START_TIMEOUT = 30.0
BACKEND_VETH = "vbe"  # the backends' veth end in the bridge namespace
IPV6_OFF = "/proc/sys/net/ipv6/conf/all/disable_ipv6"
SYSCTL_SCRIPT = (
    "echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet && "
    "echo 1 > /proc/sys/net/ipv4/conf/default/route_localnet && "
    f"{{ [ ! -e {IPV6_OFF} ] || echo 1 > {IPV6_OFF}; }}"
)
Argv = Sequence[str | os.PathLike[str]]


def _run(argv: Argv, kw: dict[str, Any]) -> subprocess.CompletedProcess[Any]:
    """subprocess.run with the lab's defaults: bounded, text, output captured, no exception on rc."""
    kw.setdefault("timeout", 60)
    kw.setdefault("check", False)
    if not {"stdout", "stderr", "capture_output"} & kw.keys():
        kw["capture_output"] = True
    kw.setdefault("text", True)
    return subprocess.run([os.fspath(a) for a in argv], **kw)


class Lab:
    def __init__(self, lab_dir: Path, state: LabState) -> None:
        self.dir = lab_dir
        self.state = state

    # ------------------------------------------------------------------ public paths and facts

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yml"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def ssh_config(self) -> Path:
        return self.dir / "ssh_config"

    @property
    def key_file(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def bridge_netns(self) -> str:
        if self.state.octet is None:
            raise LabError("lab has no network")
        return netns.bridge_netns_name(self.state.octet)

    @property
    def nodes(self) -> dict[str, str]:
        """Every inventory host -> ip, including hosts with no node behind them (mp-down)."""
        return {name: node.ip for name, node in self.state.nodes.items()}

    @property
    def live_nodes(self) -> dict[str, str]:
        """Hosts that have a running sshd."""
        return {name: node.ip for name, node in self.state.nodes.items() if node.kind != "absent"}

    @property
    def sudo_password(self) -> str:
        return self.state.sudo_password

    # The backends' CA files as every node sees them (the lab dir itself may be hidden inside a node).
    node_backend_ca = f"{be.NODE_DIR}/ca.pem"
    node_backend_intermediate = f"{be.NODE_DIR}/inter.pem"

    @property
    def backend_dir(self) -> Path:
        """``<lab dir>/backends``: certificates of the TLS backends and their nginx (tests/lab/backends.py)."""
        return self.dir / "backends"

    @property
    def backend_ca(self) -> Path:
        """The truststore for the backends: the lab root CA (PEM; the same root as ``ca_file``)."""
        return self.backend_dir / "ca.pem"

    @property
    def backend_intermediate(self) -> Path:
        """The intermediate CA that issued be-incomplete's leaf (PEM); be-incomplete does not send it."""
        return self.backend_dir / "inter.pem"

    @property
    def backends(self) -> dict[str, be.Backend]:
        """The TLS backends by name (be-good, be-tls10, ...); empty in bench mode."""
        found = {}
        for spec in be.BACKEND_SPECS:
            if spec.name in self.state.backends:
                cert = self.backend_dir / f"{spec.name}.pem" if spec.listening else None
                found[spec.name] = be.Backend(spec.name, spec.dns, self.state.backends[spec.name], spec.what, cert)
        return found

    def backend_url(self, name: str) -> str:
        """``https://<name>.backend.lab:443/``: what an MP's target URL for backend ``name`` would be."""
        return self.backends[name].url

    def node_path(self, name: str, inner: str | Path) -> Path:
        """Host path of ``inner`` (an absolute path under /opt inside node ``name``)."""
        return NodeFiles(self._node_root(name)).in_opt(inner)

    # ------------------------------------------------------------------ running things

    def run(self, argv: Argv, **kw: Any) -> subprocess.CompletedProcess[Any]:
        """Run a command inside the bridge namespace, where every node is reachable."""
        return _run(["ip", "netns", "exec", self.bridge_netns, *argv], kw)

    def node_exec(self, name: str, argv: Argv, **kw: Any) -> subprocess.CompletedProcess[Any]:
        """Run a command as root inside node ``name`` (its net, mount and uts namespaces)."""
        node = self.state.nodes[name]
        if node.pid is None or not procs.is_alive(node.pid, node.starttime):
            raise LabError(f"node {name} is not running")
        # A node-like environment: the caller's PATH may point into the host's /root (pyenv shims).
        kw.setdefault("env", {"PATH": SECURE_PATH, "HOME": "/root", "LANG": "C.UTF-8"})
        return _run(["nsenter", "-t", str(node.pid), "-n", "-m", "-u", "--", *argv], kw)

    def ssh_argv(self, name: str, *command: str) -> list[str]:
        """An ``ssh`` command line to ``fixer@<ip of name>`` checking the lab's known_hosts."""
        options = [
            "IdentitiesOnly=yes",
            f"UserKnownHostsFile={self.known_hosts}",
            "StrictHostKeyChecking=yes",
            "BatchMode=yes",
            "ConnectTimeout=5",
        ]
        argv = ["ssh", "-F", "/dev/null", "-i", str(self.key_file)]
        for option in options:
            argv += ["-o", option]
        return [*argv, f"fixer@{self.nodes[name]}", *command]

    def ssh(self, name: str, command: str, **kw: Any) -> subprocess.CompletedProcess[Any]:
        return self.run(self.ssh_argv(name, command), **kw)

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def load(cls, workdir: Path | str) -> Lab:
        lab_dir = Path(workdir).resolve()
        if not (lab_dir / STATE_FILE).exists():
            raise LabError(f"no lab state in {lab_dir}")
        return cls(lab_dir, LabState.load(lab_dir))

    @classmethod
    def up(
        cls, workdir: Path | str | None = None, bench: int | None = None, components: bool | None = None
    ) -> Lab:
        """Start a lab. ``components`` (apigee-service start on every MP/router: readiness listeners,
        nginx) defaults to on for the scenario lab and off in bench mode, where ``components=True``
        starts each bench MP's python readiness listener (for benchmarks that restart MPs)."""
        if os.geteuid() != 0:
            raise LabError("the lab needs root (network namespaces, mounts)")
        specs = bench_specs(bench) if bench is not None else scenario_specs(SUDO_PASSWORD)
        owns_dir = workdir is None
        lab_dir = Path(tempfile.mkdtemp(prefix="fixer-lab-")) if workdir is None else Path(workdir).resolve()
        lab_dir.mkdir(parents=True, exist_ok=True)
        if (lab_dir / STATE_FILE).exists():
            old = cls.load(lab_dir)
            if old.state.status in ("starting", "up") and old.anything_left():
                raise LabError(f"a lab is already up in {lab_dir}; run down first")
        state = LabState(
            status="starting",
            owns_dir=owns_dir,
            bench=bench,
            components=(bench is None) if components is None else components,
            sudo_password=SUDO_PASSWORD,
        )
        lab = cls(lab_dir, state)
        started = time.monotonic()
        try:
            lab._start(specs)
        except BaseException as exc:
            log.error("lab up failed (%s); cleaning up", exc)
            lab.state.status = "failed"
            try:
                lab.down()
            except Exception:  # keep the original error; the state file still allows a later down
                log.exception(
                    "cleanup after the failed up failed too; run: python -m tests.lab down --dir %s", lab_dir
                )
            raise
        state.status = "up"
        state.timings["up"] = round(time.monotonic() - started, 3)
        state.save(lab_dir)
        return lab

    def down(self) -> None:
        """End everything recorded; idempotent and safe after a half-finished up."""
        started = time.monotonic()
        existing = [name for name in self.state.netns if netns.netns_exists(name)]
        inodes = {ino for ino in (netns.netns_inode(name) for name in existing) if ino is not None}
        protected = procs.own_lineage()
        targets = {
            rec.pid
            for rec in [*self.state.nodes.values()]
            if rec.pid is not None and procs.is_alive(rec.pid, rec.starttime)
        }
        targets |= {x.pid for x in self.state.extra_pids if procs.is_alive(x.pid, x.starttime)}
        # Processes started inside the nodes since up (restarted listeners, nginx, sshd sessions) and
        # clients left in the bridge namespace: all live in a namespace this lab created.
        for _ in range(4):
            targets |= set(procs.pids_in_netns(inodes))
            targets -= protected
            if not targets:
                break
            stuck = procs.terminate(targets)
            if stuck:
                raise LabError(f"processes would not die: {stuck}")
            targets = set()
        if existing:
            netns.ip_batch([f"netns delete {name}" for name in existing], force=True)
        left = [name for name in self.state.netns if netns.netns_exists(name)]
        if left:
            raise LabError(f"network namespaces left behind: {left}")
        if self.state.status != "new":
            self.state.status = "down"
        self.state.timings["down"] = round(time.monotonic() - started, 3)
        if self.state.owns_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        elif self.dir.exists():
            self.state.save(self.dir)

    @classmethod
    def reap(cls, octet: int) -> None:
        """Recovery only, when a lab's directory (its state record) was lost: end what lives in the
        namespaces named ``fxl<octet>-*`` (all created by a lab) and delete them."""
        names = [n for n in netns.list_netns() if n.startswith(f"{netns.prefix_for(octet)}-")]
        # owns_dir with a directory that does not exist: nothing is written anywhere.
        ghost = Path(tempfile.gettempdir()) / f"fixer-lab-reap-{octet}-{os.getpid()}"
        cls(ghost, LabState(status="up", octet=octet, netns=names, owns_dir=True)).down()

    def anything_left(self) -> bool:
        if any(netns.netns_exists(name) for name in self.state.netns):
            return True
        recorded = [(n.pid, n.starttime) for n in self.state.nodes.values() if n.pid is not None]
        recorded += [(x.pid, x.starttime) for x in self.state.extra_pids]
        return any(procs.is_alive(pid, start) for pid, start in recorded)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    # ------------------------------------------------------------------ start-up steps

    def _node_root(self, name: str) -> Path:
        return self.dir / "nodes" / name

    def _save(self) -> None:
        self.state.save(self.dir)

    def _start(self, specs: list[NodeSpec]) -> None:
        users = pick_users(self.state.sudo_password)
        self.state.users = {
            "apigee_uid": users.apigee_uid,
            "apigee_gid": users.apigee_gid,
            "fixer_uid": users.fixer_uid,
            "fixer_gid": users.fixer_gid,
        }
        octet = netns.claim_octet()
        self.state.octet = octet
        self.state.netns = [netns.bridge_netns_name(octet)]
        for spec in specs:
            ns = None if spec.kind == "absent" else netns.node_netns_name(octet, spec.host)
            self.state.nodes[spec.name] = NodeState(
                spec.name, netns.lab_ip(octet, spec.host), spec.kind, spec.group, ns
            )
        if self.state.bench is None:
            self.state.backends = {s.name: netns.lab_ip(octet, s.host) for s in be.BACKEND_SPECS}
        self._save()  # the claimed bridge namespace is on record before anything else is created

        live = [s for s in specs if s.kind != "absent"]
        mark = time.monotonic()

        def phase(name: str) -> None:
            nonlocal mark
            now = time.monotonic()
            self.state.timings[f"up.{name}"] = round(now - mark, 3)
            mark = now

        host_keys = self._write_files(specs, live, users)
        phase("files")
        self._create_network(live, [s for s in specs if s.kind == "absent"])
        phase("network")
        backends = self._spawn_backends()  # nginx starts while the nodes do
        self._spawn_nodes(live)
        self._wait_for_sshd(live)
        self._wait_for_backends(backends)
        phase("sshd")
        self._write_client_files(specs, host_keys)
        if self.state.components:
            start_components(self, [s for s in live if s.kind in ("mp", "router")])
        for spec in live:
            if spec.kind in ("mp", "router") and apply_after_start(
                spec, NodeFiles(self._node_root(spec.name)), users
            ):
                reload_nginx(self, spec.name)
        phase("components")

    def _write_files(self, specs: list[NodeSpec], live: list[NodeSpec], users: LabUsers) -> dict[str, str]:
        user_key = ssh_ed25519("fixer@lab")
        self.key_file.write_bytes(user_key.private_openssh)
        self.key_file.chmod(0o600)
        self.key_file.with_suffix(".pub").write_text(user_key.public_line + "\n")
        ca = CertAuthority() if any(s.kind == "router" for s in live) or self.state.backends else None
        if ca is not None:
            self.ca_file.write_bytes(ca.cert_pem)
        hosts = "127.0.0.1 localhost\n::1 localhost\n" + "".join(
            f"{self.nodes[s.name]} {s.name}\n" for s in live
        )
        if ca is not None and self.state.backends:
            be.write_backends(self.backend_dir, ca, self.state.backends)
            hosts += be.hosts_lines(self.state.backends)
        etc = etc_files(users)
        public_keys: dict[str, str] = {}
        shutil.rmtree(self.dir / "nodes", ignore_errors=True)  # leftovers of an earlier lab in this dir
        (self.dir / "nodes").mkdir()
        os.chmod(self.dir / "nodes", 0o755)
        for spec in live:
            host_key = ssh_ed25519(f"root@{spec.name}")
            public_keys[spec.name] = " ".join(host_key.public_line.split()[:2])  # no comment in known_hosts
            ip = self.nodes[spec.name]
            leaf = ca.leaf(spec.name, ip) if ca is not None and spec.kind == "router" else None
            files = NodeFiles(self._node_root(spec.name))
            key = host_key.private_openssh
            build_node(spec, files, ip, users, etc, key, user_key.public_line, hosts, leaf)
            if self.state.backends:  # the backends' CA files inside the node, for clients run there
                be.copy_trust(self.backend_dir, files.lab / "backends")
        return public_keys

    def _create_network(self, live: list[NodeSpec], absent: list[NodeSpec]) -> None:
        bridge = self.bridge_netns
        node_ns = {s.name: self.state.nodes[s.name].netns or "" for s in live}
        self.state.netns += list(node_ns.values())
        backend_ns = [netns.backend_netns_name(self.state.octet or 0)] if self.state.backends else []
        self.state.netns += backend_ns
        self._save()  # recorded before creation: a failing batch still leaves a complete record
        netns.ip_batch(
            [f"netns add {ns}" for ns in [*node_ns.values(), *backend_ns]]
            + [
                f"link add name v{s.host} netns {bridge} type veth peer name eth0 netns {node_ns[s.name]}"
                for s in live
            ]
            + [f"link add name {BACKEND_VETH} netns {bridge} type veth peer name eth0 netns {ns}" for ns in backend_ns]
        )
        octet = self.state.octet
        bridge_cmds = [
            "link set lo up",
            "address del 127.0.0.1/8 dev lo",
            "address add 127.0.0.1/32 dev lo",
            "link add br0 type bridge",
            f"address add {netns.lab_ip(octet or 0, 254)}/24 dev br0",
            "link set br0 up",
        ]
        veths = [f"v{s.host}" for s in live] + ([BACKEND_VETH] if backend_ns else [])
        for veth in veths:
            bridge_cmds += [f"link set {veth} master br0", f"link set {veth} up"]
        # A host in the inventory with no machine behind it: fail at once with "No route to host"
        # (what a dead host gives after ARP gives up) instead of making every test wait 3 s for ARP.
        bridge_cmds += [f"route add unreachable {self.nodes[s.name]}/32" for s in absent]
        netns.ip_batch(bridge_cmds, netns=bridge)
        # route_localnet lets 127.x work on br0; IPv6 goes off only to keep packet captures quiet.
        _run(["ip", "netns", "exec", bridge, "/bin/sh", "-c", SYSCTL_SCRIPT], {"check": True})

    def _spawn_nodes(self, live: list[NodeSpec]) -> None:
        spawners = []
        for spec in live:
            files = NodeFiles(self._node_root(spec.name))
            with files.log_file.open("ab") as log_fh:
                # setsid -f: the node is nobody's child here, so it never becomes our zombie and
                # outlives a CLI "up"; its PID comes from the pid file its init writes.
                argv = [
                    *["setsid", "-f", "ip", "netns", "exec"],
                    self.state.nodes[spec.name].netns or "",
                    *["unshare", "--mount", "--uts", "--propagation", "private", "/bin/sh"],
                    str(files.lab / "init.sh"),
                ]
                spawners.append(
                    subprocess.Popen(
                        argv, stdin=subprocess.DEVNULL, stdout=log_fh, stderr=log_fh, close_fds=True
                    )
                )
        for proc in spawners:
            if proc.wait(timeout=10) != 0:
                raise LabError(f"setsid failed: {proc.args!r}")

    def _spawn_backends(self) -> subprocess.Popen[bytes] | None:
        """Addresses and nginx of the TLS backends, in their namespace; does not wait (see below)."""
        if not self.state.backends:
            return None
        top = self.backend_dir
        script = be.start_script(top, self.state.backends, SYSCTL_SCRIPT)
        with (top / "nginx" / "start.log").open("ab") as log_fh:
            argv = ["ip", "netns", "exec", netns.backend_netns_name(self.state.octet or 0), "/bin/sh", "-c", script]
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_fh, stderr=log_fh, close_fds=True)

    def _wait_for_backends(self, starter: subprocess.Popen[bytes] | None) -> None:
        """nginx daemonizes: its starter exits at once, the master writes its pid file just after."""
        if starter is None:
            return
        top = self.backend_dir
        if starter.wait(timeout=START_TIMEOUT) != 0:
            raise LabError(f"backend start failed:\n{_tail(top / 'nginx' / 'start.log')}")
        first = self.state.backends[be.BACKEND_SPECS[0].name]  # be-good listens
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                pid = int(be.pid_file(top).read_text())
            except (OSError, ValueError):
                pid = 0
            starttime = procs.proc_starttime(pid) if pid else None
            if starttime is not None and netns.listening(pid, first, be.PORT):
                break
            if time.monotonic() > deadline:
                raise LabError(f"backend nginx not listening after {START_TIMEOUT}s:\n"
                               f"{_tail(top / 'nginx' / 'error.log')}")
            time.sleep(0.005)
        self.state.extra_pids.append(ExtraPid(pid, starttime, "backend nginx"))
        self._save()

    def _wait_for_sshd(self, live: list[NodeSpec]) -> None:
        pending = {s.name for s in live}
        deadline = time.monotonic() + START_TIMEOUT
        while pending:
            for name in sorted(pending):
                node = self.state.nodes[name]
                files = NodeFiles(self._node_root(name))
                if node.pid is None:
                    try:
                        node.pid = int(files.pid_file.read_text())
                        node.starttime = procs.proc_starttime(node.pid)
                    except (OSError, ValueError):
                        continue
                if not procs.is_alive(node.pid, node.starttime):
                    raise LabError(f"node {name} died during start-up:\n{_tail(files.log_file)}")
                if netns.listening(node.pid, node.ip, 22):
                    pending.discard(name)
            if pending and time.monotonic() > deadline:
                first = sorted(pending)[0]
                raise LabError(
                    f"sshd not listening on {sorted(pending)} after {START_TIMEOUT}s; log of {first}:\n"
                    f"{_tail(NodeFiles(self._node_root(first)).log_file)}"
                )
            if pending:
                time.sleep(0.01)
        self._save()

    def _write_client_files(self, specs: list[NodeSpec], host_keys: dict[str, str]) -> None:
        entries = []
        for spec in specs:
            if spec.name not in host_keys:
                continue
            key = host_keys[spec.name]
            if spec.wrong_known_host_key:
                key = ssh_ed25519().public_line  # a different, valid key: the client must refuse
            entries.append((self.nodes[spec.name], key))
        write_known_hosts(self.known_hosts, entries)
        write_inventory(self.dir, specs, self.nodes, self.key_file, self.known_hosts)
        write_ssh_config(self.ssh_config, self.nodes, self.key_file, self.known_hosts)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
