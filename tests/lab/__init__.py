"""A lab of real OpenSSH/nginx nodes in network namespaces, for fixer's tests, benchmarks and demo.

Usage: ``Lab.up()`` / ``lab.down()`` in Python, or ``python -m tests.lab up|down|status``.
"""

from tests.lab.lab import Lab
from tests.lab.netns import enter_netns
from tests.lab.state import LabError

__all__ = ["Lab", "LabError", "enter_netns"]
