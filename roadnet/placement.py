"""Placing field equipment given by lon/lat (and a direction of travel) on directed segments.

A two-way road is two directed segments drawn on one centre line: a point beside it is
equally close to both, and only the direction of travel the equipment measures tells them
apart. Bearings are degrees clockwise from north in the network's metric CRS (close to true
north for a city-sized projection); offsets are metres from the segment's start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from roadnet.model import RoadNetwork

#: Compass words accepted as a direction of travel (also with a ``B`` for "bound": ``NB``).
COMPASS_DEG = {"N": 0.0, "NE": 45.0, "E": 90.0, "SE": 135.0, "S": 180.0, "SW": 225.0,
               "W": 270.0, "NW": 315.0, "NORTH": 0.0, "EAST": 90.0, "SOUTH": 180.0,
               "WEST": 270.0}  # fmt: skip


def direction_deg(text: str) -> float:
    """Bearing (degrees) of a compass direction of travel: ``N``, ``NE``, … ``NW``, ``NB``,
    ``SB``, ``northbound``, …; raises ``ValueError`` otherwise."""
    word = text.strip().upper()
    for suffix in ("BOUND", "B"):
        if word not in COMPASS_DEG and word.endswith(suffix):
            word = word[: -len(suffix)]
    if word not in COMPASS_DEG:
        raise ValueError(f"direction {text!r} is not one of N, NE, E, SE, S, SW, W, NW (or NB, …)")
    return COMPASS_DEG[word]


def angle_between(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """Absolute difference of bearings (degrees, 0–180)."""
    return np.abs((np.asarray(b, float) - np.asarray(a, float) + 180.0) % 360.0 - 180.0)


def bearing_at(geoms_m: np.ndarray, offset_m: np.ndarray, half_span_m: float = 5.0) -> np.ndarray:
    """Direction of travel (degrees) of metric lines at offsets along them, from the points
    ``half_span_m`` before and after."""
    lengths = shapely.length(geoms_m)
    lo = np.clip(np.asarray(offset_m, float) - half_span_m, 0.0, lengths)
    hi = np.clip(np.asarray(offset_m, float) + half_span_m, 0.0, lengths)
    a = shapely.get_coordinates(shapely.line_interpolate_point(geoms_m, lo))
    b = shapely.get_coordinates(shapely.line_interpolate_point(geoms_m, hi))
    return np.degrees(np.arctan2(b[:, 0] - a[:, 0], b[:, 1] - a[:, 1])) % 360.0


@dataclass(frozen=True)
class Placement:
    """Where each point was placed (aligned arrays): segment index (−1: nothing suitable
    within reach), offset (m), distance from the segment (m), and ``twin``: an equally close
    segment of the other direction when no bearing decided between them (−1: none)."""

    segment: np.ndarray
    offset_m: np.ndarray
    distance_m: np.ndarray
    twin: np.ndarray


def place_points(
    network: RoadNetwork, lon: np.ndarray, lat: np.ndarray, bearing_deg: np.ndarray, *,
    max_distance_m: float = 30.0, max_bearing_diff_deg: float = 45.0, tie_m: float = 1.0,
) -> Placement:  # fmt: skip
    """Place points (WGS 84) on the nearest segment within ``max_distance_m`` whose direction
    of travel there is within ``max_bearing_diff_deg`` of the point's bearing (NaN bearing:
    any direction). Without a bearing, a segment of the other direction within ``tie_m`` of
    the nearest distance is reported as its ``twin``; the point is placed on the lower index of
    the two (a guess, but a stable one: not whichever a rounding error puts nearer)."""
    x, y = network.projector.to_metric(np.asarray(lon, float), np.asarray(lat, float))
    pts = shapely.points(x, y)
    n = len(pts)
    seg, off = np.full(n, -1, np.int64), np.full(n, np.nan)
    dist, twin = np.full(n, np.inf), np.full(n, -1, np.int64)
    if n == 0:
        return Placement(seg, off, dist, twin)
    p_i, s_i = network.tree.query(pts, predicate="dwithin", distance=max_distance_m)
    geoms = network.geom_m[s_i]
    d = shapely.distance(geoms, pts[p_i])
    o = shapely.line_locate_point(geoms, pts[p_i])
    want = np.asarray(bearing_deg, float)[p_i]
    fits = ~np.isfinite(want) | (angle_between(bearing_at(geoms, o), want) <= max_bearing_diff_deg)
    p_i, s_i, d, o, want = p_i[fits], s_i[fits], d[fits], o[fits], want[fits]
    order = np.lexsort((s_i, d, p_i))  # per point: nearest first, then lowest index
    p_i, s_i, d, o, want = p_i[order], s_i[order], d[order], o[order], want[order]
    first = np.flatnonzero(np.r_[True, p_i[1:] != p_i[:-1]]) if len(p_i) else np.zeros(0, int)
    seg[p_i[first]], off[p_i[first]], dist[p_i[first]] = s_i[first], o[first], d[first]
    # a second candidate of the same point, equally close and the other direction: a twin
    second = first + 1
    ok = second < len(p_i)
    second, f = second[ok], first[ok]
    opposite = (network.reverse[s_i[f]] == s_i[second]) | (
        angle_between(bearing_at(network.geom_m[s_i[second]], o[second]),
                      bearing_at(network.geom_m[s_i[f]], o[f])) > 90.0)  # fmt: skip
    tied = (p_i[second] == p_i[f]) & (d[second] - d[f] <= tie_m) & opposite & ~np.isfinite(
        want[f])  # fmt: skip
    # of two tied twins the lower index is taken (not whichever is a rounding error nearer)
    swap = tied & (s_i[second] < s_i[f])
    seg[p_i[f[swap]]], off[p_i[f[swap]]] = s_i[second[swap]], o[second[swap]]
    dist[p_i[f[swap]]] = d[second[swap]]
    twin[p_i[f[tied]]] = np.where(swap, s_i[f], s_i[second])[tied]
    return Placement(seg, off, dist, twin)
