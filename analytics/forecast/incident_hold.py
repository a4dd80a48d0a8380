"""Blockages hold their queues: the forecast of the segments queued behind an active
blocking incident does not recover before the incident is cleared.

The model learns from few incidents; this rule states what traffic flow theory says of all of
them. For every active incident the queue is the incident's segment and the segments
upstream along the road, contiguous from it, whose recent speed is below ``queue_ratio`` of
free flow (up to :data:`~analytics.forecast.incident_reach.REACH_M`). While the incident is
active its queue's forecast is at most the current speed; with ``growth_m_per_min`` > 0 the
queue also grows upstream at that rate, and the segments it reaches by the target time are
forecast at most at the queue's mean speed. The next cycle after the incident is cleared
forecasts without the rule. Speeds km/h, distances m.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.forecast.incident_reach import REACH_M
from analytics.incidents.corridor import Corridor


@dataclass(frozen=True)
class HoldParams:
    """Knobs of the rule (see the module docstring)."""

    queue_ratio: float = 0.6
    growth_m_per_min: float = 0.0


def hold_queues(
    speed: np.ndarray, now_kmh: np.ndarray, free_flow: np.ndarray, incident_age_min: np.ndarray,
    corridor: Corridor, horizon_min: int, p: HoldParams | None = None,
) -> np.ndarray:  # fmt: skip
    """``speed`` with the queues of the active incidents held (a new array)."""
    p = p or HoldParams()
    out = np.array(speed, float, copy=True)
    ratio = now_kmh / np.maximum(free_flow, 1.0)
    for seg in np.flatnonzero(np.isfinite(incident_age_min)).tolist():
        queue = [seg]
        upstream = corridor.walk_up(seg, REACH_M)
        k = 0
        while k < len(upstream) and ratio[upstream[k]] < p.queue_ratio:
            queue.append(upstream[k])
            k += 1
        q = np.array(queue)
        known = q[np.isfinite(now_kmh[q])]
        if not len(known):
            continue
        out[known] = np.minimum(out[known], now_kmh[known])
        grow = p.growth_m_per_min * horizon_min
        if grow > 0:
            qspeed = float(np.mean(now_kmh[known]))
            dist = 0.0
            for j in upstream[k:]:
                if dist >= grow:
                    break
                out[j] = min(out[j], qspeed)
                dist += float(corridor.length_m[j])
    return out
