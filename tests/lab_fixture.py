"""Session-scoped pytest fixture ``lab``: one scenario lab (tests/lab) shared by the whole test session.

Import it from a conftest (``from tests.lab_fixture import lab``). Several conftests may import it:
the lab is started once per process and ended when the last of them tears down, also after
failures (pytest runs fixture teardown then), with ``atexit`` as a last resort.
"""

from __future__ import annotations

import atexit
import os
import shutil
from collections.abc import Iterator

import pytest

from tests.lab import Lab


class _Shared:
    lab: Lab | None = None
    users = 0


def _down_at_exit() -> None:
    if _Shared.lab is not None:
        _Shared.lab.down()
        _Shared.lab = None


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    # CI must never silently skip the lab: only an explicit opt-out turns a missing prerequisite into a skip
    give_up = pytest.skip if os.environ.get("FIXER_LAB_OPTIONAL") == "1" else pytest.fail
    if os.geteuid() != 0:
        give_up("the lab needs root (network namespaces); set FIXER_LAB_OPTIONAL=1 to skip lab tests")
    tools = ("/usr/sbin/sshd", "/usr/sbin/nginx", "nsenter", "unshare", "ip", "setsid")
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        give_up(f"the lab needs {', '.join(missing)} (bash scripts/setup.sh installs them)")
    if _Shared.lab is None:
        _Shared.lab = Lab.up(tmp_path_factory.mktemp("lab"))
        atexit.register(_down_at_exit)
    _Shared.users += 1
    try:
        yield _Shared.lab
    finally:
        _Shared.users -= 1
        if _Shared.users == 0:
            _down_at_exit()
