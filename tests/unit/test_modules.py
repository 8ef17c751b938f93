"""Each module planned over a virtual file state: what it changes, what it refuses, per-host arg errors."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from fixer.errors import UsageError
from fixer.facts.properties import parse_properties
from fixer.inventory.model import Host
from fixer.modules import MODULES, PlanError
from fixer.modules import template as template_module
from fixer.plan.model import FileState, HostPlan, Readiness, ServiceAction, Verify
from fixer.plan.planner import paths_to_read, plan_host
from fixer.playbook import Play, parse_playbook

DATA = Path(__file__).parent / "data" / "playbooks"
CUSTOMER = "/opt/apigee/customer/application/message-processor.properties"
MP = Host("mp1", ("message_processors",), {"ansible_host": "10.0.0.11"})


def one_task(module: str, args: str, **play: str) -> Play:
    extra = "".join(f"  {k}: {v}\n" for k, v in play.items())
    body = textwrap.indent(textwrap.dedent(args).strip("\n"), " " * 8)
    text = f"- hosts: all\n{extra}  tasks:\n    - name: the task\n      {module}:\n{body}\n"
    return parse_playbook(text, "t.yml").plays[0]


def plan(play: Play, seen: Mapping[str, FileState], host: Host = MP, **extra: Any) -> HostPlan:
    paths = paths_to_read(play, host, extra)
    assert set(paths) <= set(seen), f"paths_to_read lists {paths}, the test gave {sorted(seen)}"
    return plan_host(play, host, seen, extra)


def absent() -> FileState:
    return FileState(exists=False)


def props(text: str, owner: str = "apigee", group: str = "apigee", mode: int = 0o644) -> FileState:
    return FileState(True, text.encode(), owner, group, mode)


def test_registry() -> None:
    assert sorted(MODULES) == ["file", "properties", "service", "target_endpoint", "template", "verify"]


# -- properties -----------------------------------------------------------------------------------

def test_properties_sets_and_keeps_the_rest() -> None:
    play = one_task("properties", f"""
        path: {CUSTOMER}
        set:
          conf_system_jsse.enableSNIExtension: true
          conf_http_HTTPClient.connect.timeout.millis: 5000
        remove: [conf_old]
    """)
    before = props("# Apigee MP overrides\r\nconf_old=1\r\nconf_system_jsse.enableSNIExtension = false\r\nz=1\r\n",
                   "root", "root", 0o600)
    result = plan(play, {CUSTOMER: before})
    (change,) = result.files
    assert change.after.content == (b"# Apigee MP overrides\r\nconf_system_jsse.enableSNIExtension = true\r\nz=1\r\n"
                                    b"conf_http_HTTPClient.connect.timeout.millis=5000\r\n")
    assert (change.after.owner, change.after.group, change.after.mode) == ("root", "root", 0o600)  # not asked
    assert change.tasks == ("the task",) and change.before is before
    assert not result.services and not result.verifies


def test_properties_owner_group_mode_alone_is_a_change() -> None:
    play = one_task("properties", f"""
        path: {CUSTOMER}
        set: {{a: "1"}}
        owner: apigee
        group: apigee
        mode: "0644"
    """)
    result = plan(play, {CUSTOMER: props("a=1\n", "root", "root", 0o600)})
    (change,) = result.changes
    assert not change.content_changed and change.attrs_changed
    assert (change.after.owner, change.after.group, change.after.mode) == ("apigee", "apigee", 0o644)


def test_properties_unchanged_when_value_already_set() -> None:
    play = one_task("properties", f"path: {CUSTOMER}\nset: {{enabled: true}}\nowner: apigee")
    result = plan(play, {CUSTOMER: props("enabled = true\n")})
    assert result.files and not result.changes and not result.changed


def test_properties_create() -> None:
    play = one_task("properties", f"path: {CUSTOMER}\nset: {{a: x}}\ncreate: true\nowner: apigee\nmode: '0640'")
    (change,) = plan(play, {CUSTOMER: absent()}).changes
    assert change.after == FileState(True, b"a=x\n", "apigee", None, 0o640)


def test_properties_missing_file_without_create_fails_the_host() -> None:
    play = one_task("properties", f"path: {CUSTOMER}\nset: {{a: x}}")
    with pytest.raises(PlanError, match=r"mp1: task 'the task' \(t.yml:3\): .*does not exist \(add `create: true`"):
        plan(play, {CUSTOMER: absent()})


def test_properties_latin1_file_round_trips() -> None:
    content = "# caf\xe9\nname=Jos\xe9\n".encode("latin-1")
    play = one_task("properties", f"path: {CUSTOMER}\nset: {{a: é}}")
    (change,) = plan(play, {CUSTOMER: FileState(True, content, "apigee", "apigee", 0o644)}).changes
    assert change.after.content == content + b"a=\\u00E9\n"


def test_properties_malformed_file_fails_the_host() -> None:
    play = one_task("properties", f"path: {CUSTOMER}\nset: {{a: x}}")
    with pytest.raises(PlanError, match="malformed"):
        plan(play, {CUSTOMER: props("bad=\\uZZZZ\n")})


@pytest.mark.parametrize("value", ["$(touch /tmp/pwned)", "`id`", "'; rm -rf / #", '"quoted" & | > <'])
def test_properties_shell_metacharacters_are_data(value: str) -> None:
    play = one_task("properties", f"path: {CUSTOMER}\nset:\n  conf_system_x: \"{{{{ v }}}}\"")
    (change,) = plan(play, {CUSTOMER: props("")}, v=value).changes
    assert [(e.key, e.value) for e in parse_properties(change.after.content.decode())] == [("conf_system_x", value)]


def test_properties_newline_from_a_variable_is_refused_per_host() -> None:
    play = one_task("properties", f"path: {CUSTOMER}\nset:\n  conf_system_x: \"{{{{ v }}}}\"")
    with pytest.raises(UsageError, match=r"mp1: task 'the task' \(t.yml:3\): .*newline.*inject another key"):
        plan(play, {CUSTOMER: props("")}, v="true\nconf_system_evil=1")


def test_properties_bool_and_int_values_become_java_text() -> None:
    play = one_task("properties", f"path: {CUSTOMER}\nset: {{a: true, b: false, c: 42, d: '{{{{ flag }}}}'}}")
    (change,) = plan(play, {CUSTOMER: props("")}, flag=False).changes
    assert change.after.content == b"a=true\nb=false\nc=42\nd=false\n"


# -- file -----------------------------------------------------------------------------------------

def test_file_chown() -> None:
    play = one_task("file", f"path: {CUSTOMER}\nowner: apigee\ngroup: apigee")
    (change,) = plan(play, {CUSTOMER: props("a=1\n", "root", "root", 0o600)}).changes
    assert (change.after.owner, change.after.group, change.after.mode) == ("apigee", "apigee", 0o600)
    assert change.after.content == change.before.content


def test_file_already_right_is_no_change() -> None:
    play = one_task("file", f"path: {CUSTOMER}\nowner: apigee\nmode: 0644")  # unquoted 0644 = octal in YAML 1.1
    assert not plan(play, {CUSTOMER: props("a=1\n")}).changed


def test_file_missing_fails_the_host() -> None:
    play = one_task("file", f"path: {CUSTOMER}\nowner: apigee")
    with pytest.raises(PlanError, match="does not exist"):
        plan(play, {CUSTOMER: absent()})


# -- template -------------------------------------------------------------------------------------

@pytest.fixture
def templates_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    path = DATA / "templates"
    monkeypatch.setattr(template_module, "template_dirs", lambda: [path])
    return path


def test_template_renders_with_host_vars(templates_dir: Path) -> None:
    dest = "/opt/apigee/customer/fixer-note.txt"
    play = one_task("template", f"src: router-note.txt.j2\ndest: {dest}\nowner: apigee\nmode: '0644'",
                    vars="{router_protocols: TLSv1.2 TLSv1.3}")
    result = plan(play, {dest: absent()}, ciphers=["A", "B"])
    (change,) = result.changes
    assert change.after.content == (b"# managed by fixer for mp1\nprotocols=TLSv1.2 TLSv1.3\ncipher=A\ncipher=B\n")
    assert (change.after.owner, change.after.mode) == ("apigee", 0o644)
    again = plan(play, {dest: change.after}, ciphers=["A", "B"])
    assert not again.changed


def test_template_undefined_variable(templates_dir: Path) -> None:
    play = one_task("template", "src: router-note.txt.j2\ndest: /x")
    with pytest.raises(UsageError, match=r"mp1: task 'the task' \(t.yml:3\): template router-note.txt.j2: "
                                         r"undefined variable: 'router_protocols' is undefined"):
        plan(play, {"/x": absent()}, ciphers=[])


def test_template_dirs_default_to_the_repository() -> None:
    dirs = template_module.template_dirs()
    assert dirs[0] == Path(__file__).resolve().parents[2] / "templates"
    assert dirs[1].parts[-3:] == ("share", "fixer", "templates")
    assert template_module.find_template("report.html.j2") is not None
    assert template_module.find_template("../fixer/cli.py") is None


# -- service --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "expected"), [
    ("component: edge-message-processor\naction: restart",
     ServiceAction("edge-message-processor", "restart", "/opt/apigee/apigee-service/bin/apigee-service",
                   Readiness(8082, True, 300.0), "the task")),
    ("component: message-processor\naction: restart",
     ServiceAction("message-processor", "restart", "/opt/apigee/apigee-service/bin/apigee-service",
                   Readiness(8082, True, 300.0), "the task")),
    ("component: edge-router\naction: stop\nreadiness: {timeout: 60, wait_for_ready: false}",
     ServiceAction("edge-router", "stop", "/opt/apigee/apigee-service/bin/apigee-service",
                   Readiness(8081, False, 60.0), "the task")),
    ("component: edge-management-server\naction: start",
     ServiceAction("edge-management-server", "start", "/opt/apigee/apigee-service/bin/apigee-service",
                   Readiness(None, True, 300.0), "the task")),
    ("component: edge-router\naction: restart\napigee_service: /usr/local/bin/apigee-service\n"
     "readiness: {port: null}",
     ServiceAction("edge-router", "restart", "/usr/local/bin/apigee-service", Readiness(None, True, 300.0),
                   "the task")),
    ("component: edge-router\naction: restart\nreadiness: {port: 18081, timeout: 12.5}",
     ServiceAction("edge-router", "restart", "/opt/apigee/apigee-service/bin/apigee-service",
                   Readiness(18081, True, 12.5), "the task")),
])
def test_service(args: str, expected: ServiceAction) -> None:
    result = plan(one_task("service", args), {})
    assert result.services == (expected,)
    assert result.changed and not result.files


def test_service_default_command_follows_apigee_root() -> None:
    host = Host("mp2", ("message_processors",), {"apigee_root": "/data/apigee/"})
    result = plan(one_task("service", "component: edge-message-processor\naction: restart"), {}, host)
    assert result.services[0].command == "/data/apigee/apigee-service/bin/apigee-service"


def test_service_templated_port_is_checked_per_host() -> None:
    play = one_task("service", "component: edge-router\naction: restart\nreadiness: {port: '{{ p }}'}")
    assert plan(play, {}, p=8443).services[0].readiness.port == 8443
    with pytest.raises(UsageError, match=r"mp1: task 'the task' \(t.yml:3\): .*port must be between 1 and 65535"):
        plan(play, {}, p=0)


# -- verify ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "expected"), [
    ("properties: {path: /s.properties, key: jsse.enableSNIExtension, value: true}",
     Verify("properties", "the task", path="/s.properties", key="jsse.enableSNIExtension", value="true")),
    ("properties: {path: /s.properties, key: gone}",
     Verify("properties", "the task", path="/s.properties", key="gone", value=None)),
    ("nginx_test: true", Verify("nginx_test", "the task")),
    ("nginx_test: {config: /opt/nginx/conf/nginx.conf}",
     Verify("nginx_test", "the task", path="/opt/nginx/conf/nginx.conf")),
    ("file_contains: {path: /opt/nginx/conf.d/0-default.conf, pattern: 'ssl_protocols\\s+TLSv1\\.2;'}",
     Verify("file_contains", "the task", path="/opt/nginx/conf.d/0-default.conf",
            pattern="ssl_protocols\\s+TLSv1\\.2;")),
])
def test_verify(args: str, expected: Verify) -> None:
    result = plan(one_task("verify", args), {})
    assert result.verifies == (expected,)
    assert not result.changed  # a verify changes nothing


def test_verify_templated_regex_is_checked_per_host() -> None:
    play = one_task("verify", "file_contains: {path: /x, pattern: '{{ p }}'}")
    with pytest.raises(UsageError, match="not a valid regular expression"):
        plan(play, {}, p="((")
