"""Pure building blocks of the per-minute segment state: probe/detector fusion and confidence.
Speeds km/h; arrays are aligned with the network's segments.
"""

from __future__ import annotations

import numpy as np


def fuse_speeds(
    probe_kmh: np.ndarray, probe_vehicles: np.ndarray, detector_kmh: np.ndarray,
    *, detector_weight: float = 3.0,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Weighted harmonic mean of probe and detector speeds.

    A probe speed weighs as many distinct vehicles as contributed to it, a
    detector speed as ``detector_weight`` vehicles. Returns (speed, effective
    number of observations); speed is NaN where neither source has data.
    """
    wp = np.where(np.isfinite(probe_kmh) & (probe_kmh > 0), probe_vehicles, 0.0)
    wd = np.where(np.isfinite(detector_kmh) & (detector_kmh > 0), detector_weight, 0.0)
    inv = wp / np.where(wp > 0, probe_kmh, 1.0) + wd / np.where(wd > 0, detector_kmh, 1.0)
    n = wp + wd
    speed = np.where(n > 0, n / np.where(inv > 0, inv, 1.0), np.nan)
    return speed, n


def confidence(n_effective: np.ndarray, *, half: float = 3.0) -> np.ndarray:
    """0–1 confidence from the effective number of observations (1 − e^(−n/half))."""
    return 1.0 - np.exp(-np.asarray(n_effective, float) / half)
