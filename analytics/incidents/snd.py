"""Standard normal deviate (SND) of station occupancy against its time-of-day profile.

Dudek et al. (1974) flagged an incident when occupancy deviates from what is expected by
more than a number of standard deviations in consecutive intervals. Here the expectation is
the station's time-of-day profile (mean and standard deviation of occupancy in the same
15-minute slot on previous days), so recurrent peaks are not alarms. A missing occupancy
holds the count for at most ``hold_intervals`` intervals and raises no alarm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.incidents.data_gaps import DataGaps


@dataclass(frozen=True)
class SndParams:
    """Defaults: z ≥ 3 in 2 consecutive intervals (Dudek used 1.5 against a short moving
    window; a profile built from a few weeks is noisier, so the bar is higher); standard
    deviations floored at 3 occupancy points so a quiet profile does not make every wiggle
    significant; occupancy below 10 % is never an incident queue."""

    z_threshold: float = 3.0
    consecutive: int = 2
    hold_intervals: int = 2
    min_std: float = 0.03
    min_occ: float = 0.10


class Snd:
    """Per-station consecutive-deviation counters."""

    name = "snd"

    def __init__(self, n_stations: int, params: SndParams | None = None) -> None:
        self.p = params or SndParams()
        self.count = np.zeros(n_stations, np.int64)
        self.gaps = DataGaps(n_stations, self.p.hold_intervals)

    def zscore(self, occ: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        """Deviation of occupancy (0–1) from the profile, in floored standard deviations."""
        return (np.asarray(occ, float) - mean) / np.maximum(np.nan_to_num(std), self.p.min_std)

    def detect(self, occ: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        """Advance one interval; NaN occupancy or profile = no decision (counter held for
        at most ``hold_intervals``, no alarm)."""
        z = self.zscore(occ, mean, std)
        known = np.isfinite(z)
        high = known & (z >= self.p.z_threshold) & (np.asarray(occ, float) >= self.p.min_occ)
        expired = self.gaps.step(known)
        self.count = np.where(high, self.count + 1, np.where(known | expired, 0, self.count))
        return (self.count >= self.p.consecutive) & high
