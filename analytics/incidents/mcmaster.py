"""McMaster-style detection (Persaud & Hall, 1990): station states from the flow–occupancy
template, an incident where a congested station sits upstream of an uncongested one.

Each station is *congested* when its occupancy reaches the critical occupancy (the edge of
the uncongested branch of the flow–occupancy template) or its mean speed falls below a share
of free flow. A pair whose upstream station is congested while its downstream station is not,
for ``persistence`` consecutive intervals, is a bottleneck with a cause between the stations;
when congestion reaches the downstream station too, the pair is released (the congestion is
spreading from further downstream, not caused here). An unknown station state holds the
count for at most ``hold_intervals`` intervals and raises no alarm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.incidents.data_gaps import DataGaps


@dataclass(frozen=True)
class McMasterParams:
    """Defaults: critical occupancy 30 % — the literature's 20–25 % for car-only freeways,
    raised because a motorbike-heavy urban fleet occupies loops more at the same level of
    service — or speed below half of free flow; 3 consecutive one-minute intervals, as in the
    original. Per-station critical occupancies may be given (calibration)."""

    occ_crit: float = 0.30
    speed_ratio_crit: float = 0.5
    persistence: int = 3
    hold_intervals: int = 2


class McMaster:
    """Per-pair persistence counters, vectorised over pairs."""

    name = "mcmaster"

    def __init__(self, n_pairs: int, params: McMasterParams | None = None) -> None:
        self.p = params or McMasterParams()
        self.count = np.zeros(n_pairs, np.int64)
        self.gaps = DataGaps(n_pairs, self.p.hold_intervals)

    def congested(
        self, occ: np.ndarray, speed_kmh: np.ndarray, free_flow_kmh: np.ndarray,
        occ_crit: np.ndarray | float | None = None,
    ) -> np.ndarray:  # fmt: skip
        """Station state: 1 congested, 0 not, −1 unknown (no occupancy)."""
        crit = self.p.occ_crit if occ_crit is None else occ_crit
        occ = np.asarray(occ, float)
        speed = np.asarray(speed_kmh, float)
        with np.errstate(invalid="ignore"):
            slow = np.isfinite(speed) & (speed < self.p.speed_ratio_crit * free_flow_kmh)
            state = ((occ >= crit) | slow).astype(np.int8)
        return np.where(np.isfinite(occ), state, -1)

    def detect(self, state_up: np.ndarray, state_down: np.ndarray) -> np.ndarray:
        """Advance one interval with the pairs' station states; returns alarmed pairs (only
        pairs whose states are both known)."""
        bottleneck = (np.asarray(state_up) == 1) & (np.asarray(state_down) == 0)
        unknown = (np.asarray(state_up) < 0) | (np.asarray(state_down) < 0)
        expired = self.gaps.step(~unknown)
        self.count = np.where(bottleneck, self.count + 1,
                              np.where(unknown & ~expired, self.count, 0))  # fmt: skip
        return (self.count >= self.p.persistence) & bottleneck
