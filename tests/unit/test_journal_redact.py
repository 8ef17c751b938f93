"""Secrets never reach the journal: argv and summaries are masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixer.journal import Journal, redact_argv
from fixer.journal.redact import REDACTED, is_secret_name, redact_data, redact_extra_vars

M = REDACTED


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["apply", "p.yml", "-e", "db_password=hunter2"], ["apply", "p.yml", "-e", f"db_password={M}"]),
        (["-e", "conf_system_jsse.enableSNIExtension=true"], ["-e", "conf_system_jsse.enableSNIExtension=true"]),
        (["--extra-vars", "api_key=abc"], ["--extra-vars", f"api_key={M}"]),
        (["--extra-vars=secret=abc"], [f"--extra-vars=secret={M}"]),
        (["-eBECOME_PASS=x"], [f"-eBECOME_PASS={M}"]),
        (["-e", "a=1 ssh_pass='p w' b=2"], ["-e", f"a=1 ssh_pass={M} b=2"]),
        (["-e", "msg=hello world"], ["-e", "msg=hello world"]),
        (["-e", "vault_token=t"], ["-e", f"vault_token={M}"]),
        (["-e", "tls_tokens=TLSv1.2,TLSv1.3"], ["-e", "tls_tokens=TLSv1.2,TLSv1.3"]),  # override tokens are fine
        (["-e", "@vars/secret.yml"], ["-e", "@vars/secret.yml"]),
        (["-e", '{"password": "x", "n": 1, "nested": {"private_key": "k"}}'],
         ["-e", f'{{"n":1,"nested":{{"private_key":"{M}"}},"password":"{M}"}}']),
        (["-e", '{"password": broken'], ["-e", M]),
        (["--become-password", "hunter2", "-l", "mp*"], ["--become-password", M, "-l", "mp*"]),
        (["--become-password=hunter2"], [f"--become-password={M}"]),
        (["--ask-become-pass", "p.yml"], ["--ask-become-pass", "p.yml"]),  # a flag: the next token is kept
        (["-e"], ["-e"]),
        (["-i", "inv.yml", "--serial", "5"], ["-i", "inv.yml", "--serial", "5"]),
    ],
)
def test_redact_argv(argv: list[str], expected: list[str]) -> None:
    assert redact_argv(argv) == expected


def test_secret_names() -> None:
    for name in ("password", "DB_PASSWD", "keystore.pass", "client_secret", "token", "auth_header", "apiKey",
                 "private_key_file", "ansible_become_pass", "pwd"):
        assert is_secret_name(name), name
    for name in ("conf_system_jsse.enableSNIExtension", "https.protocols", "tokens", "serial", "host", "crypto.policy"):
        assert not is_secret_name(name), name


def test_redact_extra_vars_keeps_leading_text() -> None:
    assert redact_extra_vars(" x password=1") == f" x password={M}"
    assert redact_extra_vars("no assignment") == "no assignment"


def test_redact_data() -> None:
    assert redact_data({"a": [{"token": 1}], "b": ("pwd",), "credentials": {"x": 1}}) == {
        "a": [{"token": M}], "b": ["pwd"], "credentials": M}


def test_the_journal_stores_no_secret(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as j:
        run_id = j.start_run("apply", "p.yml", "inv.yml", None,
                             ["fixer", "apply", "p.yml", "-e", "keystore_password=hunter2", "--become-password",
                              "s3cr3t"])
        j.finish_run(run_id, "ok", {"vars": {"keystore_password": "hunter2"}})
        run = j.run(run_id)
        assert run.argv == ("fixer", "apply", "p.yml", "-e", f"keystore_password={M}", "--become-password", M)
        assert run.summary == {"vars": {"keystore_password": M}}
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"hunter2" not in raw and b"s3cr3t" not in raw
