"""Slowdowns that recur: the same place was about as slow at this time on previous days.

A time-of-day profile holds the mean of the previous days. A queue that builds on some days
and not on others (an approach that overflows its green on busy mornings, a junction that
locks up now and then) leaves a profile between the two, and every bad morning looks unusual
against it. Such a queue is no incident, but an operator may want to see it: the alarm stays,
with ``evidence["history"]`` saying on how many of the previous days the place was as slow
and how slow the slowest was; the tracker keeps a recurrent incident for review rather than
announcing it (:attr:`analytics.incidents.lifecycle.TrackerParams.recurrent_share`) until it
gets slower than on any previous day.

Per previous day (same day type, as the profile takes them) the day's speed at the segment
is its slowest 5-minute speed from 15 minutes before this time's 15-minute slot to 15 minutes
after it (queues start a little earlier or later from day to day). The place "was as slow"
on a day when now's speed is at least ``margin`` of that day's. Speeds km/h.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics.incidents.candidate import Candidate


@dataclass(frozen=True)
class RecurrenceParams:
    """Defaults: now's speed at least 0.6 of a previous day's (a minute of a few probes
    against a day's 15-minute mean of all traffic, so a wide margin), on at least a quarter of
    the previous days with data and never fewer than one, out of at least 2 such days."""

    margin: float = 0.6
    min_share: float = 0.25
    min_days: int = 2


def slow_days(day_speeds: np.ndarray, segment: int, speed_kmh: float, margin: float
              ) -> tuple[int, int, float]:  # fmt: skip
    """Of the previous days with data at ``segment`` (rows of ``day_speeds``, (D, N) km/h, NaN:
    none), how many were as slow as ``speed_kmh`` now (now ≥ ``margin`` × that day's speed),
    how many had data, and the slowest day's speed (NaN: none)."""
    col = day_speeds[:, segment]
    col = col[np.isfinite(col)]
    if len(col) == 0 or not math.isfinite(speed_kmh):
        return 0, len(col), float("nan")
    return int((speed_kmh >= margin * col).sum()), len(col), float(col.min())


def mark_recurrent(
    candidates: Iterable[Candidate], day_speeds: np.ndarray | None, speed_now: np.ndarray,
    reference_kmh: np.ndarray, params: RecurrenceParams,
) -> None:  # fmt: skip
    """Add ``evidence["history"]`` to the candidates at places with at least
    ``params.min_days`` previous days of data: on how many of them it was as slow
    (``slow_days``), the slowest day's speed, now's speed and whether the slowdown
    ``recurs`` (module docstring). A candidate's speed now is its ``speed_ratio`` ×
    ``reference_kmh`` at its segment, else ``speed_now`` there (the recent probe speed)."""
    if day_speeds is None or len(day_speeds) == 0:
        return
    for c in candidates:
        r = c.speed_ratio
        v = (float(r) * float(reference_kmh[c.segment]) if r is not None and math.isfinite(r)
             else float(speed_now[c.segment]))  # fmt: skip
        k, n, slowest = slow_days(day_speeds, c.segment, v, params.margin)
        if n >= params.min_days and math.isfinite(v):
            c.evidence["history"] = {
                "slow_days": k, "of": n, "slowest_kmh": round(slowest, 1),
                "now_kmh": round(v, 1),
                "recurs": k >= max(1, math.ceil(params.min_share * n)),
            }  # fmt: skip


def recurrence_now(evidence: dict[str, Any]) -> bool | None:
    """What a minute's evidence says of recurrence: True (recurs), False (slower than on
    every previous day) or None (neither, or no history)."""
    h = evidence.get("history")
    if not h:
        return None
    if h.get("recurs"):
        return True
    return False if h.get("slow_days") == 0 else None


def recurrence_reason(evidence: dict[str, Any]) -> str | None:
    """Why an incident is kept for review as a recurring slowdown, for operators (None: its
    evidence does not say it recurs)."""
    h = evidence.get("history")
    if not h or not h.get("recurs"):
        return None
    return (f"slow here at this time on {h['slow_days']} of {h['of']} previous days"
            f" (slowest {h['slowest_kmh']:g} km/h, now {h['now_kmh']:g} km/h)")
