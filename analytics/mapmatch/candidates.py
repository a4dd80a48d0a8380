"""Candidate road positions for GPS fixes, found in bulk with the STRtree.

All work is in the network's metric CRS. Offsets are scaled to geodesic
metres along the segment so they agree with ``length_m``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely

from roadnet import model as m
from roadnet.model import RoadNetwork


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
    """Segments within ``radius_m`` of each metric point, at most ``max_per_fix`` nearest.

    The STRtree gives the segments whose envelope comes within ``radius_m`` of a point; the
    exact distance and the projection are then computed with numpy over the segments' edges
    (every (fix, segment, edge) triple at once): the nearest point of a segment is the nearest
    of its edges' nearest points, the first edge winning ties, as GEOS's projection does.
    Candidates of a fix are ordered by distance (to the micrometre), then segment index.
    Metric CRS; distances and offsets in metres, bearings in degrees clockwise from north.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    lines = _lines(network)
    boxes = shapely.box(x - radius_m, y - radius_m, x + radius_m, y + radius_m)
    fix, seg = network.tree.query(boxes)
    # one row per (pair, edge); edge e runs from vertex e to vertex e + 1
    n_edges = lines.last[seg] - lines.first[seg]
    pair = np.repeat(np.arange(len(seg)), n_edges)
    pair_start = np.cumsum(n_edges) - n_edges
    e = np.arange(len(pair)) - pair_start[pair] + lines.first[seg][pair]
    ax, ay = lines.xy[e, 0], lines.xy[e, 1]
    dx, dy = lines.xy[e + 1, 0] - ax, lines.xy[e + 1, 1] - ay
    px, py = x[fix][pair], y[fix][pair]
    len2 = dx * dx + dy * dy
    u = np.clip(((px - ax) * dx + (py - ay) * dy) / np.maximum(len2, 1e-18), 0.0, 1.0)
    qx, qy = ax + u * dx, ay + u * dy
    d = np.hypot(px - qx, py - qy)
    if len(pair):
        dist = np.minimum.reduceat(d, pair_start)
        at_min = np.flatnonzero(d == dist[pair])
        best = at_min[np.r_[True, pair[at_min[1:]] != pair[at_min[:-1]]]]  # first per pair
    else:
        dist, best = np.zeros(0), np.zeros(0, np.int64)
    # the pairs kept, nearest first; equal distances (twin segments of a two-way road) by
    # segment index
    k = np.flatnonzero(dist <= radius_m)
    k = k[np.lexsort((seg[k], np.round(dist[k], 6), fix[k]))]
    if max_per_fix and len(k):
        f = fix[k]
        k = k[(np.arange(len(k)) - np.searchsorted(f, f)) < max_per_fix]
    fix, seg, dist, b = fix[k], seg[k], dist[k], best[k]
    edge_len = np.sqrt(len2[b])
    metric_len = lines.length[seg]
    along = np.minimum(lines.cum[e[b]] - lines.cum[lines.first[seg]] + u[b] * edge_len,
                       metric_len)  # fmt: skip
    # bearing of the road over ±2 m around the projection: the edge's own direction unless
    # that span reaches past one of the edge's ends
    inner = (u[b] * edge_len >= 2.0) & ((1.0 - u[b]) * edge_len >= 2.0)
    bx, by = dx[b], dy[b]
    if not inner.all():
        o = ~inner
        ends = lines.interpolate(seg[o], np.minimum(along[o] + 2.0, metric_len[o]))
        ends -= lines.interpolate(seg[o], np.maximum(along[o] - 2.0, 0.0))
        bx, by = bx.copy(), by.copy()
        bx[o], by[o] = ends[:, 0], ends[:, 1]
    bearing = np.mod(np.degrees(np.arctan2(bx, by)), 360.0)
    length = network.segments[m.LENGTH].to_numpy(float)[seg]
    scale = np.where(metric_len > 0, length / np.maximum(metric_len, 1e-9), 1.0)
    return Candidates(
        fix=fix.astype(np.int64),
        segment=seg.astype(np.int64),
        offset_m=along * scale,
        distance_m=dist,
        x=qx[b],
        y=qy[b],
        bearing_deg=bearing,
    )
