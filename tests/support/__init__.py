"""Helpers shared by tests and benchmarks (importable as `support` once tests/ is on sys.path)."""
