"""Synthetic history days for the forecast tests: a chain of segments whose speeds follow a
shared morning dip, shifted in time and depth per day, so that what is seen now says
something about the next hour that the profile alone does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from analytics.forecast.history import HistoryDay
from analytics.incidents.corridor import Corridor

N_SEG = 40
FREE_FLOW = np.full(N_SEG, 50.0)
LENGTH = np.full(N_SEG, 400.0)


def chain_corridor(n: int = N_SEG) -> Corridor:
    """Segments 0 → 1 → … → n−1 along one road."""
    down = np.append(np.arange(1, n), -1)
    up = np.insert(np.arange(0, n - 1), 0, -1)
    return Corridor(down, up, LENGTH[:n].copy(), np.zeros(n))


def synthetic_day(k: int, *, minutes: int = 180, seed: int = 0) -> HistoryDay:
    """Day ``k``: a dip to a day-specific depth starting at a day-specific minute, plus noise
    and a few unpublished minutes (UTC 23:00 = 06:00 in Hanoi/Hai Phong time)."""
    rng = np.random.default_rng(seed * 100 + k)
    t = np.arange(minutes)[:, None]
    start = 40 + 25 * rng.random()
    depth = 0.2 + 0.5 * rng.random()
    seg_shift = np.linspace(0, 20, N_SEG)[None, :]  # the dip travels upstream
    x = (t - start - (N_SEG - 1 - np.arange(N_SEG))[None, :] * 0.5 - seg_shift * 0)
    dip = depth * np.clip(np.minimum(x / 20.0, (100 - x) / 30.0), 0, 1)
    speed = FREE_FLOW[None, :] * (1 - dip) + rng.normal(0, 1.0, (minutes, N_SEG))
    speed[rng.random(speed.shape) < 0.1] = np.nan
    first = datetime(2026, 11, 22, 23, 0, tzinfo=UTC) + timedelta(days=k)
    return HistoryDay(first, speed.astype(np.float32), [])
