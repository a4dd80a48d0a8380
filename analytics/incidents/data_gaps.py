"""How long each place has gone without data, so that no data is never taken as evidence.

The detection methods keep per-place state between decisions (persistence counters, the
California #8 incident state). A short gap in the data may hold that state: a loop misses
an interval, no probe left a slow segment this minute. A long gap must not: after
``max_gap`` intervals without data the state expires, and a place without data in the
current interval raises no alarm of its own.
"""

from __future__ import annotations

import numpy as np


class DataGaps:
    """Consecutive intervals without data, per place (station, pair or segment)."""

    def __init__(self, n: int, max_gap: int) -> None:
        self.max_gap = int(max_gap)
        self.gap = np.zeros(n, np.int64)

    def step(self, known: np.ndarray) -> np.ndarray:
        """Advance one interval with where data is ``known``; returns where the held state
        has expired (more than ``max_gap`` intervals in a row without data)."""
        self.gap = np.where(np.asarray(known, bool), 0, self.gap + 1)
        return self.gap > self.max_gap

    def restore(self, gap: np.ndarray | None) -> None:
        """Set the gaps from a checkpoint (``None``: an older checkpoint without them)."""
        if gap is not None and len(gap) == len(self.gap):
            self.gap = np.asarray(gap, np.int64)
