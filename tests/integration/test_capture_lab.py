"""`fixer capture` on the lab: the real CLI in the bridge namespace, tcpdump on a node over SSH.

mp-healthy captures its probe of be-sni (by IP: no SNI, so the backend refuses every handshake) and of
sni.backend.lab (by name: resolved on the node, SNI sent, handshakes complete); the file is written locally,
the analysis printed, the node's temporary directory removed (also after Ctrl-C). Failures are clear and
exit 3: tcpdump missing (host var fixer_tcpdump), no sudo (mp-nosudo), no become (tcpdump refused), an
unreachable host (mp-down); bad input exits 2 before any host is contacted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.lab import Lab, procs
from tests.lab.captures import Recorded

pytestmark = pytest.mark.lab

REPO = Path(__file__).parents[2]
NODE = "mp-healthy"


def capture_argv(lab: Lab, inventory: Path | None, *args: str) -> list[str]:
    return ["python3", "-m", "fixer.cli", "capture", "-i", str(inventory or lab.inventory), "--known-hosts",
            str(lab.known_hosts), "--ssh-config", "/dev/null", *args]


def fixer_capture(lab: Lab, *args: str, inventory: Path | None = None) -> subprocess.CompletedProcess[str]:
    return lab.run(capture_argv(lab, inventory, *args), capture_output=True, text=True, timeout=120, check=False,
                   env={**os.environ}, cwd=str(REPO))


def leftovers(lab: Lab, node: str) -> tuple[list[str], list[int]]:
    """The node's fixer-capture directories (its private /tmp) and tcpdump/timeout processes in its netns."""
    listing = lab.node_exec(node, ["sh", "-c", "ls -d /tmp/fixer-capture.* 2>/dev/null || true"])
    dirs = listing.stdout.split()
    pid = lab.state.nodes[node].pid
    assert pid is not None
    inode = procs.netns_inode_of(pid)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or procs.netns_inode_of(int(entry)) != inode:
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
        except OSError:
            continue
        if comm in ("tcpdump", "timeout") and procs.is_alive(int(entry)):
            found.append(int(entry))
    return dirs, found


def assert_clean(lab: Lab, node: str = NODE, wait: float = 5.0) -> None:
    deadline = time.monotonic() + wait
    while True:
        dirs, pids = leftovers(lab, node)
        if (not dirs and not pids) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert (dirs, pids) == ([], []), f"left on {node}: dirs {dirs}, tcpdump/timeout pids {pids}"


@pytest.fixture()
def inventory_with(lab: Lab, tmp_path: Path) -> Iterator[Any]:
    """A copy of the lab inventory with extra host vars: inventory_with({"mp-healthy": {...}}) -> path."""

    def write(extra: dict[str, dict[str, object]]) -> Path:
        doc = yaml.safe_load(lab.inventory.read_text())
        for group in doc["all"]["children"].values():
            for name, host_vars in group["hosts"].items():
                host_vars.update(extra.get(name, {}))
        path = tmp_path / "inv" / "inventory.yml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        if not (path.parent / "group_vars").exists():
            (path.parent / "group_vars").symlink_to(lab.inventory.parent / "group_vars")
        return path

    yield write


def test_capture_with_probe_explains_the_sni_failure(lab: Lab, tmp_path: Path) -> None:
    be = lab.backends["be-sni"]
    out = tmp_path / "sni.pcap"
    started = time.monotonic()
    proc = fixer_capture(lab, "--host", NODE, "--peer", f"{be.ip}:443", "--probe", "--seconds", "3", "-o", str(out),
                         "--format", "json")
    took = time.monotonic() - started
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the capture shows failed handshakes
    assert out.is_file() and out.read_bytes()[:4] == b"\xd4\xc3\xb2\xa1"  # a pcap (little endian) written locally
    assert oct(out.stat().st_mode & 0o777) != "0o600"  # umask permissions, not mkstemp's
    doc = json.loads(proc.stdout)
    assert doc["files"] == [str(out)]
    conns = doc["connections"]
    assert conns, doc
    assert {c["server"]["ip"] for c in conns} == {be.ip}
    assert {c["client"]["ip"] for c in conns} == {lab.nodes[NODE]}
    kinds = {c["verdict"]["kind"] for c in conns}
    assert "sni-missing" in kinds, [c["verdict"] for c in conns]
    assert all(not c["client_hello"]["sni_present"] for c in conns if c["client_hello"])
    assert f"filter `host {be.ip} and port 443`" in proc.stderr
    assert "LINUX_SLL2" in proc.stderr  # -i any
    assert "0 packets dropped by kernel" in proc.stderr and "tcpdump lost" not in proc.stderr
    assert "removed" in proc.stderr and "COULD NOT" not in proc.stderr
    assert f"probe from {NODE} (tunnel) to {be.ip}:443: no handshake completed (failures: " in proc.stderr
    assert "alert unrecognized_name" in proc.stderr
    assert 3.0 <= took < 20, took
    assert_clean(lab)


def test_capture_a_peer_by_name_resolved_on_the_node(lab: Lab, tmp_path: Path) -> None:
    """sni.backend.lab exists only in the nodes' /etc/hosts: the node resolves it; the probe sends SNI."""
    be = lab.backends["be-sni"]
    out = tmp_path / "by-name.pcap"
    proc = fixer_capture(lab, "--host", NODE, "--peer", be.dns, "--probe", "--seconds", "1", "-o", str(out))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert f"filter `host {be.ip} and port 443`" in proc.stderr
    assert "fixer pcap:" in proc.stdout and "OK" in proc.stdout  # the text report; SNI handshakes completed
    assert "SNI sni.backend.lab" in proc.stdout
    assert out.is_file()
    assert_clean(lab)


def test_default_output_name_and_single_interface(lab: Lab, tmp_path: Path) -> None:
    be = lab.backends["be-good"]
    proc = lab.run(capture_argv(lab, None, "--host", NODE, "--peer", f"{be.ip}:443", "--probe", "--seconds", "1",
                                "--interface", "eth0", "--format", "json"),
                   capture_output=True, text=True, timeout=120, check=False, env={**os.environ}, cwd=str(tmp_path))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    files = list(tmp_path.glob(f"capture-{NODE}-*.pcap"))
    assert len(files) == 1, list(tmp_path.iterdir())
    assert "EN10MB" in proc.stderr  # a single interface: Ethernet frames
    doc = json.loads(proc.stdout)
    assert "ok" in {c["verdict"]["kind"] for c in doc["connections"]}, [c["verdict"] for c in doc["connections"]]
    assert_clean(lab)


def test_missing_tcpdump(lab: Lab, tmp_path: Path, inventory_with: Any) -> None:
    inventory = inventory_with({NODE: {"fixer_tcpdump": "/nonexistent/tcpdump"}})
    out = tmp_path / "x.pcap"
    proc = fixer_capture(lab, "--host", NODE, "--peer", lab.backends["be-good"].ip, "-o", str(out),
                         inventory=inventory)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "tcpdump not found (/nonexistent/tcpdump is not an executable file" in proc.stderr
    assert "fixer_tcpdump" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists() and not proc.stdout
    assert_clean(lab)


def test_no_sudo(lab: Lab, tmp_path: Path) -> None:
    proc = fixer_capture(lab, "--host", "mp-nosudo", "--peer", lab.backends["be-good"].ip, "-o",
                         str(tmp_path / "x.pcap"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "capture on mp-nosudo: become: sudo to root" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_no_become_no_permission(lab: Lab, tmp_path: Path, inventory_with: Any) -> None:
    inventory = inventory_with({NODE: {"ansible_become": False}})
    proc = fixer_capture(lab, "--host", NODE, "--peer", lab.backends["be-good"].ip, "-o", str(tmp_path / "x.pcap"),
                         inventory=inventory)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "no permission to capture (tcpdump ran as uid" in proc.stderr, proc.stderr
    assert "ansible_become: true" in proc.stderr
    assert not (tmp_path / "x.pcap").exists()
    assert_clean(lab)


def test_unreachable_host(lab: Lab, tmp_path: Path) -> None:
    proc = fixer_capture(lab, "--host", "mp-down", "--peer", "127.0.0.1", "-T", "2", "-o", str(tmp_path / "x.pcap"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "capture on mp-down: unreachable" in proc.stderr


@pytest.mark.parametrize("args", [
    ["--peer", "127.0.0.1;id"],
    ["--peer", "host and port 22"],
    ["--peer", "-x"],
    ["--peer", "10.0.0.1:0"],
    ["--peer", "127.0.0.1", "--interface", "eth0 or port 22"],
    ["--peer", "127.0.0.1", "--interface", "-w/etc/x"],
    ["--peer", "127.0.0.1", "--seconds", "601"],
])
def test_bad_input_contacts_no_host(lab: Lab, args: list[str]) -> None:
    proc = fixer_capture(lab, "--host", NODE, *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and not proc.stdout


def test_interrupt_cleans_the_node(lab: Lab, tmp_path: Path) -> None:
    """Ctrl-C mid-capture: exit 130, tcpdump stopped and the temporary directory removed on the node."""
    argv = ["ip", "netns", "exec", lab.bridge_netns,
            *capture_argv(lab, None, "--host", NODE, "--peer", lab.backends["be-good"].ip, "--seconds", "30",
                          "-o", str(tmp_path / "x.pcap"))]
    cli = Recorded(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                   cwd=str(REPO), start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not leftovers(lab, NODE)[1]:  # tcpdump runs on the node
            assert time.monotonic() < deadline and cli.alive(), "the capture never started"
            time.sleep(0.1)
        time.sleep(0.3)
        cli.send(signal.SIGINT)
        rc = cli.proc.wait(timeout=30)
        _, err = cli.proc.communicate(timeout=5)
    finally:
        cli.end()
    assert rc == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not (tmp_path / "x.pcap").exists()
    assert not list(tmp_path.glob(".x.pcap.*"))
    assert_clean(lab)


def test_size_limit_stops_tcpdump(lab: Lab, tmp_path: Path) -> None:
    """--max-mb 1 against a busy peer: the node's watchdog stops tcpdump early, at most 1 MB comes back."""
    bridge_ip = lab.nodes[NODE].rsplit(".", 1)[0] + ".254"
    # bulk traffic between the bridge and the node on port 22 (a second SSH session), bounded: ~40 MB in all
    bulk = Recorded(["ip", "netns", "exec", lab.bridge_netns,
                     *lab.ssh_argv(NODE, "for i in $(seq 40); do head -c 1000000 /dev/zero; sleep 0.05; done")],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    start_new_session=True)
    try:
        out = tmp_path / "big.pcap"
        started = time.monotonic()
        proc = fixer_capture(lab, "--host", NODE, "--peer", f"{bridge_ip}:22", "--max-mb", "1", "--seconds", "30",
                             "-o", str(out))
        took = time.monotonic() - started
    finally:
        bulk.end()
    assert proc.returncode in (0, 4), proc.stdout[-2000:] + proc.stderr
    assert "tcpdump stopped at the size limit (1 MB)" in proc.stderr, proc.stderr
    assert 0 < out.stat().st_size <= 1024 * 1024
    assert took < 20, took
    assert_clean(lab)


# --- validation, without the lab ---------------------------------------------------------------------------


def test_peer_interface_and_filter_validation() -> None:
    from fixer.capture import build_filter, check_interface, cleanup_script, parse_peer

    assert str(parse_peer("10.1.2.3")) == "10.1.2.3:443"
    assert str(parse_peer("[2001:db8::1]:8443")) == "[2001:db8::1]:8443"
    assert parse_peer("2001:db8::1").port == 443
    assert parse_peer("Backend-1.example.COM:8443") == parse_peer("backend-1.example.com:8443")
    for bad in ["", "a b", "x;id", "$(id)", "-x", "1.2.3.400", "h:0", "h:65536", "h:1:2x", "[10.0.0.1]:443",
                "fe80::1%eth0", "a..b", "host'", "port 22 or host"]:
        with pytest.raises(ValueError):
            parse_peer(bad)
    assert check_interface("any") == "any" and check_interface("bond0.100") == "bond0.100"
    for bad in ["", "-i", "eth0 or 1", "a" * 16, "eth0;id", "eth\n0"]:
        with pytest.raises(ValueError):
            check_interface(bad)
    assert build_filter(["10.0.0.1"], 443) == "host 10.0.0.1 and port 443"
    assert build_filter(["10.0.0.1", "::1", "10.0.0.1"], 8443) == "(host 10.0.0.1 or host ::1) and port 8443"
    for addresses, port in [(["10.0.0.1 or 1"], 443), ([], 443), (["10.0.0.1"], 0)]:
        with pytest.raises(ValueError):
            build_filter(addresses, port)
    assert "rm -rf -- /tmp/fixer-capture.AbC12345" in cleanup_script("/tmp/fixer-capture.AbC12345")
    for bad in ["/", "/tmp", "/tmp/fixer-capture.x", "/tmp/../etc/fixer-capture.AbC12345",
                "/tmp/fixer-capture.AbC12345/..", "/tmp/a b/fixer-capture.AbC12345"]:
        with pytest.raises(ValueError):
            cleanup_script(bad)


def test_capture_script_quotes_every_value() -> None:
    from fixer.capture import CaptureSpec, build_filter, capture_script, parse_peer

    spec = CaptureSpec(parse_peer("10.0.0.9:8443"), interface="eth0", seconds=7, max_bytes=3 * 1024 * 1024)
    script = capture_script(spec, "/usr/sbin/tcpdump", "/usr/bin/timeout", build_filter(["10.0.0.9"], 8443), True)
    assert ("/usr/bin/timeout -s INT -k 5 37 /usr/sbin/tcpdump -i eth0 -s 0 -B 32768 -U --immediate-mode -n "
            "-Z root \\\n  -w \"$file\" 'host 10.0.0.9 and port 8443'") in script
    assert "-ge 3145728 ]" in script and script.rstrip().endswith("\nfixer_main; exit 0")
