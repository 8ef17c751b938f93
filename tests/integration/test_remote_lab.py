"""The remote primitives of `fixer apply` over real SSH (and sudo) against the lab's nodes.

Network namespace: the SSH sockets must be opened inside the lab's bridge netns. One worker thread joins
it (tests.lab.netns.enter_netns, per thread) and only `Session.connect` runs there: a socket stays in the
namespace it was created in, and paramiko's transport thread, started by that worker, inherits it. The
pytest process itself never leaves its namespace, so other tests are unaffected.

Every test puts back what it changed on the nodes (files, knobs, mounts, running components).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from fixer.apply.remote import acquire_lock, read_files, release_lock, run_service, run_verifies, write_files
from fixer.errors import ApplyError, LockedError
from fixer.inventory.loader import load_inventory
from fixer.inventory.model import Host
from fixer.plan.model import FileChange, FileState, Readiness, ServiceAction, Verify
from fixer.transport.hostkeys import load_known_hosts
from fixer.transport.ssh import ConnectOptions, Session
from tests.lab import Lab
from tests.lab.netns import enter_netns

pytestmark = pytest.mark.lab

SERVICE = "/opt/apigee/apigee-service/bin/apigee-service"
MP = "edge-message-processor"
MP_CUSTOMER = "/opt/apigee/customer/application/message-processor.properties"
MP_SYSTEM = "/opt/apigee/edge-message-processor/conf/system.properties"
VAR = "/opt/apigee/var"
SCRATCH = "/opt/apigee/customer/fixer remote $(test)"  # a hostile directory name on purpose


class LabNet:
    """Opens lab sessions from a worker thread that joined the bridge network namespace."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.pool = ThreadPoolExecutor(max_workers=1, initializer=enter_netns, initargs=(lab.bridge_netns,))
        self.hosts = load_inventory(lab.inventory).hosts
        self.options = ConnectOptions(known_hosts=lab.known_hosts, host_keys=load_known_hosts(lab.known_hosts,
                                      "strict"), connect_timeout=10.0, command_timeout=60.0)

    @contextmanager
    def session(self, name: str, **host_vars: Any) -> Iterator[Session]:
        host = self.hosts[name]
        if host_vars:
            host = Host(host.name, host.groups, {**host.vars, **host_vars})
        session = Session(host, self.options)
        try:
            self.pool.submit(session.connect).result(timeout=60)
            yield session
        finally:
            session.close()

    def sh(self, node: str, script: str, *args: str) -> str:
        """A root shell command inside the node (its mounts); fails the test on a non-zero exit."""
        proc = self.lab.node_exec(node, ["sh", "-c", script, "sh", *args])
        assert proc.returncode == 0, (script, proc.stdout, proc.stderr)
        return str(proc.stdout)


@pytest.fixture(scope="module")
def net(lab: Lab) -> Iterator[LabNet]:
    labnet = LabNet(lab)
    yield labnet
    labnet.pool.shutdown()


@pytest.fixture
def scratch(net: LabNet) -> Iterator[str]:
    """An apigee-owned scratch directory on mp-healthy, removed afterwards."""
    net.sh("mp-healthy", 'mkdir -p -- "$1" && chown apigee:apigee -- "$1"', SCRATCH)
    try:
        yield SCRATCH
    finally:
        net.sh("mp-healthy", 'rm -rf -- "$1"', SCRATCH)


def apigee_file(content: bytes, mode: int = 0o644) -> FileState:
    return FileState(True, content, "apigee", "apigee", mode)


def restart(timeout_s: float = 30.0, port: int | None = 8082, wait: bool = True) -> ServiceAction:
    return ServiceAction(MP, "restart", SERVICE, Readiness(port, wait, timeout_s), "test")


def test_read_files_root_owned_0600_via_become(net: LabNet, lab: Lab) -> None:
    with net.session("mp-owner") as session:
        got = read_files(session, [MP_CUSTOMER, "/opt/apigee/customer/application/absent.properties"])
    assert got[MP_CUSTOMER] == FileState(True, lab.node_path("mp-owner", MP_CUSTOMER).read_bytes(), "root", "root",
                                         0o600)
    assert got["/opt/apigee/customer/application/absent.properties"] == FileState(exists=False)
    with net.session("mp-owner", ansible_become=False) as session, pytest.raises(
            ApplyError, match=r"cannot read .*message-processor\.properties.*Permission denied"):
        read_files(session, [MP_CUSTOMER])


def test_write_then_refuse_a_file_edited_since_the_plan(net: LabNet, lab: Lab, scratch: str) -> None:
    path = f"{scratch}/new 'file' `x`.properties"
    content = b"a=$(touch /tmp/pwned)\nb=`id`\nno newline at the end"
    with net.session("mp-healthy") as session:
        (created,) = write_files(session, [FileChange(path, FileState(False), apigee_file(content, 0o640), ("t",))])
        assert created.status == "written" and created.sha_after == hashlib.sha256(content).hexdigest()
        seen = read_files(session, [path])[path]
        assert seen == apigee_file(content, 0o640)
        plan = FileChange(path, seen, apigee_file(b"a=2\n", 0o640), ("t",))
        net.sh("mp-healthy", 'printf "edited=by hand\\n" >> "$1"', path)  # after the plan was made
        later = FileChange(f"{scratch}/later", FileState(False), apigee_file(b"x\n"), ("t",))
        refused, skipped = write_files(session, [plan, later])
    assert refused.status == "changed-since-plan" and "plan saw" in refused.message
    assert skipped.status == "not-attempted"
    listing = net.sh("mp-healthy", 'ls -A -- "$1"', scratch)
    assert listing.splitlines() == [path.rsplit("/", 1)[1]]  # no temp file, `later` not created
    assert net.sh("mp-healthy", 'cat -- "$1"', path).encode() == content + b"edited=by hand\n"
    assert net.sh("mp-healthy", "ls /tmp") == ""
    assert lab.node_path("mp-healthy", path).stat().st_uid == lab.state.users["apigee_uid"]


def test_lock_contention(net: LabNet, lab: Lab) -> None:
    lock = "/opt/apigee/var/run/fixer.lock"
    with net.session("mp-healthy") as first, net.session("mp-healthy") as second:
        acquire_lock(first, "run-A", lock)
        try:
            with pytest.raises(LockedError, match=r"mp-healthy is locked by run run-A \(control host .*for \d+s"):
                acquire_lock(second, "run-B", lock)
            assert release_lock(second, "run-B", lock) is False
            assert lab.node_path("mp-healthy", lock).is_dir()
        finally:
            assert release_lock(first, "run-A", lock) is True
        assert not lab.node_path("mp-healthy", lock).exists()
        acquire_lock(second, "run-B")  # the default path is the same directory
        assert release_lock(second, "run-B") is True


def test_apply_restart_verify_and_exact_rollback(net: LabNet) -> None:
    """The whole remote cycle on mp-sni-off: enable SNI, restart with readiness, verify, then undo."""
    sni = Verify("properties", "sni on", MP_SYSTEM, "jsse.enableSNIExtension", "true")
    with net.session("mp-sni-off") as session:
        original = read_files(session, [MP_CUSTOMER])[MP_CUSTOMER]
        assert original.exists and original.owner == "apigee"
        fixed = FileState(True, original.content + b"conf_system_jsse.enableSNIExtension=true\n", "apigee", "apigee",
                          original.mode)
        try:
            (written,) = write_files(session, [FileChange(MP_CUSTOMER, original, fixed, ("enable sni",))])
            assert written.status == "written"
            (before_restart,) = run_verifies(session, [sni])
            assert not before_restart.ok  # the generated file changes only on restart
            result = run_service(session, restart())
            assert result.outcome == "ok", result
            assert "is up" in result.output and result.duration_s < 30
            (after_restart,) = run_verifies(session, [sni])
            assert after_restart.ok and after_restart.actual == "true"
        finally:
            (undone,) = write_files(session, [FileChange(MP_CUSTOMER, fixed, original, ("undo",))])
            assert undone.status == "written"
            assert run_service(session, restart()).outcome == "ok"
        assert read_files(session, [MP_CUSTOMER])[MP_CUSTOMER] == original  # every byte, owner and mode
        (absent,) = run_verifies(session, [Verify("properties", "sni", MP_SYSTEM, "jsse.enableSNIExtension", None)])
        assert absent.ok


def test_restart_failure_and_never_ready(net: LabNet) -> None:
    node = "mp-plus-form"
    with net.session(node) as session:
        net.sh(node, f"touch {VAR}/fail-restart")
        try:
            failed = run_service(session, restart())
        finally:
            net.sh(node, f"rm -f {VAR}/fail-restart")
        assert (failed.outcome, failed.rc) == ("failed", 1)
        assert "failed to start" in failed.message + failed.output
        assert run_service(session, restart()).outcome == "ok"  # back up
        net.sh(node, f"touch {VAR}/never-ready && echo 1 > {VAR}/ready-timeout")
        try:
            waited = run_service(session, restart(timeout_s=3))
            polled = run_service(session, restart(timeout_s=2, wait=False))
        finally:
            net.sh(node, f"rm -f {VAR}/never-ready {VAR}/ready-timeout")
        assert waited.outcome == "readiness-timeout" and "wait_for_ready" in waited.message, waited
        assert polled.outcome == "readiness-timeout" and ": false" in polled.message, polled
        assert waited.duration_s < 15 and polled.duration_s < 15
        assert run_service(session, restart()).outcome == "ok"


def test_disk_full_leaves_the_original(net: LabNet, scratch: str) -> None:
    full = f"{scratch}/full"
    net.sh("mp-healthy", 'mkdir -- "$1" && mount -t tmpfs -o size=64k fixer-full "$1" && chown apigee:apigee "$1"',
           full)
    try:
        target = f"{full}/message-processor.properties"
        net.sh("mp-healthy", 'printf "original=1\\n" > "$1" && chown apigee:apigee "$1"', target)
        with net.session("mp-healthy") as session:
            before = read_files(session, [target])[target]
            big = FileState(True, b"x=" + b"y" * 200_000 + b"\n", "apigee", "apigee", 0o644)
            (result,) = write_files(session, [FileChange(target, before, big, ("t",))])
        assert result.status == "failed" and "No space left on device" in result.message, result
        assert result.sha_after == hashlib.sha256(b"original=1\n").hexdigest()
        assert net.sh("mp-healthy", 'cat -- "$1"', target) == "original=1\n"
        assert net.sh("mp-healthy", 'ls -A -- "$1"', full) == "message-processor.properties\n"
    finally:
        net.sh("mp-healthy", 'umount -- "$1"', full)


def test_permission_denied_without_become(net: LabNet, lab: Lab) -> None:
    with net.session("mp-healthy", ansible_become=False) as session:
        before = FileState(True, lab.node_path("mp-healthy", MP_CUSTOMER).read_bytes(), "apigee", "apigee", 0o644)
        after = FileState(True, before.content + b"x=1\n", "apigee", "apigee", 0o644)
        (result,) = write_files(session, [FileChange(MP_CUSTOMER, before, after, ("t",))])
    assert result.status == "failed" and "Permission denied" in result.message, result
    assert lab.node_path("mp-healthy", MP_CUSTOMER).read_bytes() == before.content


def test_verifies_on_a_router(net: LabNet) -> None:
    broken = "/opt/nginx/tmp/broken.conf"
    net.sh("rt-healthy", 'printf "events {}\\nhttp { ssl_ciphers ; }\\n" > "$1"', broken)
    try:
        with net.session("rt-healthy") as session:
            results = run_verifies(session, [
                Verify("nginx_test", "nginx -t", "/opt/nginx/nginx.conf"),
                Verify("file_contains", "protocols", "/opt/nginx/conf.d/0-default.conf",
                       pattern=r"ssl_protocols TLSv1\.2 TLSv1\.3;"),
                Verify("nginx_test", "broken", broken),
                Verify("properties", "token", "/opt/apigee/customer/application/router.properties",
                       "conf_load_balancing_load.balancing.driver.server.ssl.protocols", "TLSv1.2 TLSv1.3"),
            ])
    finally:
        net.sh("rt-healthy", 'rm -f -- "$1"', broken)
    verdicts = {r.name: r for r in results}
    assert verdicts["nginx -t"].ok, verdicts["nginx -t"]
    assert verdicts["protocols"].ok and verdicts["token"].ok
    assert not verdicts["broken"].ok and "failed" in verdicts["broken"].message
