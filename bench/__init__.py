"""Benchmarks of fixer against the tools it replaces (run from the repository root, as root)."""
