"""Candidate search: the numpy projection agrees with GEOS's distance and projection."""

from __future__ import annotations

import numpy as np
import shapely

from analytics.mapmatch.candidates import find_candidates
from roadnet import load_network
from roadnet import model as m


def test_candidates_equal_geos_distance_and_projection() -> None:
    net = load_network()
    rng = np.random.default_rng(7)
    xy = shapely.get_coordinates(net.geom_m)
    base = xy[rng.integers(0, len(xy), 3000)]
    x, y = base[:, 0] + rng.normal(0, 40, len(base)), base[:, 1] + rng.normal(0, 40, len(base))
    radius, k = 60.0, 4
    c = find_candidates(net, x, y, radius_m=radius, max_per_fix=k)

    pts = shapely.points(x, y)
    fix, seg = net.tree.query(pts, predicate="dwithin", distance=radius)
    dist = shapely.distance(net.geom_m[seg], pts[fix])
    # every segment within the radius is a candidate, unless k nearer ones were kept
    kept = set(zip(c.fix.tolist(), c.segment.tolist(), strict=True))
    per_fix = np.bincount(c.fix, minlength=len(x))
    kth = np.full(len(x), np.inf)
    for f in np.flatnonzero(per_fix == k):
        kth[f] = c.distance_m[c.fix == f].max()
    for f, s, d in zip(fix.tolist(), seg.tolist(), dist.tolist(), strict=True):
        assert (f, s) in kept or d >= kth[f] - 1e-6
    assert per_fix.max() <= k and np.all(np.diff(c.fix) >= 0)
    assert np.all(c.distance_m <= radius)
    # nearest first within a fix
    same = c.fix[1:] == c.fix[:-1]
    assert np.all(c.distance_m[1:][same] >= c.distance_m[:-1][same] - 1e-6)

    geoms = net.geom_m[c.segment]
    p = pts[c.fix]
    np.testing.assert_allclose(c.distance_m, shapely.distance(geoms, p), atol=1e-6)
    metric_len = shapely.length(geoms)
    scale = net.segments[m.LENGTH].to_numpy(float)[c.segment] / metric_len
    np.testing.assert_allclose(c.offset_m, shapely.line_locate_point(geoms, p) * scale, atol=1e-6)
    proj = shapely.get_coordinates(shapely.line_interpolate_point(geoms, c.offset_m / scale))
    np.testing.assert_allclose(np.c_[c.x, c.y], proj, atol=1e-6)
    assert np.all((c.bearing_deg >= 0) & (c.bearing_deg < 360))
    # bearing: direction of the road between the points 2 m before and after the projection
    along = c.offset_m / scale
    a = shapely.get_coordinates(shapely.line_interpolate_point(geoms, np.maximum(along - 2, 0)))
    b = shapely.get_coordinates(
        shapely.line_interpolate_point(geoms, np.minimum(along + 2, metric_len))
    )
    expected = np.degrees(np.arctan2(b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]))
    np.testing.assert_allclose((c.bearing_deg - expected + 180) % 360 - 180, 0, atol=1e-6)


def test_no_candidates_far_from_the_network() -> None:
    net = load_network()
    x0, y0 = shapely.total_bounds(net.geom_m)[:2]
    c = find_candidates(net, np.array([x0 - 5000.0]), np.array([y0 - 5000.0]), radius_m=60.0)
    assert len(c) == 0 and c.offset_m.shape == (0,) and c.x.shape == (0,)
    c = find_candidates(net, np.zeros(0), np.zeros(0), radius_m=60.0)
    assert len(c) == 0
