"""Checks: pure functions from facts (and host vars) to findings."""
