"""Congestion levels from speed ratios, with hysteresis so levels do not flap.

The ratio r = current speed / free-flow speed maps to five levels operators
know — 0 free (r ≥ 0.8), 1 light (≥ 0.6), 2 moderate (≥ 0.4), 3 heavy (≥ 0.2),
4 stopped — and to a 0–10 jam factor, 10 × (1 − r) clipped. A segment moves
to a worse level only when r is ``band`` below the boundary, and to a better
one only when r is ``band`` above it.
"""

from __future__ import annotations

import numpy as np

from roadnet.levels import BOUNDS, LEVEL_NAMES, LEVEL_NAMES_VI

__all__ = [
    "BOUNDS",
    "LEVEL_NAMES",
    "LEVEL_NAMES_VI",
    "CongestionEstimator",
    "jam_factor",
    "raw_level",
]


def raw_level(ratio: np.ndarray) -> np.ndarray:
    """Level of each speed ratio without hysteresis."""
    return (np.asarray(ratio, float)[..., None] < BOUNDS).sum(axis=-1)


def jam_factor(ratio: np.ndarray) -> np.ndarray:
    """0 (free flow) … 10 (standstill)."""
    return np.clip(10.0 * (1.0 - np.asarray(ratio, float)), 0.0, 10.0)


class CongestionEstimator:
    """Keeps the last level of ``n`` segments and updates them with hysteresis."""

    def __init__(self, n: int, *, band: float = 0.05) -> None:
        self.band = band
        self.level = np.zeros(n, np.int8)

    def update(self, ratio: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
        """New levels for speed ratios ``ratio``; segments where ``known`` is False keep theirs."""
        ratio = np.asarray(ratio, float)
        worse = raw_level(ratio + self.band)
        better = raw_level(ratio - self.band)
        new = np.where(worse > self.level, worse, np.where(better < self.level, better, self.level))
        if known is not None:
            new = np.where(known, new, self.level)
        self.level = new.astype(np.int8)
        return self.level.copy()
