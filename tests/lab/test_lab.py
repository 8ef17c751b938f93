"""The lab itself: nodes, SSH, sudo, ownership, the apigee-service stand-in, nginx TLS, clean teardown."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paramiko
import pytest
import yaml

from tests.lab import Lab, LabError, enter_netns, netns, procs
from tests.lab import apigee_service as svc
from tests.lab.scenarios import MP_GROUP, ROUTER_GROUP

pytestmark = pytest.mark.lab

SERVICE = "/opt/apigee/apigee-service/bin/apigee-service"
MP_CUSTOMER = "/opt/apigee/customer/application/message-processor.properties"
MP_SYSTEM = "/opt/apigee/edge-message-processor/conf/system.properties"
ROUTER_CUSTOMER = "/opt/apigee/customer/application/router.properties"
ROUTER_CONF = "/opt/nginx/conf.d/0-default.conf"
REPO = Path(__file__).resolve().parents[2]
JAVA_NODE = "mp-java-proc"
MP_PID_FILE = "/opt/apigee/var/run/edge-message-processor.pid"
# Inside a node, like fixer's discovery: "<pid> <exe>" of every process whose command line names
# edge-message-processor, limited to the node's own network namespace (nodes share the host's PID
# namespace, so /proc also shows other nodes' listeners). The pattern is assembled at run time so this
# shell's own command line does not match it.
NODE_MP_PROCS = r"""
p=edge-message-; p="${p}processor"; me=$(readlink /proc/self/ns/net)
for f in $(grep -l -a -s -e "$p" /proc/[0-9]*/cmdline); do
  d=${f%/cmdline}
  [ "$(readlink "$d/ns/net" 2>/dev/null)" = "$me" ] || continue
  printf '%s %s\n' "${d#/proc/}" "$(readlink "$d/exe" 2>/dev/null)"
done
"""
READY_BODY = (
    "import urllib.request as u; "
    "print(u.urlopen('http://127.0.0.1:8082/v1/servers/self/up', timeout=5).read().decode())"
)


@contextmanager
def restored(lab: Lab, node: str, *inner: str) -> Iterator[None]:
    """Put files of the shared session lab back as they were (content and ownership) after a test."""
    saved = []
    for path in (lab.node_path(node, p) for p in inner):
        st = path.stat()
        saved.append((path, path.read_bytes(), st.st_uid, st.st_gid, st.st_mode))
    try:
        yield
    finally:
        for path, data, uid, gid, mode in saved:
            path.write_bytes(data)
            path.chmod(mode & 0o7777)
            os.chown(path, uid, gid)


def service(lab: Lab, node: str, *args: str) -> subprocess.CompletedProcess[str]:
    return lab.node_exec(node, [SERVICE, *args])


def tls(lab: Lab, node: str, *options: str) -> subprocess.CompletedProcess[str]:
    argv = [
        "openssl",
        "s_client",
        "-connect",
        f"{lab.nodes[node]}:443",
        "-servername",
        node,
        "-CAfile",
        str(lab.ca_file),
        "-brief",
        *options,
    ]
    return lab.run(argv, input="", timeout=15)


# ---------------------------------------------------------------- layout and client files


def test_inventory_and_client_files(lab: Lab) -> None:
    doc = yaml.safe_load(lab.inventory.read_text())
    groups = doc["all"]["children"]
    assert set(groups) == {MP_GROUP, ROUTER_GROUP, "bastions"}
    mps = groups[MP_GROUP]["hosts"]
    assert mps["mp-down"]["ansible_host"] == lab.nodes["mp-down"]
    assert mps["mp-jce-old"]["fixer_java_home"] == "/opt/java/jdk8u144"
    assert mps["mp-sudo-pass"]["ansible_become_password"] == lab.sudo_password
    assert "fixer_java_home" not in mps["mp-healthy"]
    assert "fixer_java_home" not in mps[JAVA_NODE]  # found by fixer from the running JVM
    rt = groups[ROUTER_GROUP]["hosts"]["rt-cipher-mismatch"]
    assert rt["fixer_client_ciphers"] == ["AES128-SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256"]
    group_vars = yaml.safe_load((lab.inventory.parent / "group_vars" / "all.yml").read_text())
    assert group_vars["ansible_user"] == "fixer"
    assert group_vars["ansible_become"] is True
    assert Path(group_vars["ansible_ssh_private_key_file"]) == lab.key_file
    assert all(ip.startswith(f"127.77.{lab.state.octet}.") for ip in lab.nodes.values())
    known = dict(line.split(" ", 1) for line in lab.known_hosts.read_text().splitlines())
    assert set(known) == set(lab.live_nodes.values())
    assert "mp-via-bastion" in lab.ssh_config.read_text()


# ---------------------------------------------------------------- SSH and sudo


def test_ssh_as_fixer_with_key(lab: Lab) -> None:
    proc = lab.ssh("mp-healthy", "hostname; id -un; command -v java")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["mp-healthy", "fixer", "/usr/bin/java"]


def test_paramiko_from_a_thread_in_the_bridge_netns(lab: Lab) -> None:
    results: dict[str, object] = {}

    def worker() -> None:
        enter_netns(lab.bridge_netns)  # this thread only: pytest's own threads stay outside
        for name in ("mp-healthy", "mp-badkey"):
            client = paramiko.SSHClient()
            client.load_host_keys(str(lab.known_hosts))
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            try:
                client.connect(
                    lab.nodes[name],
                    username="fixer",
                    key_filename=str(lab.key_file),
                    look_for_keys=False,
                    allow_agent=False,
                    timeout=10,
                )
                _, stdout, _ = client.exec_command(f"cat {MP_CUSTOMER}", timeout=10)
                results[name] = stdout.read().decode()
            except paramiko.BadHostKeyException as exc:
                results[name] = exc
            finally:
                client.close()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(30)
    assert "conf_system_jsse.enableSNIExtension=true" in str(results["mp-healthy"])
    assert isinstance(results["mp-badkey"], paramiko.BadHostKeyException)


def test_wrong_known_host_key_is_refused(lab: Lab) -> None:
    proc = lab.ssh("mp-badkey", "true")
    assert proc.returncode == 255
    assert "Host key verification failed" in proc.stderr


def test_down_node_is_unreachable_fast(lab: Lab) -> None:
    started = time.monotonic()
    proc = lab.ssh("mp-down", "true")
    assert proc.returncode == 255
    assert "No route to host" in proc.stderr
    assert time.monotonic() - started < 4.5  # below ConnectTimeout=5: refused at once, no ARP wait


def test_proxyjump_through_bastion(lab: Lab) -> None:
    proc = lab.run(["ssh", "-F", str(lab.ssh_config), "mp-via-bastion", "hostname"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "mp-healthy"


def test_sudo_behaviours(lab: Lab) -> None:
    pw = lab.sudo_password
    ok = lab.ssh("mp-healthy", "sudo -n id -un")
    assert (ok.returncode, ok.stdout.strip()) == (0, "root")
    nosudo = lab.ssh("mp-nosudo", f"echo {pw} | sudo -S -p '' id -un")
    assert nosudo.returncode != 0
    assert "not in the sudoers file" in nosudo.stderr
    need = lab.ssh("mp-sudo-pass", "sudo -n true")
    assert need.returncode != 0
    assert "password is required" in need.stderr
    with_pw = lab.ssh("mp-sudo-pass", f"echo {pw} | sudo -S -p '' id -un")
    assert (with_pw.returncode, with_pw.stdout.strip()) == (0, "root")
    wrong = lab.ssh("mp-sudo-pass", "echo wrong | sudo -S -p '' true")
    assert wrong.returncode != 0


# ---------------------------------------------------------------- node files


def test_ownership_inside_nodes(lab: Lab) -> None:
    healthy = lab.ssh("mp-healthy", f"stat -c '%U:%G %a' {MP_CUSTOMER}")
    assert healthy.stdout.strip() == "apigee:apigee 644"
    java = lab.node_exec(JAVA_NODE, ["stat", "-c", "%U:%G %a", MP_CUSTOMER])
    assert java.stdout.strip() == "apigee:apigee 644"
    owner = lab.ssh("mp-owner", f"stat -c '%U:%G %a' {MP_CUSTOMER}; cat {MP_CUSTOMER}")
    assert owner.stdout.strip() == "root:root 600"
    assert "Permission denied" in owner.stderr
    as_root = lab.ssh("mp-owner", f"sudo -n cat {MP_CUSTOMER}")
    assert "enableSNIExtension=true" in as_root.stdout
    router = lab.node_exec("rt-owner", ["stat", "-c", "%U:%G %a", ROUTER_CUSTOMER])
    assert router.stdout.strip() == "root:root 644"


def test_mp_scenario_files(lab: Lab) -> None:
    def read(node: str, inner: str) -> str:
        return lab.node_path(node, inner).read_text()

    assert "jsse.enableSNIExtension=true" in read("mp-healthy", MP_SYSTEM)
    assert "https.protocols=TLSv1.2,TLSv1.3" in read("mp-healthy", MP_SYSTEM)
    assert "conf_system_jsse.enableSNIExtension=true" in read(JAVA_NODE, MP_CUSTOMER)
    assert "jsse.enableSNIExtension=true" in read(JAVA_NODE, MP_SYSTEM)
    assert "enableSNIExtension" not in read("mp-sni-off", MP_CUSTOMER) + read("mp-sni-off", MP_SYSTEM)
    assert "jsse.enableSNIExtension=false" in read("mp-sni-false", MP_SYSTEM)
    assert "conf_system_jsse.enableSNIExtension=true" in read("mp-restart-pending", MP_CUSTOMER)
    assert "enableSNIExtension" not in read("mp-restart-pending", MP_SYSTEM)
    assert "conf/system.properties+jsse.enableSNIExtension=true" in read("mp-plus-form", MP_CUSTOMER)
    assert "jsse.enableSNIExtension=true" in read("mp-plus-form", MP_SYSTEM)
    assert "ssl_protocols TLSv1.2;" in read("rt-drift", ROUTER_CONF)
    assert "protocols=TLSv1.2 TLSv1.3" in read("rt-drift", ROUTER_CUSTOMER)


@pytest.mark.parametrize(
    ("node", "home", "policy", "layout"),
    [
        ("mp-jce-limited", "/opt/java/jdk8u161", "crypto.policy=limited", "policy"),
        ("mp-jce-old", "/opt/java/jdk8u144", None, "flat"),
        ("mp-jce-ok", "/opt/java/jdk8u202", "crypto.policy=unlimited", "policy"),
    ],
)
def test_fake_java_trees(lab: Lab, node: str, home: str, policy: str | None, layout: str) -> None:
    root = lab.node_path(node, home)
    update = home.rsplit("u", 1)[1]
    assert f'JAVA_VERSION="1.8.0_{update}"' in (root / "release").read_text()
    security = root / "jre/lib/security"
    text = (security / "java.security").read_text()
    assert "jdk.tls.disabledAlgorithms=SSLv3, RC4, DES, MD5withRSA" in text
    if policy is None:
        assert "crypto.policy" not in text
    else:
        assert policy in text
    if layout == "flat":
        jars = {"limited": security}
        assert not (security / "policy").exists()
    else:
        jars = {"limited": security / "policy/limited", "unlimited": security / "policy/unlimited"}
    for kind, directory in jars.items():
        with zipfile.ZipFile(directory / "local_policy.jar") as jar:
            local = jar.read("default_local.policy").decode()
        with zipfile.ZipFile(directory / "US_export_policy.jar") as jar:
            assert "CryptoAllPermission" in jar.read("default_US_export.policy").decode()
        if kind == "limited":
            assert '"AES", 128' in local
        else:
            assert "CryptoAllPermission" in local


# ---------------------------------------------------------------- apigee-service stand-in


def test_restart_rerenders_mp_tokens(lab: Lab) -> None:
    customer = lab.node_path("mp-healthy", MP_CUSTOMER)
    log = lab.node_path("mp-healthy", "/opt/apigee/var/log/apigee-service.log")
    with restored(lab, "mp-healthy", MP_CUSTOMER):
        customer.write_text(customer.read_text() + "conf/system.properties+lab.extra=42\n")
        before = log.read_text().count(" restart ok")
        proc = service(lab, "mp-healthy", "edge-message-processor", "restart")
        assert proc.returncode == 0, proc.stderr
        assert "lab.extra=42" in lab.node_path("mp-healthy", MP_SYSTEM).read_text()
        assert log.read_text().count(" restart ok") == before + 1
        ready = service(lab, "mp-healthy", "message-processor", "wait_for_ready")
        assert ready.returncode == 0
    assert service(lab, "mp-healthy", "edge-message-processor", "restart").returncode == 0
    assert "lab.extra" not in lab.node_path("mp-healthy", MP_SYSTEM).read_text()


def test_restart_refused_unless_apigee_owned(lab: Lab) -> None:
    proc = service(lab, "mp-owner", "edge-message-processor", "restart")
    assert proc.returncode == 1
    assert "apigee:apigee" in proc.stderr
    assert service(lab, "mp-owner", "edge-message-processor", "status").returncode == 0


def test_knobs_fail_restart_and_never_ready(lab: Lab) -> None:
    node, var = "mp-healthy", "/opt/apigee/var"
    try:
        lab.node_exec(
            node, ["sh", "-c", f"touch {var}/never-ready; echo 0.3 > {var}/ready-timeout"], check=True
        )
        assert service(lab, node, "edge-message-processor", "wait_for_ready").returncode == 1
        lab.node_exec(node, ["rm", f"{var}/never-ready"], check=True)
        assert service(lab, node, "edge-message-processor", "wait_for_ready").returncode == 0
        lab.node_exec(node, ["touch", f"{var}/fail-restart"], check=True)
        assert service(lab, node, "edge-message-processor", "restart").returncode == 1
        assert service(lab, node, "edge-message-processor", "status").returncode == 1
    finally:
        lab.node_exec(node, ["rm", "-f", f"{var}/fail-restart", f"{var}/never-ready", f"{var}/ready-timeout"])
        service(lab, node, "edge-message-processor", "start")
    assert service(lab, node, "edge-message-processor", "wait_for_ready").returncode == 0


def mp_processes(lab: Lab, node: str) -> dict[int, str]:
    """pid -> /proc/<pid>/exe, read inside ``node``, of its processes naming edge-message-processor."""
    proc = lab.node_exec(node, ["sh", "-c", NODE_MP_PROCS], check=True)
    return {int(pid): exe for pid, exe in (line.split(" ", 1) for line in proc.stdout.splitlines())}


def test_java_mp_component_is_a_real_jvm(lab: Lab) -> None:
    jdk_java = os.path.realpath(shutil.which("java") or "no java on this host")
    assert jdk_java.endswith("/bin/java")
    pid = int(lab.node_path(JAVA_NODE, MP_PID_FILE).read_text())
    pid_start = procs.proc_starttime(pid)
    assert mp_processes(lab, JAVA_NODE) == {pid: jdk_java}  # the JVM, by its full JDK path
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"-Dcomponent=edge-message-processor" in cmdline
    assert any(arg.endswith(b"/ReadyServer.java") for arg in cmdline)
    assert [exe.rsplit("/", 1)[1] for exe in mp_processes(lab, "mp-healthy").values()] == [
        os.path.basename(os.path.realpath("/usr/bin/python3"))
    ]  # opt-in: the other MPs keep the python listener
    assert service(lab, JAVA_NODE, "message-processor", "wait_for_ready").returncode == 0
    assert lab.node_exec(JAVA_NODE, ["python3", "-c", READY_BODY]).stdout.strip() == "true"
    assert service(lab, JAVA_NODE, "edge-message-processor", "status").stdout.strip().endswith(f"(pid {pid})")
    try:  # the JVM honours the never-ready knob like the python listener
        lab.node_exec(JAVA_NODE, ["touch", "/opt/apigee/var/never-ready"], check=True)
        assert lab.node_exec(JAVA_NODE, ["python3", "-c", READY_BODY]).stdout.strip() == "false"
    finally:
        lab.node_exec(JAVA_NODE, ["rm", "-f", "/opt/apigee/var/never-ready"], check=True)
    started = time.monotonic()
    assert service(lab, JAVA_NODE, "edge-message-processor", "restart").returncode == 0
    ready = service(lab, JAVA_NODE, "edge-message-processor", "wait_for_ready")  # default 5 s budget
    restart_s = time.monotonic() - started
    assert ready.returncode == 0, ready.stdout
    new_pid = int(lab.node_path(JAVA_NODE, MP_PID_FILE).read_text())
    assert new_pid != pid
    assert not procs.is_alive(pid, pid_start)  # restart stopped the old JVM
    assert mp_processes(lab, JAVA_NODE) == {new_pid: jdk_java}
    assert restart_s < 5.0


def test_java_listener_resolves_the_jdk_or_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(svc.ServiceError, match="no java on PATH"):
        svc._java_binary()
    jdk_java = os.path.realpath(shutil.which("java", path="/usr/bin:/bin") or "no java on this host")
    (tmp_path / "java").symlink_to("/usr/bin/java")  # like /usr/bin/java -> /etc/alternatives/java -> JDK
    assert svc._java_binary() == jdk_java
    assert jdk_java.endswith("/bin/java") and "/usr/lib/jvm/" in jdk_java


# ---------------------------------------------------------------- routers


def test_nginx_config_valid_on_every_router(lab: Lab) -> None:
    nginx = [
        "/usr/sbin/nginx",
        "-p",
        "/opt/nginx/",
        "-c",
        "/opt/nginx/nginx.conf",
        "-e",
        "/opt/nginx/logs/error.log",
    ]
    for name in lab.state.nodes:
        if name.startswith("rt-"):
            proc = lab.node_exec(name, [*nginx, "-t", "-q"])
            assert proc.returncode == 0, (name, proc.stderr)


def test_router_tls_from_bridge(lab: Lab) -> None:
    healthy = tls(lab, "rt-healthy")
    assert "Protocol version: TLSv1.3" in healthy.stderr
    assert "Verification: OK" in healthy.stderr
    drift = tls(lab, "rt-drift", "-tls1_3")  # the hand edit (TLSv1.2 only) is what nginx serves
    assert "alert protocol version" in drift.stderr
    mismatch = tls(lab, "rt-cipher-mismatch", "-tls1_2", "-cipher", "AES128-SHA")
    assert "alert handshake failure" in mismatch.stderr


def test_router_restart_rerenders_and_keeps_serving_on_bad_config(lab: Lab) -> None:
    customer = lab.node_path("rt-healthy", ROUTER_CUSTOMER)
    conf = lab.node_path("rt-healthy", ROUTER_CONF)
    original = customer.read_text()
    with restored(lab, "rt-healthy", ROUTER_CUSTOMER):
        customer.write_text(original.replace("protocols=TLSv1.2 TLSv1.3", "protocols=TLSv1.2"))
        assert service(lab, "rt-healthy", "edge-router", "restart").returncode == 0
        assert "ssl_protocols TLSv1.2;" in conf.read_text()
        assert "alert protocol version" in tls(lab, "rt-healthy", "-tls1_3").stderr
        customer.write_text(
            original.replace("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384", "NOPE")
        )
        failed = service(lab, "rt-healthy", "edge-router", "restart")
        assert failed.returncode == 1
        assert "nginx -t failed" in failed.stderr
        assert "Protocol version: TLSv1.2" in tls(lab, "rt-healthy").stderr  # old config still serving
    assert service(lab, "rt-healthy", "edge-router", "restart").returncode == 0
    assert "Protocol version: TLSv1.3" in tls(lab, "rt-healthy").stderr


# ---------------------------------------------------------------- lifecycle (own labs)


def _assert_gone(lab: Lab) -> None:
    assert not lab.anything_left()
    assert not [n for n in netns.list_netns() if n.startswith(f"fxl{lab.state.octet}-")]
    pids = [n.pid for n in lab.state.nodes.values() if n.pid] + [x.pid for x in lab.state.extra_pids]
    assert pids
    assert not [p for p in pids if procs.is_alive(p)]
    assert str(lab.dir) not in Path("/proc/self/mountinfo").read_text()


def test_scenario_lab_up_and_down_from_another_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    lab = Lab.up(tmp_path / "lab")
    up_s = time.monotonic() - started
    assert lab.ssh("rt-healthy", "hostname").stdout.strip() == "rt-healthy"
    jvm = int(lab.node_path(JAVA_NODE, MP_PID_FILE).read_text())
    jvm_start = procs.proc_starttime(jvm)
    assert os.readlink(f"/proc/{jvm}/exe").endswith("/bin/java")
    assert f"edge-message-processor (java) on {JAVA_NODE}" in {x.what for x in lab.state.extra_pids}
    backends = next(x for x in lab.state.extra_pids if x.what == "backend nginx")
    assert procs.is_alive(backends.pid, backends.starttime)
    assert lab.state.backends and f"fxl{lab.state.octet}-be" in lab.state.netns
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "tests.lab", "down", "--dir", str(lab.dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    down_s = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    _assert_gone(lab)
    assert not procs.is_alive(jvm, jvm_start)  # down ended the JVM too
    assert not procs.is_alive(backends.pid, backends.starttime)  # and the backends' nginx
    lab.down()  # idempotent, also from the (now stale) in-process object
    Lab.load(lab.dir).down()
    with capsys.disabled():
        print(
            f"\n[lab timing] scenario lab ({len(lab.live_nodes)} nodes): up {up_s:.2f}s "
            f"{lab.state.timings}, down via CLI {down_s:.2f}s"
        )


def test_bench_50_up_and_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    lab = Lab.up(tmp_path / "bench", bench=50)
    up_s = time.monotonic() - started
    try:
        assert len(lab.live_nodes) == 50
        assert lab.ssh("mp050", "hostname").stdout.strip() == "mp050"
        assert not lab.state.extra_pids  # no components in bench mode
    finally:
        started = time.monotonic()
        lab.down()
        down_s = time.monotonic() - started
    _assert_gone(lab)
    with capsys.disabled():
        print(f"\n[lab timing] bench 50: up {up_s:.2f}s, down {down_s:.2f}s")


def test_bench_with_components_restarts_and_is_ready(tmp_path: Path) -> None:
    lab = Lab.up(tmp_path / "bench", bench=3, components=True)
    try:
        assert lab.state.components
        listeners = {x.what: x.pid for x in lab.state.extra_pids}
        assert sorted(listeners) == [f"edge-message-processor on mp00{i}" for i in (1, 2, 3)]
        assert all(procs.is_alive(pid) for pid in listeners.values())
        assert lab.node_exec("mp002", ["python3", "-c", READY_BODY]).stdout.strip() == "true"
        before = int(lab.node_path("mp002", MP_PID_FILE).read_text())
        assert service(lab, "mp002", "edge-message-processor", "restart").returncode == 0
        restarted = int(lab.node_path("mp002", MP_PID_FILE).read_text())
        assert restarted != before and not procs.is_alive(before)  # a real stop and start
        assert service(lab, "mp002", "edge-message-processor", "wait_for_ready").returncode == 0
    finally:
        lab.down()
    _assert_gone(lab)
    assert not procs.is_alive(restarted)  # started after up, not on record: down still ends it


def test_failed_up_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object) -> None:
        raise RuntimeError("injected failure after the nodes started")

    monkeypatch.setattr(Lab, "_write_client_files", boom)
    with pytest.raises(RuntimeError, match="injected"):
        Lab.up(tmp_path / "broken", bench=3)
    broken = Lab.load(tmp_path / "broken")
    assert broken.state.status == "down"
    _assert_gone(broken)


def test_two_labs_get_distinct_subnets(tmp_path: Path) -> None:
    first = Lab.up(tmp_path / "a", bench=2)
    try:
        second = Lab.up(tmp_path / "b", bench=2)
        try:
            assert first.state.octet != second.state.octet
            assert first.bridge_netns != second.bridge_netns
            assert second.ssh("mp002", "hostname").stdout.strip() == "mp002"
        finally:
            second.down()
    finally:
        first.down()
    with pytest.raises(LabError):
        first.node_exec("mp001", ["true"])
