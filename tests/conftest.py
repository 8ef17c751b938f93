"""Shared fixtures: the lab of real SSH/nginx nodes (session-scoped, torn down even on failure)."""

from tests.lab_fixture import lab

__all__ = ["lab"]
