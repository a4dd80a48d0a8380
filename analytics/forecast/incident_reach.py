"""Where active blocking incidents reach: the features the forecast reads of them.

A blockage holds its queue and grows it upstream along its road until it is cleared, so each
segment is told how long an incident on it has been active and how far downstream (m, along
the road) the nearest active incident is, up to :data:`REACH_M`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from analytics.incidents.corridor import Corridor

REACH_M = 3000.0  # how far upstream of an incident segments are told of it


def incident_features(
    corridor: Corridor, active: Iterable[tuple[int, float]], n: int, *, reach_m: float = REACH_M
) -> tuple[np.ndarray, np.ndarray]:
    """(minutes since the incident on each segment started, distance m to the nearest active
    incident downstream) for ``active`` incidents given as (segment index, minutes active);
    NaN where none."""
    age = np.full(n, np.nan)
    down = np.full(n, np.nan)
    for seg, minutes in active:
        if not 0 <= seg < n:
            continue
        age[seg] = max(float(minutes), age[seg]) if np.isfinite(age[seg]) else float(minutes)
        dist = 0.5 * float(corridor.length_m[seg])
        for j in corridor.walk_up(seg, reach_m):
            if not np.isfinite(down[j]) or dist < down[j]:
                down[j] = dist
            dist += float(corridor.length_m[j])
    return age, down
