"""Makes the shared session ``lab`` fixture available to the lab's own tests."""

from tests.lab_fixture import lab

__all__ = ["lab"]
