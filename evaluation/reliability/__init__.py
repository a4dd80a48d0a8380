"""Reliability evaluation: faults injected into the live stack, compared with a reference."""
