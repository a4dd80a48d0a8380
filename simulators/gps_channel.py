"""What happens between a vehicle and the feed: GPS error and delivery impairments.

Positions get Gaussian error per axis (``sigma_m``) and, with probability
``outlier_p``, an urban-canyon jump of ``outlier_sigma_m``. Delivery then drops
fixes (single losses and outage bursts), duplicates some, delays some a
little (so they arrive after the next fix: out of order) and some a lot
(late delivery). All randomness comes from the given generator.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GpsNoise:
    """GPS error and delivery impairment settings (metres, seconds, probabilities per fix)."""

    sigma_m: float = 8.0
    outlier_p: float = 0.01
    outlier_sigma_m: float = 80.0
    drop_p: float = 0.02
    outage_p: float = 0.002
    outage_s: tuple[float, float] = (30.0, 180.0)
    duplicate_p: float = 0.01
    out_of_order_p: float = 0.02
    late_p: float = 0.005
    late_s: tuple[float, float] = (60.0, 300.0)
    latency_s: tuple[float, float] = (0.2, 2.0)


def position_errors(rng: np.random.Generator, n: int, noise: GpsNoise) -> np.ndarray:
    """``(n, 2)`` position errors in metres (east, north)."""
    err = rng.normal(0.0, noise.sigma_m, (n, 2))
    outlier = rng.random(n) < noise.outlier_p
    if outlier.any():
        err[outlier] += rng.normal(0.0, noise.outlier_sigma_m, (int(outlier.sum()), 2))
    return err


class DeliveryQueue:
    """Orders messages by delivery time, applying drops, outages, duplicates and delays."""

    def __init__(self, rng: np.random.Generator, noise: GpsNoise, n_vehicles: int) -> None:
        self.rng = rng
        self.noise = noise
        self.outage_until = np.zeros(n_vehicles)
        self._heap: list[tuple[float, int, bytes, bytes]] = []
        self._seq = itertools.count()
        self.stats = {"generated": 0, "dropped": 0, "duplicated": 0, "delayed": 0, "late": 0}

    def offer(
        self,
        t: float,
        vehicles: np.ndarray,
        interval_s: np.ndarray,
        messages: list[tuple[bytes, bytes]],
    ) -> np.ndarray:
        """Queue the fixes generated at ``t``; returns the mask of those that will be delivered."""
        n = len(messages)
        self.stats["generated"] += n
        rng, nz = self.rng, self.noise
        start_outage = rng.random(n) < nz.outage_p
        if start_outage.any():
            idx = vehicles[start_outage]
            self.outage_until[idx] = t + rng.uniform(*nz.outage_s, len(idx))
        keep = (self.outage_until[vehicles] <= t) & (rng.random(n) >= nz.drop_p)
        delay = rng.uniform(*nz.latency_s, n)
        ooo = rng.random(n) < nz.out_of_order_p
        delay = np.where(ooo, delay + 1.5 * interval_s, delay)
        late = rng.random(n) < nz.late_p
        delay = np.where(late, rng.uniform(*nz.late_s, n), delay)
        dup = rng.random(n) < nz.duplicate_p
        for i in np.flatnonzero(keep):
            key, value = messages[i]
            heapq.heappush(self._heap, (t + delay[i], next(self._seq), key, value))
            if dup[i]:
                heapq.heappush(self._heap, (t + delay[i] + 0.5, next(self._seq), key, value))
        self.stats["dropped"] += int(n - keep.sum())
        self.stats["duplicated"] += int((dup & keep).sum())
        self.stats["delayed"] += int((ooo & keep).sum())
        self.stats["late"] += int((late & keep).sum())
        return keep

    def due(self, t: float) -> list[tuple[float, bytes, bytes]]:
        """Messages whose delivery time is ≤ ``t``, in delivery order."""
        out = []
        while self._heap and self._heap[0][0] <= t:
            at, _, key, value = heapq.heappop(self._heap)
            out.append((at, key, value))
        return out

    def drain(self) -> list[tuple[float, bytes, bytes]]:
        """Everything still queued, in delivery order."""
        return self.due(float("inf"))
