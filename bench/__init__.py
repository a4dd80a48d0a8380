"""Benchmarks, the soak, and the reliability harness shared with tests/reliability."""
