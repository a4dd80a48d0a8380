"""A minimal probe fleet: vehicles drive random routes at near free-flow speed.

The thin-slice simulator; the full simulator (time-of-day traffic, incidents,
fleets, ground truth) builds on the same network model. Positions are
advanced in metres in the network's metric CRS and emitted in WGS 84.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely

from analytics.network import model as m
from analytics.network.model import RoadNetwork


def successor_table(network: RoadNetwork) -> list[np.ndarray]:
    """For each segment, the segments that leave its end node (no U-turn unless a dead end)."""
    seg = network.segments
    frm = seg[m.FROM_NODE].to_numpy()
    to = seg[m.TO_NODE].to_numpy()
    order = np.argsort(frm, kind="stable")
    starts = np.searchsorted(frm[order], np.arange(network.n_nodes + 1))
    out = []
    for i in range(len(seg)):
        cand = order[starts[to[i]] : starts[to[i] + 1]]
        no_uturn = cand[to[cand] != frm[i]]
        out.append(no_uturn if len(no_uturn) else cand)
    return out


@dataclass
class FixBatch:
    """Fixes of one tick (arrays aligned): time epoch ms, position degrees, speed km/h."""

    ts_ms: int
    vehicle_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    speed_kmh: np.ndarray
    segment_index: np.ndarray


class RandomDriveFleet:
    """``n_vehicles`` vehicles on random walks; one fix each per ``interval_s`` seconds."""

    def __init__(
        self,
        network: RoadNetwork,
        *,
        n_vehicles: int,
        interval_s: float = 5.0,
        gps_sigma_m: float = 5.0,
        seed: int = 0,
        speed_factor: tuple[float, float] = (0.5, 1.0),
    ) -> None:
        self.network = network
        self.rng = np.random.default_rng(seed)
        self.interval_s = interval_s
        self.sigma = gps_sigma_m
        self.succ = successor_table(network)
        self.length = network.segments[m.LENGTH].to_numpy(float)
        # Metric lengths of the projected geometry (interpolation happens there).
        self.length_m = shapely.length(network.geom_m)
        free = network.segments[m.FREE_FLOW].to_numpy(float)
        self.seg = self.rng.integers(0, len(network), n_vehicles)
        self.offset = self.rng.uniform(0, 1, n_vehicles) * self.length_m[self.seg]
        self.factor = self.rng.uniform(*speed_factor, n_vehicles)
        self.free = free
        self.ids = np.array([f"sim-{i:05d}" for i in range(n_vehicles)], dtype=object)

    def run(self, start_ms: int, duration_s: float) -> Iterator[FixBatch]:
        """Yield one batch per tick from ``start_ms`` for ``duration_s`` seconds."""
        n_ticks = int(duration_s // self.interval_s)
        for k in range(n_ticks):
            yield self._tick(start_ms + int(k * self.interval_s * 1000))

    def _tick(self, ts_ms: int) -> FixBatch:
        speed = self.free[self.seg] * self.factor
        self.offset += speed / 3.6 * self.interval_s
        over = self.offset > self.length_m[self.seg]
        while over.any():
            idx = np.flatnonzero(over)
            self.offset[idx] -= self.length_m[self.seg[idx]]
            for i in idx:
                nxt = self.succ[self.seg[i]]
                self.seg[i] = nxt[self.rng.integers(len(nxt))] if len(nxt) else self.seg[i]
            over = self.offset > self.length_m[self.seg]
        pts = shapely.line_interpolate_point(self.network.geom_m[self.seg], self.offset)
        xy = shapely.get_coordinates(pts) + self.rng.normal(0.0, self.sigma, (len(self.seg), 2))
        lon, lat = self.network.projector.to_wgs84(xy[:, 0], xy[:, 1])
        return FixBatch(ts_ms, self.ids, lon, lat, np.round(speed, 1), self.seg.copy())
