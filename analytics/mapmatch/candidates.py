"""Candidate road positions for GPS fixes, found in bulk with the STRtree.

All work is in the network's metric CRS. Offsets are scaled to geodesic
metres along the segment so they agree with ``length_m``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely

from analytics.network import model as m
from analytics.network.model import RoadNetwork


@dataclass
class Candidates:
    """Flat arrays, one entry per (fix, candidate); ``fix`` is sorted ascending."""

    fix: np.ndarray
    segment: np.ndarray
    offset_m: np.ndarray
    distance_m: np.ndarray
    x: np.ndarray
    y: np.ndarray
    bearing_deg: np.ndarray

    def __len__(self) -> int:
        return len(self.fix)


@dataclass
class _Lines:
    """The metric vertices of all segments in flat arrays, for vectorised interpolation."""

    xy: np.ndarray  # [n_vertices, 2]
    cum: np.ndarray  # distance of each vertex from the first vertex of the first segment
    first: np.ndarray  # index of each segment's first vertex
    last: np.ndarray  # and of its last
    length: np.ndarray  # metric length of each segment

    def interpolate(self, seg: np.ndarray, along: np.ndarray) -> np.ndarray:
        """Points (``[n, 2]``) at metric distances ``along`` (clamped) on segments ``seg``."""
        along = np.clip(along, 0.0, self.length[seg])
        g = self.cum[self.first[seg]] + along
        i = np.clip(np.searchsorted(self.cum, g, side="right") - 1, self.first[seg],
                    self.last[seg] - 1)  # fmt: skip
        span = np.maximum(self.cum[i + 1] - self.cum[i], 1e-12)
        frac = np.clip((g - self.cum[i]) / span, 0.0, 1.0)[:, None]
        return self.xy[i] + frac * (self.xy[i + 1] - self.xy[i])


@lru_cache(maxsize=8)
def _lines(network: RoadNetwork) -> _Lines:
    xy, part = shapely.get_coordinates(network.geom_m, return_index=True)
    step = np.hypot(*np.diff(xy, axis=0).T)
    step[part[1:] != part[:-1]] = 0.0  # no distance between one segment's end and the next
    cum = np.concatenate([[0.0], np.cumsum(step)])
    first = np.searchsorted(part, np.arange(len(network.geom_m)))
    last = np.searchsorted(part, np.arange(len(network.geom_m)), side="right") - 1
    return _Lines(xy, cum, first, last, cum[last] - cum[first])


def find_candidates(
    network: RoadNetwork, x: np.ndarray, y: np.ndarray, *, radius_m: float, max_per_fix: int = 8
) -> Candidates:
    """Segments within ``radius_m`` of each metric point, at most ``max_per_fix`` nearest."""
    pts = shapely.points(np.asarray(x, float), np.asarray(y, float))
    fix, seg = network.tree.query(pts, predicate="dwithin", distance=radius_m)
    geoms = network.geom_m[seg]
    dist = shapely.distance(geoms, pts[fix])
    order = np.lexsort((dist, fix))
    fix, seg, dist = fix[order], seg[order], dist[order]
    if max_per_fix and len(fix):
        first = np.searchsorted(fix, fix)  # index of each fix's first candidate
        keep = (np.arange(len(fix)) - first) < max_per_fix
        fix, seg, dist = fix[keep], seg[keep], dist[keep]
    geoms = network.geom_m[seg]
    along = shapely.line_locate_point(geoms, pts[fix])
    lines = _lines(network)
    metric_len = lines.length[seg]
    proj = lines.interpolate(seg, along)
    d = lines.interpolate(seg, np.minimum(along + 2.0, metric_len)) - lines.interpolate(
        seg, np.maximum(along - 2.0, 0.0)
    )
    bearing = np.mod(np.degrees(np.arctan2(d[:, 0], d[:, 1])), 360.0)
    length = network.segments[m.LENGTH].to_numpy(float)[seg]
    scale = np.where(metric_len > 0, length / np.maximum(metric_len, 1e-9), 1.0)
    return Candidates(
        fix=fix.astype(np.int64),
        segment=seg.astype(np.int64),
        offset_m=along * scale,
        distance_m=dist,
        x=proj[:, 0],
        y=proj[:, 1],
        bearing_deg=bearing,
    )
