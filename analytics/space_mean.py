"""Edie's space-mean speed: the distance probes covered and the time they spent on a segment
within a minute.

Over a space-time cell (one segment, one minute) the space-mean speed is the total distance
travelled in the cell divided by the total time spent in it (Edie's generalised definition).
Unlike a completed traversal, it counts a vehicle standing in a queue (time without
distance) and one that entered and has not left yet, in the minute they are there. A
vehicle's trajectory between two decided fixes is taken as linear in route position (metres
along its matched route, non-decreasing) and cut where it crosses a segment's start and a
minute boundary; each piece falls in one cell. Times are seconds (epoch), minutes are
minute starts in seconds.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from itertools import pairwise

Cell = tuple[int, float, float, float]
"""What one vehicle did in one segment-minute between two of its fixes: (segment, minute
start s, distance m, time s); plain tuples, as they are made for every fix."""


def interval_cells(
    t0: float, p0: float, t1: float, p1: float, route: Sequence[int], starts: Sequence[float]
) -> list[Cell]:
    """The cells of a vehicle moving linearly from route position ``p0`` at ``t0`` to
    ``p1 ≥ p0`` at ``t1 > t0`` along ``route`` (segments starting at route positions
    ``starts``, ascending; positions before the first start belong to the first segment)."""
    if t1 <= t0:
        return []
    minute = math.floor(t0 / 60.0) * 60.0
    k = bisect_right(starts, p0)
    if t1 <= minute + 60.0 and (k >= len(starts) or starts[k] >= p1):  # one cell: most often
        return [(route[max(k - 1, 0)], minute, p1 - p0, t1 - t0)]
    # cut times: segment starts crossed, then minute boundaries
    cuts = [t0]
    if p1 > p0:
        k = bisect_right(starts, p0)
        while k < len(starts) and starts[k] < p1:
            cuts.append(t0 + (starts[k] - p0) / (p1 - p0) * (t1 - t0))
            k += 1
    m = math.floor(t0 / 60.0) * 60.0 + 60.0
    while m < t1:
        cuts.append(m)
        m += 60.0
    cuts.append(t1)
    cuts.sort()
    out: list[Cell] = []
    rate = (p1 - p0) / (t1 - t0)
    for a, b in pairwise(cuts):
        if b <= a:
            continue
        mid = (a + b) / 2.0
        seg = route[max(bisect_right(starts, p0 + (mid - t0) * rate) - 1, 0)]
        out.append((seg, math.floor(mid / 60.0) * 60.0, (b - a) * rate, b - a))
    return out
