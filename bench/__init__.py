"""Benchmarks: scripts that print figures (a package so tests can import their pure parts)."""
