"""Where the journal lives, and creating it private: directories 0700, the database 0600.

Backups hold whatever the changed files held (keystores passwords in a properties file, private keys…),
so the journal must be readable by its owner only. SQLite creates the -wal and -shm files with the
permissions of the database file, so they are 0600 too.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from fixer.journal.model import JournalError

ENV_VAR = "FIXER_JOURNAL"
FILE_NAME = "journal.sqlite3"
DIR_MODE = 0o700
FILE_MODE = 0o600


def default_journal_path(env: Mapping[str, str] | None = None) -> Path:
    """`$FIXER_JOURNAL`, else `$XDG_STATE_HOME/fixer/journal.sqlite3`, else `~/.local/state/fixer/…`.

    `--journal PATH` (the CLI) wins over all of these. As the XDG spec says, a relative XDG_STATE_HOME is
    ignored. `env` defaults to os.environ.
    """
    env = os.environ if env is None else env
    explicit = env.get(ENV_VAR, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    state_home = env.get("XDG_STATE_HOME", "").strip()
    if state_home and Path(state_home).is_absolute():
        return Path(state_home) / "fixer" / FILE_NAME
    home = env.get("HOME", "").strip()
    base = Path(home) if home else Path.home()
    return base / ".local" / "state" / "fixer" / FILE_NAME


def _make_dirs(directory: Path) -> None:
    """Create the missing directories of `directory` with mode 0700 (existing ones are left as they are)."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):  # created meanwhile by another fixer
            d.mkdir(mode=DIR_MODE)
        os.chmod(d, DIR_MODE)  # mkdir's mode is filtered by the umask


def prepare_journal_file(path: Path) -> Path:
    """Make sure `path` exists as a regular file of mode 0600 (tightened if it was looser); return it absolute."""
    path = path.expanduser().absolute()
    try:
        _make_dirs(path.parent)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise JournalError(f"journal {path}: not a regular file")
            if stat.S_IMODE(info.st_mode) & 0o077:
                os.fchmod(fd, FILE_MODE)
        finally:
            os.close(fd)
    except OSError as exc:
        raise JournalError(f"journal {path}: {exc.strerror or exc}") from exc
    return path
