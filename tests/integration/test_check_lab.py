"""`fixer check` end to end over real SSH against the lab's nodes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from fixer.report.json_report import load_schema
from tests.lab import Lab

pytestmark = pytest.mark.lab

EXPECTED: dict[str, set[str]] = {
    "mp-healthy": set(),
    "mp-java-proc": set(),
    "mp-noforward": set(),
    "mp-plus-form": set(),
    "mp-jce-ok": set(),
    "mp-sudo-pass": set(),
    "mp-sni-off": {"mp-sni-disabled"},
    "mp-sni-e2e": {"mp-sni-disabled"},  # mp-sni-off for the Java end-to-end test (test_java_sni_lab.py)
    "mp-sni-false": {"mp-sni-disabled"},
    "mp-restart-pending": {"mp-restart-pending"},
    "mp-owner": {"properties-owner"},
    "mp-jce-limited": {"jce-limited"},
    "mp-jce-old": {"jce-limited"},
    "rt-healthy": set(),
    "rt-weak-protocol": {"router-weak-protocol"},
    "rt-weak-cipher": {"router-weak-cipher"},
    "rt-cipher-mismatch": {"router-cipher-mismatch"},
    "rt-drift": {"router-config-drift"},
    "rt-owner": {"properties-owner"},
}
FAILED: dict[str, tuple[str, str]] = {
    "mp-badkey": ("error", "host-key"),
    "mp-down": ("unreachable", "unreachable"),
    "mp-nosudo": ("error", "become"),
}


def fixer(lab: Lab, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = ["python3", "-m", "fixer.cli", *args]
    return lab.run(argv, capture_output=True, text=True, timeout=300, check=False,
                   env={**os.environ, **(env or {})}, cwd=str(Path(__file__).parents[2]))


def base_args(lab: Lab) -> list[str]:
    return ["check", "-i", str(lab.inventory), "--known-hosts", str(lab.known_hosts),
            "--ssh-config", "/dev/null", "-T", "5"]


@pytest.fixture(scope="module")
def json_report(lab: Lab) -> tuple[int, dict[str, Any]]:
    proc = fixer(lab, *base_args(lab), "--format", "json")
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_every_seeded_problem_is_found_and_nothing_else(json_report: tuple[int, dict[str, Any]]) -> None:
    _, doc = json_report
    hosts = {h["name"]: h for h in doc["hosts"]}
    for name, ids in EXPECTED.items():
        host = hosts[name]
        assert host["error"] is None, (name, host["error"])
        assert {f["id"] for f in host["findings"]} == ids, name
        assert host["status"] == ("findings" if ids else "ok")


def test_hosts_that_cannot_be_inspected_get_a_category(json_report: tuple[int, dict[str, Any]]) -> None:
    code, doc = json_report
    hosts = {h["name"]: h for h in doc["hosts"]}
    for name, (status, category) in FAILED.items():
        assert hosts[name]["status"] == status, hosts[name]
        assert hosts[name]["error"]["category"] == category, hosts[name]
    assert code == 3


def test_json_matches_the_shipped_schema(json_report: tuple[int, dict[str, Any]]) -> None:
    jsonschema.validate(json_report[1], load_schema())


def test_evidence_names_file_line_and_values(json_report: tuple[int, dict[str, Any]]) -> None:
    hosts = {h["name"]: h for h in json_report[1]["hosts"]}
    (finding,) = hosts["mp-restart-pending"]["findings"]
    ev = finding["evidence"][0]
    assert ev["file"] == "/opt/apigee/customer/application/message-processor.properties"
    assert isinstance(ev["line"], int) and ev["line"] >= 1
    assert ev["values"]["conf_system_jsse.enableSNIExtension"] == "true"
    (weak,) = hosts["rt-weak-protocol"]["findings"]
    assert weak["evidence"][0]["file"] == "/opt/nginx/conf.d/0-default.conf"
    assert "TLSv1" in weak["evidence"][0]["values"]["ssl_protocols"]


def test_facts_are_reported(json_report: tuple[int, dict[str, Any]]) -> None:
    hosts = {h["name"]: h for h in json_report[1]["hosts"]}
    mp = hosts["mp-healthy"]["facts"]
    assert mp["sni_enabled"] is True
    assert mp["customer"]["stat"]["owner"] == "apigee"
    assert mp["java"]["major"] == 17 and mp["java"]["source"] == "path"
    running = hosts["mp-java-proc"]["facts"]["java"]
    assert running["source"] == "process", running  # found from the running MP's /proc/<pid>/exe
    assert running["major"] == 17 and running["java_home"].startswith("/usr/lib/jvm/")
    old = hosts["mp-jce-old"]["facts"]["java"]
    assert old["update"] == 144 and old["crypto_policy"] == "limited"
    rt = hosts["rt-healthy"]["facts"]
    (server,) = [s for s in rt["servers"] if s["ssl"]]
    assert server["ssl_protocols"] == ["TLSv1.2", "TLSv1.3"]
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in server["effective_ciphers"]
    assert server["cipher_expansion"] == "node"


def test_limit_and_exit_code_for_healthy_hosts(lab: Lab) -> None:
    proc = fixer(lab, *base_args(lab), "-l", "mp-healthy,rt-healthy,mp-plus-form")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mp-healthy" in proc.stdout and "mp-sni-off" not in proc.stdout


def test_error_findings_exit_1(lab: Lab) -> None:
    proc = fixer(lab, *base_args(lab), "-l", "mp-sni-off", "--format", "text")
    assert proc.returncode == 1, proc.stderr
    assert "mp-sni-disabled" in proc.stdout
    assert "\x1b[" not in proc.stdout  # not a terminal: no colour codes


def test_sudo_password_never_appears(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    proc = fixer(lab, *base_args(lab), "-l", "mp-sudo-pass", "--format", "html", "-o", str(out), "-vv")
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert "<html" in html.lower() and "mp-sudo-pass" in html
    for text in (html, proc.stdout, proc.stderr):
        assert lab.sudo_password not in text


def test_become_password_from_environment(lab: Lab, tmp_path: Path) -> None:
    doc = yaml.safe_load(Path(lab.inventory).read_text())
    host = doc["all"]["children"]["message_processors"]["hosts"]["mp-sudo-pass"]
    del host["ansible_become_password"]
    inv = tmp_path / "inventory.yml"
    inv.write_text(yaml.safe_dump(doc))
    (tmp_path / "group_vars").symlink_to(Path(lab.inventory).parent / "group_vars")
    args = ["check", "-i", str(inv), "--known-hosts", str(lab.known_hosts), "--ssh-config", "/dev/null",
            "-l", "mp-sudo-pass", "--format", "json"]
    missing = fixer(lab, *args)
    assert missing.returncode == 3
    error = json.loads(missing.stdout)["hosts"][0]["error"]
    assert error["category"] == "become" and "needs a password" in error["message"]
    wrong = fixer(lab, *args, env={"FIXER_BECOME_PASSWORD": "wrong-password"})
    assert wrong.returncode == 3
    assert "incorrect" in json.loads(wrong.stdout)["hosts"][0]["error"]["message"]
    right = fixer(lab, *args, env={"FIXER_BECOME_PASSWORD": lab.sudo_password})
    assert right.returncode == 0, right.stdout
    assert lab.sudo_password not in right.stdout + right.stderr


def test_bad_inventory_contacts_nobody(lab: Lab, tmp_path: Path) -> None:
    inv = tmp_path / "broken.yml"
    inv.write_text("all:\n  children:\n    routers:\n      hosts:\n        rt-healthy:\n      - oops\n")
    proc = fixer(lab, "check", "-i", str(inv), "--known-hosts", str(lab.known_hosts))
    assert proc.returncode == 2
    assert str(inv) in proc.stderr and ":" in proc.stderr


def test_unknown_host_key_is_refused_in_strict_mode_and_recorded_with_accept_new(
    lab: Lab, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    args = ["check", "-i", str(lab.inventory), "--known-hosts", str(empty), "--ssh-config", "/dev/null",
            "-l", "mp-healthy", "--format", "json"]
    strict = fixer(lab, *args)
    assert strict.returncode == 3
    assert json.loads(strict.stdout)["hosts"][0]["error"]["category"] == "host-key"
    assert empty.read_text() == ""
    accepted = fixer(lab, *args, "--host-key-policy", "accept-new")
    assert accepted.returncode == 0, accepted.stderr
    assert "added new host key" in accepted.stderr
    assert len(empty.read_text().splitlines()) == 1
    again = fixer(lab, *args)
    assert again.returncode == 0


def test_proxyjump_through_bastion(lab: Lab) -> None:
    inv = Path(lab.dir) / "via-bastion.yml"
    inv.write_text(
        "all:\n  children:\n    message_processors:\n      hosts:\n        mp-via-bastion:\n"
        "          ansible_become: true\n"
    )
    proc = fixer(lab, "check", "-i", str(inv), "--known-hosts", str(lab.known_hosts),
                 "--ssh-config", str(lab.ssh_config), "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["hosts"][0]["status"] == "ok"


def test_check_changes_nothing_on_any_node(lab: Lab) -> None:
    def digest() -> str:
        h = hashlib.sha256()
        for path in sorted(Path(lab.dir).rglob("*")):
            if path.is_file() and "/opt/" in str(path) and "/var/" not in str(path):
                h.update(str(path).encode())
                h.update(path.read_bytes())
        return h.hexdigest()

    before = digest()
    fixer(lab, *base_args(lab), "--format", "json")
    assert digest() == before


def _one_host_inventory(tmp_path: Path, ip: str, **host_vars: object) -> Path:
    inv = tmp_path / "one.yml"
    inv.write_text(yaml.safe_dump({"all": {"children": {"message_processors": {"hosts": {
        "mp-x": {"ansible_host": ip, "ansible_user": "fixer", "ansible_become": True, **host_vars},
    }}}}}))
    return inv


def test_wrong_key_is_an_auth_error(lab: Lab, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    inv = _one_host_inventory(tmp_path, lab.nodes["mp-healthy"], ansible_ssh_private_key_file=str(other))
    proc = fixer(lab, "check", "-i", str(inv), "--known-hosts", str(lab.known_hosts), "--ssh-config", "/dev/null",
                 "--format", "json", env={"SSH_AUTH_SOCK": ""})
    assert proc.returncode == 3
    error = json.loads(proc.stdout)["hosts"][0]["error"]
    assert error["category"] == "auth", error


def test_silent_server_times_out(lab: Lab, tmp_path: Path) -> None:
    """A port that accepts but never speaks SSH: the host times out, the run still ends."""
    bridge_ip = lab.nodes["mp-healthy"].rsplit(".", 1)[0] + ".254"
    listener = subprocess.Popen(
        ["ip", "netns", "exec", lab.bridge_netns, "python3", "-c",
         "import socket,time,sys\n"
         f"s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(({bridge_ip!r}, 2222))\n"
         "s.listen(5); print('ready', flush=True); c=[s.accept() for _ in range(1)]; time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
        inv = _one_host_inventory(tmp_path, bridge_ip, ansible_port=2222)
        proc = fixer(lab, "check", "-i", str(inv), "--known-hosts", str(lab.known_hosts), "--ssh-config",
                     "/dev/null", "-T", "1", "--format", "json")
        assert proc.returncode == 3
        error = json.loads(proc.stdout)["hosts"][0]["error"]
        assert error["category"] == "timeout", error
    finally:
        listener.kill()
        listener.wait(timeout=10)
        if listener.stdout is not None:
            listener.stdout.close()


# -- the dry-run report: the fixing playbook and its diff on each finding's host --------------------------

MP_CUSTOMER = "/opt/apigee/customer/application/message-processor.properties"
ROUTER_CUSTOMER = "/opt/apigee/customer/application/router.properties"
MP_RESTART = "/opt/apigee/apigee-service/bin/apigee-service edge-message-processor restart, then wait_for_ready"
ROUTER_RESTART = "/opt/apigee/apigee-service/bin/apigee-service edge-router restart, then wait_for_ready"


def _finding(doc: dict[str, Any], host: str, fid: str) -> dict[str, Any]:
    (host_doc,) = [h for h in doc["hosts"] if h["name"] == host]
    (finding,) = [f for f in host_doc["findings"] if f["id"] == fid]
    assert isinstance(finding, dict)
    return finding


def test_every_fixable_finding_carries_its_playbook_and_a_plan(json_report: tuple[int, dict[str, Any]]) -> None:
    from fixer.playbook import FINDING_PLAYBOOKS

    _, doc = json_report
    assert doc["schema_version"] == "1.2"
    seen = 0
    for host in doc["hosts"]:
        for finding in host["findings"]:
            expected = FINDING_PLAYBOOKS.get(finding["id"])
            assert finding["playbook"] == expected, (host["name"], finding)
            if expected is None:
                assert finding["diff"] is None and finding["actions"] == []
                continue
            seen += 1
            assert isinstance(finding["diff"], str), (host["name"], finding)
            assert not finding["diff"].startswith("could not plan"), (host["name"], finding["diff"])
            assert finding["diff"] or finding["actions"], (host["name"], finding)
    assert seen == sum(len(ids) for ids in EXPECTED.values())  # every seeded finding has a playbook


def test_sni_off_gets_enable_sni_and_its_diff(json_report: tuple[int, dict[str, Any]]) -> None:
    _, doc = json_report
    sni = _finding(doc, "mp-sni-off", "mp-sni-disabled")
    assert sni["playbook"] == "enable-sni.yml"
    assert f"--- mp-sni-off:{MP_CUSTOMER} (before)\n+++ mp-sni-off:{MP_CUSTOMER} (after)\n" in sni["diff"]
    assert "\n+conf_system_jsse.enableSNIExtension=true\n" in sni["diff"]
    assert [a for a in sni["actions"] if a.startswith(MP_RESTART)], sni["actions"]
    false = _finding(doc, "mp-sni-false", "mp-sni-disabled")["diff"]
    assert "\n-conf_system_jsse.enableSNIExtension=false\n+conf_system_jsse.enableSNIExtension=true\n" in false


def test_router_weak_protocol_gets_router_tls_and_its_diff(json_report: tuple[int, dict[str, Any]]) -> None:
    _, doc = json_report
    weak = _finding(doc, "rt-weak-protocol", "router-weak-protocol")
    assert weak["playbook"] == "router-tls.yml"
    assert f"--- rt-weak-protocol:{ROUTER_CUSTOMER} (before)\n" in weak["diff"]
    assert "\n-conf_load_balancing_load.balancing.driver.server.ssl.protocols=TLSv1 TLSv1.1 TLSv1.2\n" in weak["diff"]
    assert "\n+conf_load_balancing_load.balancing.driver.server.ssl.protocols=TLSv1.2 TLSv1.3\n" in weak["diff"]
    assert [a for a in weak["actions"] if a.startswith(ROUTER_RESTART)], weak["actions"]


def test_owner_findings_get_fix_ownership(json_report: tuple[int, dict[str, Any]]) -> None:
    _, doc = json_report
    for host, restart in (("mp-owner", MP_RESTART), ("rt-owner", ROUTER_RESTART)):
        owner = _finding(doc, host, "properties-owner")
        assert owner["playbook"] == "fix-ownership.yml"
        assert owner["diff"] == "# owner root:root -> apigee:apigee\n", owner["diff"]
        assert [a for a in owner["actions"] if a.startswith(restart)], owner["actions"]


def test_restart_and_jce_plans(json_report: tuple[int, dict[str, Any]]) -> None:
    _, doc = json_report
    pending = _finding(doc, "mp-restart-pending", "mp-restart-pending")
    assert (pending["playbook"], pending["diff"]) == ("restart-pending.yml", "")  # a restart, no file change
    assert [a for a in pending["actions"] if a.startswith(MP_RESTART)], pending["actions"]
    limited = _finding(doc, "mp-jce-limited", "jce-limited")
    assert limited["playbook"] == "jce-unlimited.yml"
    assert "\n+crypto.policy=unlimited\n" in limited["diff"], limited["diff"]
    old = _finding(doc, "mp-jce-old", "jce-limited")  # 8u144: no unlimited policy to select
    assert old["diff"] == ""
    assert any(a.startswith("note: ") and "install" in a for a in old["actions"]), old["actions"]


def test_text_report_shows_playbook_command_and_diff(lab: Lab) -> None:
    proc = fixer(lab, *base_args(lab), "-l", "mp-sni-off,rt-weak-protocol,mp-healthy", "--format", "text")
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert f"      playbook: fixer apply enable-sni.yml -i {lab.inventory} -l mp-sni-off\n" in out
    assert f"      playbook: fixer apply router-tls.yml -i {lab.inventory} -l rt-weak-protocol\n" in out
    assert "        +conf_system_jsse.enableSNIExtension=true\n" in out
    assert "        +conf_load_balancing_load.balancing.driver.server.ssl.protocols=TLSv1.2 TLSv1.3\n" in out
    assert "mp-healthy (" not in out  # healthy: no section


def test_healthy_hosts_cost_one_exec_and_fixable_ones_one_more(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dry run reads on the session the check already holds, and only where a playbook applies."""
    from concurrent.futures import ThreadPoolExecutor

    from fixer.inspection import LocalOpenSSL, inspect_host
    from fixer.inventory.loader import load_inventory
    from fixer.remedy import Remedies
    from fixer.transport.hostkeys import load_known_hosts
    from fixer.transport.ssh import CommandResult, ConnectOptions, Session
    from tests.lab.netns import enter_netns

    execs: dict[str, int] = {}
    sessions: dict[str, int] = {}
    real_run, real_connect = Session.run_script, Session.connect

    def counting_run(self: Session, script: str, become: bool | None = None) -> CommandResult:
        execs[self.host.name] = execs.get(self.host.name, 0) + 1
        return real_run(self, script, become)

    def counting_connect(self: Session) -> None:
        sessions[self.host.name] = sessions.get(self.host.name, 0) + 1
        real_connect(self)

    monkeypatch.setattr(Session, "run_script", counting_run)
    monkeypatch.setattr(Session, "connect", counting_connect)
    inventory = load_inventory(lab.inventory)
    names = ["mp-healthy", "rt-healthy", "mp-sni-off", "rt-weak-protocol", "mp-owner"]
    hosts = [inventory.hosts[n] for n in names]
    options = ConnectOptions(known_hosts=lab.known_hosts, host_keys=load_known_hosts(lab.known_hosts, "strict"),
                             connect_timeout=10.0, command_timeout=60.0)
    remedies, local = Remedies(list(inventory.hosts.values())), LocalOpenSSL()
    with ThreadPoolExecutor(max_workers=1, initializer=enter_netns, initargs=(lab.bridge_netns,)) as pool:
        results = {h.name: pool.submit(inspect_host, h, options, local, remedies).result(timeout=120) for h in hosts}
    for name, result in results.items():
        assert result.error is None, (name, result.error)
    assert results["mp-healthy"].status == results["rt-healthy"].status == "ok"
    assert sessions == dict.fromkeys(names, 1)
    assert execs == {"mp-healthy": 1, "rt-healthy": 1, "mp-sni-off": 2, "rt-weak-protocol": 2, "mp-owner": 2}
    (sni,) = results["mp-sni-off"].findings
    assert sni.playbook == "enable-sni.yml" and sni.diff and "+conf_system_jsse.enableSNIExtension=true" in sni.diff
