"""Bus stops and the stops each bus makes.

Stops stand on the rightmost lane of every ``every``-th trunk, primary or secondary segment
of at least 150 m, 20 m long from 40 % of the segment. A bus trip stops at up to
``max_stops`` of them that lie within ``corridor_m`` of the straight line from its origin to
its destination, in the order met along that line and at least ``min_gap_m`` apart, for
15–30 s each; SUMO routes the trip through them. Metres and seconds; positions in the
network's metric CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from roadnet import model as m
from roadnet.model import RoadNetwork

STOP_CLASSES = ("trunk", "primary", "secondary")


@dataclass(frozen=True)
class BusStops:
    """Stop sites (aligned arrays): segment index, start offset (m), metric x/y."""

    segment: np.ndarray
    start_m: np.ndarray
    xy: np.ndarray

    def kept(self, segment_kept: np.ndarray) -> BusStops:
        """The stops on segments marked kept (a mask over the network's segments)."""
        keep = np.asarray(segment_kept, bool)[self.segment]
        return BusStops(self.segment[keep], self.start_m[keep], self.xy[keep])

    def stop_id(self, k: int, segment_ids: list[str]) -> str:
        """SUMO id of stop ``k``."""
        return f"bs-{segment_ids[int(self.segment[k])]}"


def place_bus_stops(network: RoadNetwork, *, every: int = 3) -> BusStops:
    """The stop sites of a network (see the module docstring)."""
    seg = network.segments
    length = seg[m.LENGTH].to_numpy(float)
    ok = np.flatnonzero(seg[m.ROAD_CLASS].isin(STOP_CLASSES).to_numpy() & (length >= 150.0))
    chosen = ok[:: max(every, 1)]
    start = length[chosen] * 0.4
    pts = [network.geom_m[i].interpolate(s) for i, s in zip(chosen, start, strict=True)]
    xy = np.array([(p.x, p.y) for p in pts], float).reshape(-1, 2)
    return BusStops(chosen.astype(np.int64), start, xy)


def stops_for_trip(
    stops: BusStops, origin_xy: np.ndarray, dest_xy: np.ndarray, rng: np.random.Generator, *,
    corridor_m: float = 300.0, min_gap_m: float = 400.0, max_stops: int = 4,
) -> list[tuple[int, float]]:  # fmt: skip
    """(stop index, dwell s) of the stops one bus makes, in order (see the module docstring)."""
    if len(stops.segment) == 0:
        return []
    d = dest_xy - origin_xy
    span = float(np.hypot(*d))
    if span < 1.0:
        return []
    rel = stops.xy - origin_xy
    t = rel @ d / span**2
    off = np.abs(rel[:, 0] * d[1] - rel[:, 1] * d[0]) / span
    near = np.flatnonzero((t > 0.05) & (t < 0.95) & (off <= corridor_m))
    out: list[tuple[int, float]] = []
    last = -np.inf
    for k in near[np.argsort(t[near])].tolist():
        if t[k] * span - last >= min_gap_m and len(out) < max_stops:
            out.append((k, float(rng.uniform(15.0, 30.0))))
            last = t[k] * span
    return out
