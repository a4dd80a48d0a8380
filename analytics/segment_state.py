"""Pure building blocks of the per-minute segment state: fusion, confidence, learned free flow
and time-of-day profiles. Speeds km/h; arrays are aligned with the network's segments.
"""

from __future__ import annotations

import numpy as np

#: Off-peak local hours used to learn free-flow speeds (night and late morning).
OFF_PEAK_HOURS = frozenset({0, 1, 2, 3, 4, 5, 22, 23})
_BIN_KMH = 2.0
_N_BINS = 80  # 0–160 km/h


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


class FreeFlowLearner:
    """Free-flow speed per segment: the 85th percentile of off-peak speeds once a segment has
    ``min_samples`` of them, the road-class default until then."""

    def __init__(self, defaults_kmh: np.ndarray, *, min_samples: int = 50, pct: float = 85.0):
        self.defaults = np.asarray(defaults_kmh, float)
        self.min_samples = min_samples
        self.pct = pct
        self.hist = np.zeros((len(self.defaults), _N_BINS), np.int32)

    def observe(self, segment: np.ndarray, speed_kmh: np.ndarray, local_hour: np.ndarray) -> None:
        """Add speed observations (only off-peak hours count)."""
        hour = np.floor(np.asarray(local_hour, float)).astype(int) % 24
        ok = np.isin(hour, list(OFF_PEAK_HOURS)) & np.isfinite(speed_kmh) & (speed_kmh > 0)
        bins = np.clip((np.asarray(speed_kmh)[ok] / _BIN_KMH).astype(int), 0, _N_BINS - 1)
        np.add.at(self.hist, (np.asarray(segment)[ok], bins), 1)

    def free_flow(self) -> np.ndarray:
        """Current free-flow estimate of every segment."""
        counts = self.hist.sum(axis=1)
        cum = np.cumsum(self.hist, axis=1)
        target = np.ceil(counts * self.pct / 100.0)[:, None]
        idx = (cum < target).sum(axis=1)
        learned = (idx + 0.5) * _BIN_KMH
        return np.where(counts >= self.min_samples, learned, self.defaults)


class TimeOfDayProfile:
    """Typical speed per segment and 15-minute slot of the week (exponentially weighted mean),
    used when a segment has no recent data."""

    SLOTS = 7 * 96

    def __init__(self, n_segments: int, *, alpha: float = 0.2) -> None:
        self.alpha = alpha
        self.speed = np.full((n_segments, self.SLOTS), np.nan)

    @staticmethod
    def slot(weekday: int, local_hour: float) -> int:
        """Slot index of a local weekday (0 = Monday) and hour."""
        return int(weekday * 96 + int(local_hour * 4) % 96)

    def observe(self, slot: int, segment: np.ndarray, speed_kmh: np.ndarray) -> None:
        """Blend this slot's observed speeds into the profile."""
        ok = np.isfinite(speed_kmh)
        seg = np.asarray(segment)[ok]
        old = self.speed[seg, slot]
        new = np.asarray(speed_kmh)[ok]
        self.speed[seg, slot] = np.where(
            np.isnan(old), new, (1 - self.alpha) * old + self.alpha * new
        )

    def expected(self, slot: int) -> np.ndarray:
        """Profile speed of every segment in ``slot`` (NaN where never observed)."""
        return self.speed[:, slot].copy()
