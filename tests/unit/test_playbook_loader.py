"""Loading playbooks: the model built from YAML, and every validation error with its file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fixer.errors import InventoryError, PlaybookError, UsageError
from fixer.playbook import Play, Requirement, load_playbook, parse_playbook

DATA = Path(__file__).parent / "data" / "playbooks"


def parse(text: str) -> list[Play]:
    return list(parse_playbook(textwrap.dedent(text).lstrip("\n"), "book.yml").plays)


GOOD = """
- name: SNI
  hosts: message_processors:!mp3
  serial: [1, "25%", "100%"]
  max_fail_percentage: 20
  vars:
    customer: "{{ apigee_root }}/customer/application/message-processor.properties"
  tasks:
    - name: set SNI
      when: enable | default(true)
      properties:
        path: "{{ customer }}"
        set: {conf_system_jsse.enableSNIExtension: true, count: 3}
        create: true
        mode: "0644"
      notify: restart
    - name: check
      verify:
        properties: {path: /opt/apigee/edge-message-processor/conf/system.properties, key: k, value: v}
  handlers:
    - name: restart
      service: {component: edge-message-processor, action: restart}
"""


def test_good_playbook_model() -> None:
    (play,) = parse(GOOD)
    assert play.name == "SNI"
    assert play.hosts == "message_processors:!mp3"
    assert play.serial == (1, "25%", "100%")
    assert play.max_fail_percentage == 20.0
    assert play.vars == {"customer": "{{ apigee_root }}/customer/application/message-processor.properties"}
    assert [t.name for t in play.tasks] == ["set SNI", "check"]
    task = play.tasks[0]
    assert (task.module, task.notify, task.when, task.line, task.file) == (
        "properties", ("restart",), ("enable | default(true)",), 8, "book.yml")
    assert task.args["set"] == {"conf_system_jsse.enableSNIExtension": True, "count": 3}
    assert type(task.args) is dict  # plain data, no loader types left
    assert play.handler("restart") is not None and play.handler("nope") is None
    assert play.where == "book.yml:1"


def test_defaults() -> None:
    (play,) = parse("""
        - hosts: all
          tasks:
            - name: t
              file: {path: /x, owner: apigee}
    """)
    assert (play.name, play.serial, play.max_fail_percentage, play.handlers, play.vars) == ("play 1", None, 0.0, (), {})


@pytest.mark.parametrize(("serial", "expected"), [
    ("1", (1,)), ("5", (5,)), ('"30%"', ("30%",)), ('"2"', (2,)), ("[1, '25%']", (1, "25%")),
    ("[2, 10, '50%', '100%']", (2, 10, "50%", "100%")), ("'12.5%'", ("12.5%",)),
])
def test_serial_forms(serial: str, expected: tuple[int | str, ...]) -> None:
    (play,) = parse(f"""
        - hosts: all
          serial: {serial}
          tasks:
            - name: t
              file: {{path: /x, owner: apigee}}
    """)
    assert play.serial == expected


def test_hosts_list_and_when_list_and_requires() -> None:
    (play,) = parse("""
        - hosts: [message_processors, routers]
          tasks:
            - name: t
              when: [a is defined, true]
              requires:
                - vars: [a, b]
                  note: missing
                - exists: /etc/x
              file: {path: /x, owner: apigee}
    """)
    assert play.hosts == "message_processors,routers"
    assert play.tasks[0].when == ("a is defined", "true")
    assert play.tasks[0].requires == (
        Requirement("vars", ["a", "b"], "missing", 6), Requirement("exists", "/etc/x", None, 8))


def test_load_playbook_from_file_and_errors_name_the_file(tmp_path: Path) -> None:
    good = load_playbook(DATA / "good.yml")
    assert [p.name for p in good.plays] == ["message processors", "routers"]
    with pytest.raises(PlaybookError) as err:
        load_playbook(DATA / "bad-module.yml")
    assert (err.value.path, err.value.line) == (str(DATA / "bad-module.yml"), 6)
    assert "unknown task key or module 'lineinfile': use the `properties` module" in str(err.value)
    with pytest.raises(PlaybookError) as err:
        load_playbook(tmp_path / "missing.yml")
    assert err.value.path == str(tmp_path / "missing.yml") and "not found" in str(err.value)


def test_playbook_error_is_a_usage_error() -> None:
    assert issubclass(PlaybookError, InventoryError) and issubclass(PlaybookError, UsageError)


T = "    - name: t\n"  # a task header at line 3 of the snippets below
HEAD = "- hosts: all\n  tasks:\n"

ERRORS = [
    # (id, yaml, line, message fragment)
    ("empty", "", 1, "empty playbook"),
    ("not a list", "hosts: all\n", 1, "a playbook is a list of plays"),
    ("no plays", "[]\n", 1, "no plays"),
    ("play not a mapping", "- just a string\n", 1, "play 1 must be a mapping"),
    ("second play not a mapping", HEAD + T + "      file: {path: /x, owner: a}\n- 3\n", 5, "play 2 must be a mapping"),
    ("unknown play key", "- hosts: all\n  tasks: []\n  serail: 1\n", 3,
     "unknown play key 'serail' (did you mean 'serial'?)"),
    ("ansible play key", "- hosts: all\n  become: true\n", 2, "set ansible_become in the inventory"),
    ("gather_facts", "- hosts: all\n  gather_facts: false\n", 2, "gather_facts"),
    ("no hosts", "- name: x\n  tasks: []\n", 1, "has no `hosts`"),
    ("hosts not a string", "- hosts: 3\n  tasks: []\n", 1, "hosts must be an inventory pattern string"),
    ("no tasks", "- hosts: all\n", 1, "the play has no tasks"),
    ("empty tasks", "- hosts: all\n  tasks: []\n", 2, "the play has no tasks"),
    ("tasks not a list", "- hosts: all\n  tasks: {a: 1}\n", 2, "tasks must be a list"),
    ("vars not a mapping", "- hosts: all\n  vars: [1]\n  tasks: []\n", 2, "vars must be a mapping"),
    ("bad var name", "- hosts: all\n  vars:\n    ok: 1\n    not-ok: 2\n", 4, "'not-ok' is not a valid variable name"),
    ("bad template in vars", "- hosts: all\n  vars:\n    a: '{{ b }'\n", 3, "invalid template"),
    ("serial zero", "- hosts: all\n  serial: 0\n", 2, "serial entry 0"),
    ("serial bad percent", "- hosts: all\n  serial: [1, '0%']\n", 2, "serial entry '0%'"),
    ("serial over 100%", "- hosts: all\n  serial: '150%'\n", 2, "serial entry '150%'"),
    ("serial word", "- hosts: all\n  serial: lots\n", 2, "serial entry 'lots'"),
    ("serial empty", "- hosts: all\n  serial: []\n", 2, "serial must not be an empty list"),
    ("serial bool", "- hosts: all\n  serial: true\n", 2, "serial entry True"),
    ("max_fail over 100", "- hosts: all\n  max_fail_percentage: 101\n", 2, "max_fail_percentage must be a number"),
    ("max_fail string", "- hosts: all\n  max_fail_percentage: '10%'\n", 2, "max_fail_percentage must be a number"),
    ("duplicate key", "- hosts: all\n  hosts: x\n", 2, "duplicate key 'hosts'"),
    ("invalid yaml", "- hosts: all\n  tasks: [\n", 3, "invalid YAML"),
    ("task not a mapping", HEAD + "    - just text\n", 3, "a task must be a mapping"),
    ("task without name", HEAD + "    - file: {path: /x, owner: a}\n", 3, "missing `name`"),
    ("task without module", HEAD + T + "      notify: x\n", 3, "has no module"),
    ("two modules", HEAD + T + "      file: {path: /x, owner: a}\n      verify: {nginx_test: true}\n", 5,
     "more than one module"),
    ("unknown module", HEAD + T + "      proprties: {path: /x}\n", 4, "(did you mean 'properties'?)"),
    ("ansible module", HEAD + T + "      shell: echo hi\n", 4, "fixer runs no arbitrary commands"),
    ("unknown task key", HEAD + T + "      notfy: x\n      file: {path: /x, owner: a}\n", 4, "did you mean 'notify'?"),
    ("args not a mapping", HEAD + T + "      file: path=/x owner=a\n", 4, "needs a mapping of arguments"),
    ("unknown argument", HEAD + T + "      properties:\n        path: /x\n        sett: {a: 1}\n", 6,
     "unknown argument 'sett' for properties (did you mean 'set'?)"),
    ("missing argument", HEAD + T + "      properties:\n        set: {a: 1}\n", 4, "missing required argument 'path'"),
    ("relative path", HEAD + T + "      file:\n        path: etc/x\n        owner: a\n", 5, "must be an absolute path"),
    ("dotdot path", HEAD + T + "      file: {path: /opt/../etc/x, owner: a}\n", 4, "must not contain '..'"),
    ("bool as path", HEAD + T + "      file:\n        owner: a\n        path: true\n", 6,
     "must be a string, got a boolean"),
    ("bad mode", HEAD + T + "      file:\n        path: /x\n        mode: rw-r--r--\n", 6, "octal mode"),
    ("decimal mode", HEAD + T + "      file:\n        path: /x\n        mode: 644\n", 6, "quote it"),
    ("bad owner", HEAD + T + "      file:\n        path: /x\n        owner: 'a b'\n", 6, "not a user or group name"),
    ("file does nothing", HEAD + T + "      file: {path: /x}\n", 4, "nothing to do"),
    ("properties does nothing", HEAD + T + "      properties: {path: /x}\n", 4, "nothing to do"),
    ("create not bool", HEAD + T + "      properties:\n        path: /x\n        set: {a: 1}\n        create: maybe\n",
     7, "must be true or false"),
    ("newline in value", HEAD + T + "      properties:\n        path: /x\n        set:\n          a: \"1\\nb=2\"\n", 4,
     "newline"),
    ("newline in key", HEAD + T + "      properties:\n        path: /x\n        remove: [\"a\\nb\"]\n", 4, "newline"),
    ("null value", HEAD + T + "      properties:\n        path: /x\n        set:\n          a:\n", 6, "a is null"),
    ("list value", HEAD + T + "      properties:\n        path: /x\n        set:\n          a: [1]\n", 6,
     "must be a string, whole number or boolean"),
    ("set and remove", HEAD + T + "      properties:\n        path: /x\n        set: {a: 1}\n        remove: a\n", 4,
     "a is both set and removed"),
    ("template src escapes", HEAD + T + "      template: {src: ../etc/passwd, dest: /x}\n", 4, "no '..'"),
    ("template src absolute", HEAD + T + "      template: {src: /etc/passwd, dest: /x}\n", 4, "no absolute path"),
    ("template src missing", HEAD + T + "      template: {src: nope.j2, dest: /x}\n", 4, "src 'nope.j2' not found"),
    ("service bad action", HEAD + T + "      service:\n        component: edge-router\n        action: reload\n", 6,
     "must be one of restart, start, stop"),
    ("service bad component", HEAD + T + "      service:\n        component: 'Edge Router'\n        action: stop\n", 5,
     "component name"),
    ("service missing action", HEAD + T + "      service: {component: edge-router}\n", 4,
     "missing required argument 'action'"),
    ("readiness unknown key", HEAD + T + "      service:\n        component: edge-router\n        action: stop\n"
     "        readiness:\n          prot: 8081\n", 8, "unknown argument 'prot'"),
    ("readiness bad port", HEAD + T + "      service:\n        component: edge-router\n        action: stop\n"
     "        readiness: {port: 99999}\n", 7, "between 1 and 65535"),
    ("readiness bad timeout", HEAD + T + "      service:\n        component: edge-router\n        action: stop\n"
     "        readiness:\n          timeout: 0\n", 8, "more than 0 seconds"),
    ("verify none", HEAD + T + "      verify: {}\n", 4, "exactly one of"),
    ("verify two", HEAD + T + "      verify:\n        nginx_test: true\n"
     "        file_contains: {path: /x, pattern: a}\n", 4, "got nginx_test, file_contains"),
    ("verify bad regex", HEAD + T + "      verify:\n        file_contains:\n          path: /x\n"
     "          pattern: '(['\n", 7, "not a valid regular expression"),
    ("verify missing key", HEAD + T + "      verify:\n        properties:\n          path: /x\n          value: v\n", 5,
     "missing required argument 'key'"),
    ("verify nginx false", HEAD + T + "      verify: {nginx_test: false}\n", 4, "false checks nothing"),
    ("verify notify", HEAD + T + "      verify: {nginx_test: true}\n      notify: h\n  handlers:\n"
     "    - name: h\n      service: {component: x, action: stop}\n", 5, "cannot notify"),
    ("notify unknown handler", HEAD + T + "      file: {path: /x, owner: a}\n      notify: restrat\n  handlers:\n"
     "    - name: restart\n      service: {component: x, action: stop}\n", 5, "did you mean 'restart'?"),
    ("notify without handlers", HEAD + T + "      file: {path: /x, owner: a}\n      notify: [a]\n", 5,
     "the play has no handlers"),
    ("notify list item line", HEAD + T + "      file: {path: /x, owner: a}\n      notify:\n        - h\n        - g\n"
     "  handlers:\n    - name: h\n      service: {component: x, action: stop}\n", 7, "notifies 'g'"),
    ("notify not a name", HEAD + T + "      file: {path: /x, owner: a}\n      notify: {a: 1}\n", 5, "handler name"),
    ("handler notifies", "- hosts: all\n  tasks:\n" + T + "      file: {path: /x, owner: a}\n  handlers:\n"
     "    - name: h\n      service: {component: x, action: stop}\n      notify: h\n", 8, "handlers cannot notify"),
    ("duplicate handler", "- hosts: all\n  tasks:\n" + T + "      file: {path: /x, owner: a}\n  handlers:\n"
     "    - name: h\n      service: {component: x, action: stop}\n    - name: h\n"
     "      service: {component: x, action: start}\n", 8, "duplicate handler name 'h' (first at line 6)"),
    ("when with braces", HEAD + T + "      when: '{{ a }}'\n      file: {path: /x, owner: a}\n", 4, "without {{ }}"),
    ("when bad syntax", HEAD + T + "      when: a ==\n      file: {path: /x, owner: a}\n", 4, "invalid expression"),
    ("when not a string", HEAD + T + "      when: {a: 1}\n      file: {path: /x, owner: a}\n", 4,
     "when must be an expression"),
    ("bad template in args", HEAD + T + "      file:\n        path: /x\n        owner: '{{ a | nosuchfilter }}'\n", 6,
     "invalid template"),
    ("bad whole-args template", HEAD + T + "      file: '{{ args | nosuch }}'\n", 4, "invalid template"),
    ("unclosed template", HEAD + T + "      file:\n        path: '{{ a'\n        owner: a\n", 5, "invalid template"),
    ("requires unknown", HEAD + T + "      requires: {exist: /x}\n      file: {path: /x, owner: a}\n", 4,
     "(did you mean 'exists'?)"),
    ("requires two kinds", HEAD + T + "      requires:\n        exists: /x\n        vars: a\n"
     "      file: {path: /x, owner: a}\n", 5, "exactly one of"),
    ("requires not mapping", HEAD + T + "      requires:\n        - /x\n      file: {path: /x, owner: a}\n", 5,
     "each condition is a mapping"),
    ("requires relative", HEAD + T + "      requires: {exists: [x]}\n      file: {path: /x, owner: a}\n", 4,
     "must be an absolute path"),
    ("requires empty note", HEAD + T + "      requires:\n        exists: /x\n        note: ''\n"
     "      file: {path: /x, owner: a}\n", 6, "note must be a non-empty string"),
    ("requires bad pattern", HEAD + T + "      requires:\n        file_lacks: {path: /x, pattern: '(('}\n"
     "      file: {path: /x, owner: a}\n", 5, "not a valid regular expression"),
    ("requires missing field", HEAD + T + "      requires:\n        tokens_pending: {customer: /a}\n"
     "      file: {path: /x, owner: a}\n", 5, "missing required argument 'generated'"),
    ("vault", "- hosts: all\n  vars:\n    p: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n", 3, "Vault"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_errors_name_file_and_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(PlaybookError) as err:
        parse_playbook(text, "bad.yml")
    assert err.value.path == "bad.yml"
    assert err.value.line == line, str(err.value)
    assert fragment in str(err.value)
    assert str(err.value).startswith(f"bad.yml:{line}: ")


def test_templated_values_are_checked_later_not_now() -> None:
    (play,) = parse("""
        - hosts: all
          tasks:
            - name: t
              properties:
                path: "{{ where }}"
                mode: "{{ the_mode }}"
                set: {"{{ key }}": "{{ value }}", plain: 1}
                create: "{{ create_it }}"
              notify: h
            - name: whole args from a variable
              properties: "{{ my_args }}"
          handlers:
            - name: h
              service:
                component: "{{ component }}"
                action: restart
                readiness: {port: "{{ port }}"}
    """)
    assert play.tasks[0].args["path"] == "{{ where }}"
    assert play.tasks[1].args == "{{ my_args }}"


def test_unsafe_strings_are_kept_unsafe() -> None:
    (play,) = parse("""
        - hosts: all
          vars:
            raw: !unsafe "{{ not a template"
          tasks:
            - name: t
              properties: {path: /x, set: {a: !unsafe "{{ literally }}"}}
    """)
    assert play.vars["raw"] == "{{ not a template"
    assert play.tasks[0].args["set"]["a"] == "{{ literally }}"
