"""Reliability harness: faults injected into the live stack, compared with a reference run."""
