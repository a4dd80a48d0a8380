"""Candidate road positions for GPS fixes, found in bulk with the STRtree.

All work is in the network's metric CRS. Offsets are scaled to geodesic
metres along the segment so they agree with ``length_m``.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    metric_len = shapely.length(geoms)
    proj = shapely.get_coordinates(shapely.line_interpolate_point(geoms, along))
    ahead = shapely.get_coordinates(
        shapely.line_interpolate_point(geoms, np.minimum(along + 2.0, metric_len))
    )
    behind = shapely.get_coordinates(
        shapely.line_interpolate_point(geoms, np.maximum(along - 2.0, 0.0))
    )
    d = ahead - behind
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
