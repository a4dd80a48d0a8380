"""Probe speed drop: a segment far slower than its time-of-day profile, at the head of a queue.

Per decision minute each segment has the typical speed of the probe vehicles whose
traversals ended in the last few minutes (median over vehicles, see
:mod:`analytics.incidents.inputs`) and the number of distinct vehicles behind it. A segment
is *slow* when at least ``min_vehicles`` vehicles saw it and their typical speed is below
a share of its reference (the time-of-day profile, or free flow where no profile is known)
and below ``abs_ratio`` of free flow (really congested, not just slower than a fast
profile). The share depends on how many vehicles there are: the median of n vehicle speeds
scatters around the segment's speed by about 1.25·cv/√n (cv = ``vehicle_cv``, the spread of
single vehicles), so the threshold is ``1 − z·1.25·cv/√n``, at most ``max_drop_ratio``: two
vehicles must be below ~34 % of the reference, four below ~53 %, seven or more below 65 %.
One vehicle is never enough: it may have stopped to park or deliver; and the vehicles'
typical *moving* speed (standing time left out) must be below ``moving_ratio`` of the
reference too, since a queue slows vehicles even while they move, whereas vehicles that
stop to pick up or drop off move at normal speed in between. A segment slow for ``persistence``
decisions in a row (up to ``max_gap_minutes`` minutes without probe data hold the count; a
longer gap resets it), or slow with at least ``fast_vehicles`` vehicles behind it at once, and
with probe data this minute (no data is no evidence), is an alarm at the **head
of its queue**: the most downstream slow segment, whose downstream continuation is not
slow. The queue is the run of slow segments upstream of the head along the road. Speeds
km/h, lengths metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.incidents.corridor import Corridor
from analytics.incidents.data_gaps import DataGaps


@dataclass(frozen=True)
class ProbeDropParams:
    """Defaults: single-vehicle spread cv 0.25 (urban travel-time variability of 0.2–0.35
    between vehicles of one period is common) at z = 3 (one-sided, ~0.1 % per decision:
    with a thousand segments deciding every minute, anything looser floods operators);
    never above 65 % of the reference and 50 % of free flow (a lane blockage halves speeds
    in its queue); moving speed below 70 % of the reference (creeping in a queue, not just
    a stop); two distinct vehicles; 2 consecutive minutes, or at once when four or more
    vehicles agree (two stopping taxis cannot outvote them). The count survives up to 5
    minutes without probes on the segment (at 5 % probes a queued segment often has no
    traversal ending in a minute), not more: yesterday's slow minute is no evidence today."""

    vehicle_cv: float = 0.25
    z: float = 3.0
    max_drop_ratio: float = 0.65
    abs_ratio: float = 0.5
    moving_ratio: float = 0.7
    min_vehicles: int = 2
    persistence: int = 2
    fast_vehicles: int = 4
    head_fraction: float = 0.75  # where on the head segment the incident is placed
    max_queue_m: float = 5000.0
    max_gap_minutes: int = 5


@dataclass
class QueueHead:
    """One alarm: head segment, queue length upstream (m) and its speed ratio."""

    segment: int
    queue_m: float
    speed_ratio: float
    vehicles: int
    queue_segments: list[int]


class ProbeSpeedDrop:
    """Persistence counters per segment and the queue-head search along a corridor."""

    name = "probe_drop"

    def __init__(self, corridor: Corridor, params: ProbeDropParams | None = None) -> None:
        self.p = params or ProbeDropParams()
        self.corridor = corridor
        self.count = np.zeros(len(corridor.down), np.int64)
        self.gaps = DataGaps(len(corridor.down), self.p.max_gap_minutes)

    def slow(
        self, speed_kmh: np.ndarray, vehicles: np.ndarray, reference_kmh: np.ndarray,
        free_flow_kmh: np.ndarray, moving_kmh: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """(slow, has data, ratio to reference) per segment for this minute."""
        p = self.p
        v = np.asarray(speed_kmh, float)
        ref = np.where(np.isfinite(reference_kmh), reference_kmh, free_flow_kmh)
        known = np.isfinite(v) & (np.asarray(vehicles) > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = v / ref
            n = np.asarray(vehicles, float)
            thr = np.minimum(p.max_drop_ratio, 1.0 - p.z * 1.25 * p.vehicle_cv / np.sqrt(n))
            enough = n >= p.min_vehicles
            slow = known & enough & (ratio < thr) & (v < p.abs_ratio * free_flow_kmh)
            if moving_kmh is not None:
                mv = np.asarray(moving_kmh, float)
                slow &= ~(np.isfinite(mv) & (mv >= p.moving_ratio * ref))
        return slow, known, ratio

    def detect(
        self, speed_kmh: np.ndarray, vehicles: np.ndarray, reference_kmh: np.ndarray,
        free_flow_kmh: np.ndarray, *, moving_kmh: np.ndarray | None = None,
    ) -> list[QueueHead]:  # fmt: skip
        """Advance one minute; returns the queue heads alarmed now."""
        slow, known, ratio = self.slow(speed_kmh, vehicles, reference_kmh, free_flow_kmh,
                                       moving_kmh)  # fmt: skip
        expired = self.gaps.step(known)
        self.count = np.where(slow, self.count + 1, np.where(known | expired, 0, self.count))
        strong = slow & (np.asarray(vehicles) >= self.p.fast_vehicles)
        alarmed = ((self.count >= self.p.persistence) & slow) | strong
        queued = alarmed | slow
        c = self.corridor
        down = c.down
        heads = np.flatnonzero(alarmed & ~np.where(down >= 0, queued[np.maximum(down, 0)], False))
        out = []
        for h in heads.tolist():
            chain = [h]
            total = c.length_m[h] * self.p.head_fraction
            for s in c.walk_up(h, self.p.max_queue_m):
                if not queued[s]:
                    break
                chain.append(s)
                total += c.length_m[s]
            r = float(ratio[h]) if np.isfinite(ratio[h]) else float("nan")
            out.append(QueueHead(h, float(total), r, int(np.asarray(vehicles)[h]), chain))
        return out
