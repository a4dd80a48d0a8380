"""Waiting for a condition while services may be away."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
from kafka.errors import KafkaError


def poll_until(
    condition: Callable[[], bool], *, timeout_s: float, interval_s: float = 1.0,
    what: str = "condition",
) -> float:  # fmt: skip
    """Call ``condition`` until true; returns the seconds it took (AssertionError on timeout).

    Errors raised by ``condition`` (a service still coming back) count as "not yet".
    """
    t0 = time.monotonic()
    while True:
        try:
            if condition():
                return time.monotonic() - t0
        except (psycopg.OperationalError, OSError, KafkaError):
            pass
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError(f"{what} not reached in {timeout_s:.0f} s")
        time.sleep(interval_s)
