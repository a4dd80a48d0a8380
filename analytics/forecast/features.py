"""What a forecast is made from, and the feature matrix the learned model reads.

:class:`ForecastInputs` holds, at one issue time, every segment's recent published speeds (a
window of minutes ending at the issue minute), its free-flow speed, its time-of-day profile
at the issue time and at each target time, and the active incidents. Speeds are km/h;
everything the model reads is a share of free flow (``ratio``), so that one model serves
roads of every class. Arrays are aligned with the network's segment order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HORIZONS_MIN = (15, 30, 60)
WINDOW_MIN = 30  # minutes of recent states a forecast reads
NOW_MAX_AGE_MIN = 10  # a state older than this is not "now" (the state builder's stale_after)
FEATURES = (
    "r_now", "age_min", "r_5", "r_15", "trend", "n_recent", "p_now", "p_at", "p_change",
    "dev_now", "up_r", "up_dev", "down_r", "down_dev", "down2_r", "free_flow_kmh",
    "incident_here_min", "incident_down_m", "target_minute_of_day",
)  # fmt: skip


@dataclass
class ForecastInputs:
    """Everything known at one issue time (see the module docstring).

    ``recent``: (W, N) published speeds km/h of the W minutes ending at the issue minute
    (last row), NaN where none; ``profile_now``: (N,) profile speed at the issue time;
    ``profile_at``: {horizon min: (N,)} profile speed at each target time (NaN: no profile);
    ``incident_age_min``: (N,) minutes since an active blocking incident on the segment
    started (NaN: none); ``incident_down_m``: (N,) distance (m) along the road to the nearest
    active blocking incident downstream (NaN: none within reach)."""

    recent: np.ndarray
    free_flow: np.ndarray
    profile_now: np.ndarray
    profile_at: dict[int, np.ndarray]
    incident_age_min: np.ndarray
    incident_down_m: np.ndarray
    local_minute: float = float("nan")

    @property
    def n(self) -> int:
        return int(self.free_flow.shape[0])


def latest(recent: np.ndarray, max_age: int = NOW_MAX_AGE_MIN) -> tuple[np.ndarray, np.ndarray]:
    """Per segment the newest finite value of the last ``max_age + 1`` rows and its age in
    minutes (NaN, NaN where there is none)."""
    w = recent[-(max_age + 1):][::-1]  # newest first
    ok = np.isfinite(w)
    first = np.argmax(ok, axis=0)
    has = ok.any(axis=0)
    cols = np.arange(w.shape[1])
    value = np.where(has, w[first, cols], np.nan)
    return value, np.where(has, first.astype(float), np.nan)


def _nanmean(a: np.ndarray) -> np.ndarray:
    n = np.isfinite(a).sum(axis=0)
    s = np.nansum(a, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _neighbour(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``values`` of each segment's neighbour (``index``, −1: none → NaN)."""
    out = np.full(len(index), np.nan)
    ok = index >= 0
    out[ok] = values[index[ok]]
    return out


def feature_matrix(
    inp: ForecastInputs, horizon: int, down: np.ndarray, up: np.ndarray
) -> np.ndarray:
    """(N, len(FEATURES)) float32 features of every segment for ``horizon`` minutes ahead;
    ``down``/``up``: each segment's downstream/upstream continuation (−1: none)."""
    ff = np.maximum(inp.free_flow, 1.0)
    ratio = inp.recent / ff[None, :]
    r_now, age = latest(ratio)
    r_5 = _nanmean(ratio[-5:])
    r_15 = _nanmean(ratio[-15:])
    r_old = _nanmean(ratio[-20:-10])
    n_recent = np.isfinite(ratio[-15:]).sum(axis=0).astype(float)
    p_now = inp.profile_now / ff
    p_at = inp.profile_at[horizon] / ff
    dev = np.where(np.isfinite(r_5), r_5, r_15) - p_now
    r_near = np.where(np.isfinite(r_5), r_5, r_15)
    down2 = np.where(down >= 0, down[np.maximum(down, 0)], -1)
    cols = [
        r_now, age, r_5, r_15, r_5 - r_old, n_recent, p_now, p_at, p_at - p_now, dev,
        _neighbour(r_near, up), _neighbour(dev, up), _neighbour(r_near, down),
        _neighbour(dev, down), _neighbour(r_near, down2), inp.free_flow,
        inp.incident_age_min, inp.incident_down_m,
        np.full(inp.n, (inp.local_minute + horizon) % 1440.0),
    ]
    return np.column_stack(cols).astype(np.float32)
