"""The planner: task order over a virtual state, handlers, when/requires, variables, errors, idempotence."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

import pytest

from fixer.errors import UsageError
from fixer.inventory.model import Host
from fixer.plan.model import FileState, HostPlan
from fixer.plan.planner import host_variables, paths_to_read, plan_host
from fixer.playbook import Play, parse_playbook

C = "/opt/apigee/customer/application/message-processor.properties"
S = "/opt/apigee/edge-message-processor/conf/system.properties"
MP = Host("mp1", ("all", "message_processors"), {"ansible_host": "10.0.0.11"})


def play_of(text: str) -> Play:
    return parse_playbook(textwrap.dedent(text).lstrip("\n"), "p.yml").plays[0]


def props(text: str, owner: str = "apigee", mode: int = 0o644) -> FileState:
    return FileState(True, text.encode(), owner, owner, mode)


def plan(play: Play, seen: Mapping[str, FileState], host: Host = MP, facts: Mapping[str, Any] | None = None,
         **extra: Any) -> HostPlan:
    wanted = paths_to_read(play, host, extra, facts)
    assert set(wanted) <= set(seen), f"paths_to_read lists {wanted}, the test gave {sorted(seen)}"
    return plan_host(play, host, seen, extra, facts)


def replan(play: Play, seen: Mapping[str, FileState], first: HostPlan, **extra: Any) -> HostPlan:
    """The plan over the state the first plan leaves behind."""
    after = dict(seen)
    after.update({f.path: f.after for f in first.files})
    return plan(play, after, **extra)


HANDLERS = f"""
- hosts: all
  tasks:
    - name: first
      properties: {{path: {C}, set: {{a: "1"}}}}
      notify: [restart b, restart a]
    - name: second
      properties: {{path: {C}, set: {{b: "2"}}}}
      notify: restart a
    - name: unchanged
      properties: {{path: {S}, set: {{x: "1"}}}}
      notify: never
  handlers:
    - name: restart a
      service: {{component: edge-a, action: restart}}
    - name: never
      service: {{component: edge-never, action: restart}}
    - name: restart b
      service: {{component: edge-b, action: restart}}
"""


def test_handlers_run_once_in_defined_order_only_when_notified_by_a_change() -> None:
    play = play_of(HANDLERS)
    assert paths_to_read(play, MP, {}) == [C, S]
    result = plan(play, {C: props(""), S: props("x=1\n")})
    assert [s.component for s in result.services] == ["edge-a", "edge-b"]
    assert [s.reason for s in result.services] == ["restart a", "restart b"]
    customer, system = result.files
    assert customer.path == C and customer.tasks == ("first", "second")
    assert customer.before == props("") and customer.after.content == b"a=1\nb=2\n"
    assert system.path == S and not system.changed and system.tasks == ("unchanged",)
    assert [f.path for f in result.changes] == [C]
    second = replan(play, {C: props(""), S: props("x=1\n")}, result)
    assert not second.changed and not second.services


def test_no_change_no_handler() -> None:
    result = plan(play_of(HANDLERS), {C: props("a=1\nb=2\n"), S: props("x=1\n")})
    assert not result.changed and result.services == ()


def test_restart_planned_once_but_start_stop_as_asked() -> None:
    play = play_of(f"""
        - hosts: all
          tasks:
            - name: edit
              properties: {{path: {C}, set: {{a: "1"}}}}
              notify: restart
            - name: stop it
              service: {{component: edge-x, action: stop}}
            - name: restart now
              service: {{component: edge-message-processor, action: restart}}
            - name: stop again
              service: {{component: edge-x, action: stop}}
          handlers:
            - name: restart
              service: {{component: edge-message-processor, action: restart}}
    """)
    result = plan(play, {C: props("")})
    assert [(s.component, s.action, s.reason) for s in result.services] == [
        ("edge-x", "stop", "stop it"), ("edge-message-processor", "restart", "restart now"),
        ("edge-x", "stop", "stop again"),
    ]


WHEN = f"""
- hosts: all
  tasks:
    - name: only when asked
      when: protocols is defined
      properties: {{path: {C}, set: {{conf_system_https.protocols: "{{{{ protocols }}}}"}}}}
    - name: never
      when: [true, "inventory_hostname == 'other'"]
      properties: {{path: /never/read, set: {{a: "1"}}}}
"""


def test_when_skips_and_skipped_tasks_read_nothing() -> None:
    play = play_of(WHEN)
    assert paths_to_read(play, MP, {}) == []
    assert plan(play, {}) == HostPlan("mp1", "10.0.0.11")
    assert paths_to_read(play, MP, {"protocols": "TLSv1.2"}) == [C]
    result = plan(play, {C: props("")}, protocols="TLSv1.2")
    assert result.changes[0].after.content == b"conf_system_https.protocols=TLSv1.2\n"


def test_when_with_undefined_variable_is_a_clear_error() -> None:
    play = play_of(f"""
        - hosts: all
          tasks:
            - name: compare
              when: level > 2
              file: {{path: {C}, owner: apigee}}
    """)
    with pytest.raises(UsageError) as err:
        paths_to_read(play, MP, {})
    assert str(err.value) == ("mp1: task 'compare' (p.yml:3): `when: level > 2`: undefined variable: "
                              "'level' is undefined")


REQUIRES = """
- hosts: all
  tasks:
    - name: gated
      requires:
        - vars: [java_security_file]
          note: "{{ inventory_hostname }}: no java.security known"
        - exists: ["{{ java_security_file | dirname }}/policy/unlimited/local_policy.jar", /opt/other]
          note: no unlimited policy
      properties: {path: "{{ java_security_file }}", set: {crypto.policy: unlimited}}
"""
SEC = "/usr/lib/jvm/jre/lib/security/java.security"
JAR = "/usr/lib/jvm/jre/lib/security/policy/unlimited/local_policy.jar"


def test_requires_vars_unmet_gives_the_note_and_reads_nothing() -> None:
    play = play_of(REQUIRES)
    assert paths_to_read(play, MP, {}) == []
    result = plan(play, {})
    assert result.notes == ("mp1: no java.security known",) and not result.changed and not result.files


def test_requires_exists() -> None:
    play = play_of(REQUIRES)
    facts = {"java_security_file": SEC}
    assert paths_to_read(play, MP, {}, facts) == [JAR, "/opt/other", SEC]
    missing = plan(play, {JAR: FileState(False), "/opt/other": FileState(False), SEC: props("")}, facts=facts)
    assert missing.notes == ("no unlimited policy",) and not missing.files
    other = plan(play, {JAR: FileState(False), "/opt/other": props(""), SEC: props("")}, facts=facts)
    assert other.changes[0].after.content == b"crypto.policy=unlimited\n" and not other.notes


def test_requires_without_note_skips_silently() -> None:
    play = play_of(f"""
        - hosts: all
          tasks:
            - name: chown if there
              requires: {{exists: {C}}}
              file: {{path: {C}, owner: apigee}}
    """)
    assert plan(play, {C: FileState(False)}) == HostPlan("mp1", "10.0.0.11")


PENDING = f"""
- hosts: all
  tasks:
    - name: restart if pending
      requires:
        tokens_pending: {{customer: {C}, generated: {S}}}
      service: {{component: edge-message-processor, action: restart}}
"""


@pytest.mark.parametrize(("customer", "generated", "pending"), [
    ("conf_system_jsse.enableSNIExtension=true\n", "jsse.enableSNIExtension=true\n", False),
    ("conf_system_jsse.enableSNIExtension=true\n", "jsse.enableSNIExtension=false\n", True),
    ("conf_system_jsse.enableSNIExtension=true\n", "other=1\n", True),
    ("conf_system_jsse.enableSNIExtension=true \n", "jsse.enableSNIExtension = true\n", False),
    ("conf/system.properties+https.protocols=TLSv1.2\n", "https.protocols=TLSv1.2\n", False),
    ("conf/system.properties+https.protocols=TLSv1.2\n", "https.protocols=TLSv1.1\n", True),
    ("conf_system_a=1\nconf_system_a=2\n", "a=2\n", False),  # the last token wins
    ("conf_http_x=1\nplain=2\n", "", False),  # tokens of other generated files do not count
    (None, "a=1\n", False),
    ("conf_system_a=1\n", None, True),
])
def test_requires_tokens_pending(customer: str | None, generated: str | None, pending: bool) -> None:
    seen = {C: props(customer) if customer is not None else FileState(False),
            S: props(generated) if generated is not None else FileState(False)}
    assert bool(plan(play_of(PENDING), seen).services) is pending


@pytest.mark.parametrize(("content", "restart"), [
    ("ssl_protocols TLSv1.2;\n", False),
    ("  ssl_protocols   TLSv1.2 ;\n", False),
    ("ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n", True),
    (None, True),  # an absent file lacks the pattern: a restart generates it
])
def test_requires_file_lacks(content: str | None, restart: bool) -> None:
    conf = "/opt/nginx/conf.d/0-default.conf"
    play = play_of("""
        - hosts: all
          tasks:
            - name: restart on drift
              requires:
                file_lacks:
                  path: "{{ nginx_conf_dir }}/0-default.conf"
                  pattern: '^\\s*ssl_protocols\\s+TLSv1\\.2\\s*;'
              service: {component: edge-router, action: restart}
    """)
    seen = {conf: props(content) if content is not None else FileState(False)}
    assert bool(plan(play, seen).services) is restart


# -- variables ------------------------------------------------------------------------------------

def test_variable_precedence() -> None:
    play = play_of("""
        - hosts: all
          vars: {from_play: play, both: play, chain: "{{ from_host }}-{{ from_play }}"}
          tasks:
            - name: t
              verify: {nginx_test: true}
    """)
    host = Host("mp1", ("all", "message_processors"), {
        "from_host": "host", "both": "host", "fact": "host", "apigee_root": "/data/apigee/",
        "inventory_hostname": "spoofed",
    })
    merged = host_variables(play, host, {"both": "extra", "extra_only": "e"}, {"fact": "facts", "both": "facts"})
    assert merged["both"] == "extra"
    assert merged["fact"] == "facts"
    assert merged["from_play"] == "play" and merged["from_host"] == "host" and merged["extra_only"] == "e"
    assert merged["apigee_root"] == "/data/apigee" and merged["nginx_conf_dir"] == "/opt/nginx/conf.d"
    assert merged["inventory_hostname"] == "mp1" and merged["group_names"] == ["message_processors"]
    assert host_variables(play, host, {}, None)["both"] == "play"


def test_variables_resolve_lazily_and_recursively() -> None:
    play = play_of("""
        - hosts: all
          vars:
            customer: "{{ apigee_root }}/customer/application/{{ component_file }}"
            broken: "{{ undefined_thing }}"
          tasks:
            - name: t
              properties: {path: "{{ customer }}", set: {a: "{{ port + 1 }}"}}
    """)
    host = Host("mp1", ("message_processors",), {"apigee_root": "/data/apigee", "component_file": "mp.properties",
                                                 "port": 8081})
    path = "/data/apigee/customer/application/mp.properties"
    assert paths_to_read(play, host, {}) == [path]  # `broken` is never used, so never an error
    assert plan(play, {path: props("")}, host).changes[0].after.content == b"a=8082\n"


@pytest.mark.parametrize(("extra", "message"), [
    ({}, "mp1: task 't' (p.yml:3): undefined variable: 'target' is undefined"),
    ({"target": "{{ other }}"},
     "mp1: task 't' (p.yml:3): undefined variable: 'other' is undefined (in variable 'target')"),
    ({"target": "{{ target }}"}, "mp1: task 't' (p.yml:3): variable 'target' refers to itself: target -> target"),
    ({"target": "relative/path"},
     "mp1: task 't' (p.yml:3): file: path must be an absolute path, got 'relative/path'"),
    ({"target": "/x", "who": "root:root"},
     "mp1: task 't' (p.yml:3): file: owner 'root:root' is not a user or group name"),
])
def test_per_host_errors_name_host_task_and_cause(extra: dict[str, Any], message: str) -> None:
    play = play_of("""
        - hosts: all
          tasks:
            - name: t
              file: {path: "{{ target }}", owner: "{{ who | default('apigee') }}"}
    """)
    with pytest.raises(UsageError) as err:
        paths_to_read(play, MP, extra)
    assert str(err.value) == message
    if "target" in extra and extra["target"].startswith("/"):
        with pytest.raises(UsageError) as err:
            plan_host(play, MP, {"/x": props("")}, extra)
        assert str(err.value) == message


def test_a_path_missing_from_seen_is_a_programming_error() -> None:
    play = play_of(f"- hosts: all\n  tasks:\n    - name: t\n      file: {{path: {C}, owner: apigee}}\n")
    with pytest.raises(KeyError, match="paths_to_read must list every path"):
        plan_host(play, MP, {}, {})


def test_whole_args_from_a_variable() -> None:
    play = play_of("- hosts: all\n  tasks:\n    - name: t\n      file: '{{ file_args }}'\n")
    result = plan(play, {C: props("", "root")}, file_args={"path": C, "owner": "apigee"})
    assert result.changes[0].after.owner == "apigee"
    with pytest.raises(UsageError, match="needs a mapping of arguments"):
        paths_to_read(play, MP, {"file_args": "nope"})


def test_notes_are_deduplicated() -> None:
    play = play_of("""
        - hosts: all
          tasks:
            - name: a
              requires: {vars: x, note: same}
              verify: {nginx_test: true}
            - name: b
              requires: {vars: x, note: same}
              verify: {nginx_test: true}
    """)
    assert plan(play, {}).notes == ("same",)
