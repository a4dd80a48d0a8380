"""The two built-in forecasts every model is measured against, computed beside it each cycle.

- **now persists**: the segment's newest published speed of the last
  :data:`~analytics.forecast.features.NOW_MAX_AGE_MIN` minutes; without one, what the state
  builder would show now (the profile of the issue time, else free flow).
- **historical average**: the time-of-day profile at the target time (harmonic mean of the
  same 15-minute slot on previous days of the same type); without one, "now persists".

Speeds km/h, arrays aligned with the network's segments.
"""

from __future__ import annotations

import numpy as np

from analytics.forecast.features import ForecastInputs, latest

PERSISTENCE = "persistence"
HISTORICAL_AVERAGE = "historical_average"
BASELINES = (PERSISTENCE, HISTORICAL_AVERAGE)


def persistence(inp: ForecastInputs) -> np.ndarray:
    """"Now persists" (km/h) for every segment, at any horizon."""
    now, _ = latest(inp.recent)
    fallback = np.where(np.isfinite(inp.profile_now), inp.profile_now, inp.free_flow)
    return np.where(np.isfinite(now), now, fallback)


def historical_average(inp: ForecastInputs, horizon: int) -> np.ndarray:
    """The profile at the target time ``horizon`` minutes ahead (km/h), "now persists" where
    the segment has no profile."""
    at = inp.profile_at[horizon]
    return np.where(np.isfinite(at), at, persistence(inp))
