"""Benchmarks, run by hand (`python -m bench.<name>`); results go in the README."""
