"""Where the journal lives by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixer.journal import default_journal_path


def test_fixer_journal_wins() -> None:
    env = {"FIXER_JOURNAL": "/srv/j.sqlite3", "XDG_STATE_HOME": "/x", "HOME": "/home/u"}
    assert default_journal_path(env) == Path("/srv/j.sqlite3")


def test_fixer_journal_expands_the_home() -> None:
    assert default_journal_path({"FIXER_JOURNAL": "~/j.sqlite3"}) == Path.home() / "j.sqlite3"


def test_xdg_state_home() -> None:
    env = {"XDG_STATE_HOME": "/var/state", "HOME": "/home/u", "FIXER_JOURNAL": ""}
    assert default_journal_path(env) == Path("/var/state/fixer/journal.sqlite3")


def test_relative_xdg_state_home_is_ignored() -> None:
    assert default_journal_path({"XDG_STATE_HOME": "rel", "HOME": "/home/u"}) == Path(
        "/home/u/.local/state/fixer/journal.sqlite3")


def test_home_fallback() -> None:
    assert default_journal_path({"HOME": "/home/u"}) == Path("/home/u/.local/state/fixer/journal.sqlite3")
    assert default_journal_path({}) == Path.home() / ".local/state/fixer/journal.sqlite3"


def test_process_environment_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FIXER_JOURNAL", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_journal_path() == tmp_path / "fixer" / "journal.sqlite3"
