"""A mixed probe fleet driving routes through the network under the true traffic state.

Vehicles move every second at the traffic speed at their position (times a
personal factor), follow fastest routes to destinations, and at arrival park
or pick a new trip by type: buses shuttle between terminals and dwell at stops
every few hundred metres, trucks run to and from the port, taxis and cars
park a while, motorbikes go straight on. Offsets are geodesic metres along a
segment; times are simulation seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from roadnet import model as m
from roadnet.model import RoadNetwork
from simulators.routing import RouteTable
from simulators.traffic.model import TrafficModel

VEHICLE_TYPES = ("motorbike", "car", "taxi", "bus", "truck")


@dataclass(frozen=True)
class FleetSpec:
    """One vehicle type of the fleet."""

    vehicle_type: str
    share: float
    interval_s: int = 10
    speed_factor: tuple[float, float] = (0.85, 1.15)
    max_speed_kmh: float = 120.0
    park_probability: float = 0.0
    park_s: tuple[float, float] = (60.0, 600.0)
    reports_speed: float = 0.9


DEFAULT_FLEET: tuple[FleetSpec, ...] = (
    FleetSpec("motorbike", 0.55, interval_s=10, speed_factor=(0.9, 1.2)),
    FleetSpec("car", 0.16, interval_s=10, park_probability=0.5),
    FleetSpec("taxi", 0.12, interval_s=15, park_probability=0.3, park_s=(60.0, 300.0)),
    FleetSpec("bus", 0.05, interval_s=10, speed_factor=(0.8, 0.9), max_speed_kmh=50.0),
    FleetSpec("truck", 0.12, interval_s=30, speed_factor=(0.8, 0.95), max_speed_kmh=60.0),
)
BUS_STOP_SPACING_M = 450.0
BUS_DWELL_S = (15.0, 40.0)


@dataclass
class Traversal:
    """A complete pass of a vehicle over a segment (truth)."""

    vehicle: int
    segment: int
    entry_s: float
    exit_s: float


@dataclass
class Fleet:
    """Vehicle states as aligned arrays; :meth:`step` moves everyone by one second."""

    network: RoadNetwork
    traffic: TrafficModel
    routes: RouteTable
    specs: tuple[FleetSpec, ...]
    rng: np.random.Generator
    n: int
    dest_weights: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n, rng = self.n, self.rng
        shares = np.array([s.share for s in self.specs], float)
        counts = np.floor(shares / shares.sum() * n).astype(int)
        counts[0] += n - counts.sum()
        self.type_idx = np.repeat(np.arange(len(self.specs)), counts)
        self.vehicle_type = np.array([self.specs[i].vehicle_type for i in self.type_idx], object)
        self.interval = np.array([self.specs[i].interval_s for i in self.type_idx], np.int64)
        self.phase = rng.integers(0, np.maximum(self.interval, 1))
        lo = np.array([self.specs[i].speed_factor[0] for i in self.type_idx])
        hi = np.array([self.specs[i].speed_factor[1] for i in self.type_idx])
        self.factor = rng.uniform(lo, hi)
        self.max_speed = np.array([self.specs[i].max_speed_kmh for i in self.type_idx])
        self.reports_speed = rng.random(n) < np.array(
            [self.specs[i].reports_speed for i in self.type_idx]
        )
        self.length = self.network.segments[m.LENGTH].to_numpy(float)
        self.to_node = self.routes.to_node
        self.seg = np.zeros(n, np.int64)
        self.offset = np.zeros(n)
        self.dest = np.full(n, -1, np.int64)
        self.dwell_until = np.zeros(n)
        self.entry_s = np.full(n, np.nan)
        self.since_stop = rng.uniform(0, BUS_STOP_SPACING_M, n)
        self.speed = np.zeros(n)
        self.traversals: list[Traversal] = []
        for v in range(n):
            self._spawn(v, 0.0)

    # -- trips ---------------------------------------------------------------------------
    def _weights(self, v: int) -> np.ndarray:
        w = self.dest_weights.get(self.vehicle_type[v])
        return w if w is not None else np.ones(len(self.routes.destinations))

    def _spawn(self, v: int, t: float) -> None:
        """Place vehicle ``v`` on a random segment with a reachable destination."""
        for _ in range(50):
            s = int(self.rng.integers(len(self.length)))
            d = self.routes.pick_destination(self.rng, int(self.to_node[s]), self._weights(v))
            if d >= 0:
                self.seg[v], self.dest[v] = s, d
                self.offset[v] = self.rng.uniform(0, self.length[s])
                self.entry_s[v] = np.nan  # partial first traversal: no truth record
                return
        raise ValueError("no segment of the network reaches any destination")

    def _arrive(self, v: int, node: int, t: float) -> None:
        spec = self.specs[self.type_idx[v]]
        if spec.park_probability and self.rng.random() < spec.park_probability:
            self.dwell_until[v] = t + self.rng.uniform(*spec.park_s)
        d = self.routes.pick_destination(self.rng, node, self._weights(v))
        if spec.vehicle_type == "bus" and d >= 0:
            # shuttle: go back toward the previous terminal when possible
            prev = self.dest[v]
            alt = self.routes.pick_destination(self.rng, node, self._weights(v))
            d = alt if alt != prev else d
        if d < 0:
            self._spawn(v, t)
        else:
            self.dest[v] = d

    def _next_segment(self, v: int, t: float) -> bool:
        """Move ``v`` onto its next segment; ``False`` when it had to be respawned."""
        node = int(self.to_node[self.seg[v]])
        if node == self.routes.destinations[self.dest[v]]:
            self._arrive(v, node, t)
        nxt = self.routes.next_segment(int(self.dest[v]), node)
        if nxt < 0:
            self._spawn(v, t)
            return False
        self.seg[v] = nxt
        return True

    # -- motion --------------------------------------------------------------------------
    def step(self, t: float) -> None:
        """Move every vehicle from ``t`` to ``t + 1`` seconds."""
        moving = self.dwell_until <= t
        speed = self.traffic.speed_at(self.seg, self.offset) * self.factor
        speed = np.minimum(speed, self.max_speed)
        self.speed = np.where(moving, speed, 0.0)
        step_m = self.speed / 3.6
        self.offset += step_m
        is_bus = self.vehicle_type == "bus"
        self.since_stop += np.where(is_bus, step_m, 0.0)
        stop = is_bus & (self.since_stop >= BUS_STOP_SPACING_M)
        if stop.any():
            idx = np.flatnonzero(stop)
            self.dwell_until[idx] = t + 1 + self.rng.uniform(*BUS_DWELL_S, len(idx))
            self.since_stop[idx] = 0.0
        mps = np.maximum(step_m, 1e-9)
        over = self.offset >= self.length[self.seg]
        while over.any():
            for v in np.flatnonzero(over):
                excess = self.offset[v] - self.length[self.seg[v]]
                exit_t = t + 1 - min(excess / mps[v], 1.0)
                if not np.isnan(self.entry_s[v]):
                    self.traversals.append(
                        Traversal(int(v), int(self.seg[v]), float(self.entry_s[v]), exit_t)
                    )
                if self._next_segment(int(v), t):
                    self.offset[v] = excess
                    self.entry_s[v] = exit_t
            over = self.offset >= self.length[self.seg]

    def due(self, t: int) -> np.ndarray:
        """Indices of vehicles whose tracker reports at integer second ``t``."""
        return np.flatnonzero((t - self.phase) % self.interval == 0)
