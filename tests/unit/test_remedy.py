"""fixer.remedy: the dry run of the fixing playbook attached to each finding of `fixer check`.

The shipped playbooks are planned for real; only the node is faked (a reader over FileStates).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import pytest

from fixer.checks.model import Finding
from fixer.errors import HostError
from fixer.inventory.model import Host
from fixer.inventory.patterns import HostPatterns
from fixer.plan.model import FileState
from fixer.playbook import Playbook
from fixer.remedy import Remedies, playbooks_for
from tests.unit.sample_run import (
    MP_CUSTOMER,
    MP_GENERATED,
    ROUTER_CUSTOMER,
    java_facts,
    mp_facts,
    owner_finding,
    router_facts,
    sni_finding,
    weak_protocol_finding,
)

NGINX = "/opt/nginx/conf.d/0-default.conf"
MP = Host("mp2", ("all", "message_processors"), {"ansible_host": "10.0.1.12"})
ROUTER = Host("r1", ("all", "routers"), {"ansible_host": "10.0.2.21"})
LOOSE = Host("mp7", ("all", "ungrouped"), {"fixer_role": "message_processor"})
HOSTS = (MP, ROUTER, LOOSE)


def f(text: str, owner: str = "apigee", mode: int = 0o644) -> FileState:
    return FileState(True, text.encode(), owner, owner, mode)


NODE: dict[str, FileState] = {
    MP_CUSTOMER: f("# overrides\nconf_system_jsse.enableSNIExtension=false\n"
                   "conf_http_client.keystore.password=s3cr3t\n", "root", 0o600),
    MP_GENERATED: f("jsse.enableSNIExtension=false\n"),
    ROUTER_CUSTOMER: f("conf_load_balancing_load.balancing.driver.server.ssl.protocols=TLSv1 TLSv1.1 TLSv1.2\n"),
    NGINX: f("server {\n    ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n}\n", "root"),
}


class Node:
    """A fake node: counts the reads (each is one exec on the real session)."""

    def __init__(self, files: Mapping[str, FileState] | None = None, fail: Exception | None = None) -> None:
        self.files = dict(NODE if files is None else files)
        self.fail = fail
        self.reads: list[list[str]] = []

    def __call__(self, paths: Sequence[str]) -> dict[str, FileState]:
        self.reads.append(list(paths))
        if self.fail is not None:
            raise self.fail
        return {p: self.files.get(p, FileState(False)) for p in paths}


def by_id(findings: Sequence[Finding]) -> dict[str, Finding]:
    return {x.id: x for x in findings}


def test_each_finding_gets_its_playbook_diff_and_restart_with_one_read() -> None:
    node = Node()
    out = by_id(Remedies(HOSTS).attach(MP, mp_facts(sni=False), [owner_finding(), sni_finding()], node))
    assert len(node.reads) == 1  # one exec for every playbook of the host
    assert set(node.reads[0]) == {MP_CUSTOMER, MP_GENERATED}
    sni = out["mp-sni-disabled"]
    assert sni.playbook == "enable-sni.yml"
    assert sni.diff is not None
    assert "-conf_system_jsse.enableSNIExtension=false\n+conf_system_jsse.enableSNIExtension=true\n" in sni.diff
    assert sni.diff.startswith("# owner root:root -> apigee:apigee\n# mode 0600 -> 0644\n--- mp2:")
    assert "s3cr3t" not in sni.diff and "conf_http_client.keystore.password=********" in sni.diff
    assert sni.actions == (
        "/opt/apigee/apigee-service/bin/apigee-service edge-message-processor restart, then wait_for_ready "
        "and GET http://localhost:8082/v1/servers/self/up (timeout 300s)",
    )
    owner = out["properties-owner"]
    assert (owner.playbook, owner.diff) == ("fix-ownership.yml", "# owner root:root -> apigee:apigee\n")
    assert owner.actions == sni.actions
    assert sni.plan_error is None


def test_router_plan() -> None:
    node = Node()
    (weak,) = Remedies(HOSTS).attach(ROUTER, router_facts(), [weak_protocol_finding()], node)
    assert weak.playbook == "router-tls.yml"
    assert weak.diff is not None
    assert "+conf_load_balancing_load.balancing.driver.server.ssl.protocols=TLSv1.2 TLSv1.3\n" in weak.diff
    assert weak.actions[0].startswith("/opt/apigee/apigee-service/bin/apigee-service edge-router restart")
    assert node.reads == [[ROUTER_CUSTOMER, NGINX]]


def test_no_read_without_a_fixable_finding() -> None:
    node = Node()
    remedies = Remedies(HOSTS)
    assert remedies.attach(MP, mp_facts(sni=True), [], node) == ()
    unfixable = replace(sni_finding(), id="mp-https-protocols", cause="protocol")
    assert remedies.attach(MP, mp_facts(sni=True), [unfixable], node) == (unfixable,)
    assert node.reads == []
    assert playbooks_for([]) == [] and playbooks_for([unfixable]) == []


def test_restart_only_plan_has_an_empty_diff() -> None:
    pending = replace(sni_finding(), id="mp-restart-pending", severity="warning", cause="config")
    files = {MP_CUSTOMER: f("conf_system_jsse.enableSNIExtension=true\n"),
             MP_GENERATED: f("jsse.enableSNIExtension=false\n")}
    (out,) = Remedies(HOSTS).attach(MP, mp_facts(sni=False), [pending], Node(files))
    assert (out.playbook, out.diff) == ("restart-pending.yml", "")
    assert len(out.actions) == 1 and " edge-message-processor restart, then " in out.actions[0]


def test_jce_uses_the_facts_and_notes_a_missing_policy() -> None:
    jce = replace(sni_finding(), id="jce-limited", severity="warning", cause="jce")
    facts = replace(mp_facts(sni=True), java=java_facts(policy="limited"))
    security = facts.java.security_file
    assert security is not None
    policy_dir = security.rsplit("/", 1)[0] + "/policy/unlimited"
    with_policy = Node({security: f("crypto.policy=limited\n", "root"), f"{policy_dir}/local_policy.jar": f("x")})
    (out,) = Remedies(HOSTS).attach(MP, facts, [jce], with_policy)
    assert out.diff is not None and "-crypto.policy=limited\n+crypto.policy=unlimited\n" in out.diff
    without = Node({security: f("crypto.policy=limited\n", "root")})
    (old,) = Remedies(HOSTS).attach(MP, facts, [jce], without)
    assert old.diff == ""
    assert len(old.actions) == 1 and old.actions[0].startswith("note: jce-unlimited: no unlimited policy")


def test_planning_failures_are_notes_never_errors() -> None:
    remedies = Remedies(HOSTS)
    (loose,) = remedies.attach(LOOSE, mp_facts(sni=False), [sni_finding()], Node())
    assert loose.playbook == "enable-sni.yml"
    assert loose.plan_error == "could not plan: no play of enable-sni.yml targets mp7 (hosts: 'message_processors')"
    node = Node(fail=HostError("no answer within 60 s", "timeout"))
    out = remedies.attach(MP, mp_facts(sni=False), [owner_finding(), sni_finding()], node)
    assert len(node.reads) == 1
    for finding in out:
        assert finding.plan_error == "could not plan: cannot read the files the playbook needs: no answer within 60 s"


def test_even_a_planner_bug_is_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    import fixer.plan.planner

    def broken(*args: object) -> None:
        raise KeyError("/etc/oops")

    monkeypatch.setattr(fixer.plan.planner, "plan_host", broken)
    (sni,) = Remedies(HOSTS).attach(MP, mp_facts(sni=False), [sni_finding()], Node())
    assert sni.plan_error == "could not plan: KeyError: '/etc/oops'"


def test_a_playbook_that_cannot_be_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    from fixer.playbook import findings

    monkeypatch.setitem(findings.FINDING_PLAYBOOKS, "mp-sni-disabled", "no-such-playbook.yml")
    node = Node()
    (out,) = Remedies(HOSTS).attach(MP, mp_facts(sni=False), [sni_finding()], node)
    assert out.playbook == "no-such-playbook.yml"
    assert out.plan_error is not None and out.plan_error.startswith("could not plan: cannot load no-such-playbook.yml")
    assert node.reads == []


def test_each_playbook_is_loaded_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import fixer.playbook

    loads: list[str] = []
    real = fixer.playbook.load_playbook
    def counting(path: str) -> Playbook:
        loads.append(str(path))
        return real(path)

    monkeypatch.setattr(fixer.playbook, "load_playbook", counting)
    remedies = Remedies(HOSTS)
    for _ in range(3):
        remedies.attach(MP, mp_facts(sni=False), [owner_finding(), sni_finding()], Node())
    assert sorted(p.rsplit("/", 1)[-1] for p in loads) == ["enable-sni.yml", "fix-ownership.yml"]


@pytest.mark.parametrize(("pattern", "selected"), [
    ("message_processors", {"mp2"}),
    ("all", {"mp2", "r1", "mp7"}),
    ("routers:message_processors", {"mp2", "r1"}),
    ("mp*", {"mp2", "mp7"}),
    ("all:!routers", {"mp2", "mp7"}),
    ("mp*:&message_processors", {"mp2"}),
    ("r1", {"r1"}),
    ("no_such_group:routers", {"r1"}),  # lenient like Ansible: a term matching nothing adds nothing
    ("no_such_group", set()),
    ("message_processors[0]", {"mp2"}),
])
def test_play_host_patterns(pattern: str, selected: set[str]) -> None:
    patterns = HostPatterns(HOSTS)
    assert {h.name for h in HOSTS if patterns.selects(pattern, h)} == selected
