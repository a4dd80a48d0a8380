"""Noise-free GPS drives along network routes, for integration tests."""

from __future__ import annotations

import json

import numpy as np
import shapely

from roadnet import model as m
from roadnet.model import RoadNetwork


def route_from(network: RoadNetwork, start: int, n: int) -> list[int]:
    """``n`` consecutive segments from ``start`` (first successor that is not a U-turn)."""
    seg = network.segments
    frm, to = seg[m.FROM_NODE].to_numpy(), seg[m.TO_NODE].to_numpy()
    route = [start]
    while len(route) < n:
        cur = route[-1]
        nxt = [j for j in np.flatnonzero(frm == to[cur]) if to[j] != frm[cur] and j not in route]
        if not nxt:
            break
        route.append(int(nxt[0]))
    return route


def drive(
    network: RoadNetwork, route: list[int], vehicle: str, t0_ms: int, speed_kmh: float,
    interval_s: float, *, start_m: float = 5.0, vehicle_type: str = "car",
) -> list[tuple[bytes, bytes]]:  # fmt: skip
    """Fixes (key, JSON) of a vehicle driving ``route`` at a constant speed (geodesic)."""
    length = network.segments[m.LENGTH].to_numpy(float)[route]
    starts = np.concatenate([[0.0], np.cumsum(length)])
    dist = np.arange(start_m, starts[-1], speed_kmh / 3.6 * interval_s)
    k = np.searchsorted(starts, dist, side="right") - 1
    frac = (dist - starts[k]) / length[k]
    pts = shapely.line_interpolate_point(network.geom_m[np.array(route)[k]], frac, normalized=True)
    xy = shapely.get_coordinates(pts)
    lon, lat = network.projector.to_wgs84(xy[:, 0], xy[:, 1])
    out = []
    for i in range(len(dist)):
        fix = {"vehicle_id": vehicle, "ts": int(t0_ms + i * interval_s * 1000),
               "lon": float(lon[i]), "lat": float(lat[i]), "speed_kmh": speed_kmh,
               "vehicle_type": vehicle_type}  # fmt: skip
        out.append((vehicle.encode(), json.dumps(fix).encode()))
    return out
