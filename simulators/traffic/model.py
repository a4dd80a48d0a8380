"""The true traffic state of every segment over time: speeds, flows and incident queues.

Recurrent congestion follows the time-of-day demand (:mod:`.profile`) through a
speed–v/c relation; incidents cut a segment's capacity at a point, and the
queue behind them grows and shrinks as a point queue that is laid out
physically upstream, spilling into the preceding segments. Units: speeds
km/h, flows pcu/h (passenger-car units), lengths and positions metres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from roadnet import model as m
from roadnet.model import RoadNetwork
from simulators.traffic.profile import class_weight, volume_capacity

SAT_FLOW_PCU_H_LANE = 1800.0
#: Share of saturation flow an urban road of a class passes (signals, side friction).
URBAN_CAPACITY_FACTOR = {"motorway": 1.0, "trunk": 0.8, "primary": 0.6, "secondary": 0.55}
JAM_SPACING_M = 7.0
#: Density inside a moving queue, pcu/km/lane (80 % of jam density).
QUEUE_DENSITY = 0.8 * 1000.0 / JAM_SPACING_M
MIN_SPEED_KMH = 1.0
INCIDENT_CAPACITY = {
    # remaining share of capacity: of the open lanes, with rubbernecking
    "lane_blockage": lambda lanes, blocked: max(lanes - blocked, 0) / lanes * 0.8,
    "stalled_vehicle": lambda lanes, blocked: max(lanes - 1, 0.35) / lanes * 0.85,
    "full_closure": lambda lanes, blocked: 0.0,
}


@dataclass
class Incident:
    """An incident: capacity drops from ``start_s`` to ``end_s`` (simulation seconds); a
    crawl also caps the segment's speed at ``crawl_kmh``."""

    incident_id: str
    segment: int
    position_m: float
    start_s: float
    end_s: float
    kind: str = "lane_blockage"
    lanes_blocked: int = 1
    crawl_kmh: float = 10.0
    queue_pcu: float = 0.0
    max_queue_m: float = 0.0
    chain: list[int] = field(default_factory=list)


def predecessor_table(network: RoadNetwork) -> list[np.ndarray]:
    """For each segment, the segments that end at its start node (its own reverse excluded)."""
    seg = network.segments
    frm = seg[m.FROM_NODE].to_numpy()
    to = seg[m.TO_NODE].to_numpy()
    order = np.argsort(to, kind="stable")
    starts = np.searchsorted(to[order], np.arange(network.n_nodes + 1))
    out = []
    for i in range(len(seg)):
        cand = order[starts[frm[i]] : starts[frm[i] + 1]]
        out.append(cand[frm[cand] != to[i]])
    return out


class TrafficModel:
    """Evolves the per-segment state in steps of ``dt_s`` seconds.

    Parameters
    ----------
    network
        The road network.
    start_local_hour
        Local time of day at simulation second 0 (e.g. 7.5 for 07:30).
    seed
        Seeds the per-segment demand factors and speed noise.
    demand_scale
        Multiplies every segment's demand (1 = an average weekday).
    demand_seed
        Seeds the per-segment demand factors on their own (the same city on several days);
        ``None`` draws them from ``seed``.
    """

    def __init__(
        self,
        network: RoadNetwork,
        *,
        start_local_hour: float,
        seed: int = 0,
        demand_scale: float = 1.0,
        dt_s: float = 10.0,
        noise_sigma: float = 0.06,
        demand_seed: int | None = None,
    ) -> None:
        seg = network.segments
        self.network = network
        self.dt_s = dt_s
        self.start_local_hour = start_local_hour
        self.rng = np.random.default_rng(seed)
        self.length = seg[m.LENGTH].to_numpy(float)
        self.lanes = np.maximum(seg[m.LANES].to_numpy(float), 1.0)
        self.free_flow = seg[m.FREE_FLOW].to_numpy(float)
        classes = seg[m.ROAD_CLASS].astype(str).to_numpy()
        factor = np.array(
            [URBAN_CAPACITY_FACTOR.get(c.removesuffix("_link"), 0.5) for c in classes]
        )
        self.capacity = self.lanes * SAT_FLOW_PCU_H_LANE * factor  # pcu/h
        weight = np.array([class_weight(c) for c in classes])
        factor_rng = self.rng if demand_seed is None else np.random.default_rng(demand_seed)
        self.demand_factor = demand_scale * weight * factor_rng.lognormal(0.0, 0.2, len(seg))
        self.noise_sigma = noise_sigma
        self._noise = np.zeros(len(seg))
        self.predecessors = predecessor_table(network)
        self.incidents: list[Incident] = []
        self.t = 0.0
        n = len(seg)
        self.base_speed = np.zeros(n)
        self.demand = np.zeros(n)
        self.q_lo = np.zeros(n)
        self.q_hi = np.zeros(n)
        self.q_speed = np.zeros(n)
        self._update_base()

    # -- incidents ---------------------------------------------------------------------
    def add_incident(self, incident: Incident) -> None:
        """Register an incident; its upstream queue chain is chosen now."""
        incident.chain = self._upstream_chain(incident.segment, max_m=5000.0)
        self.incidents.append(incident)

    def _upstream_chain(self, segment: int, *, max_m: float) -> list[int]:
        """Segments a queue behind ``segment`` spills into: same road first, else the widest."""
        names = self.network.segments[m.NAME].to_numpy()
        chain: list[int] = []
        cur, total, seen = segment, 0.0, {segment}
        while total < max_m:
            cands = [c for c in self.predecessors[cur] if c not in seen]
            if not cands:
                break
            same = [c for c in cands if names[c] and names[c] == names[cur]]
            pool = same or cands
            nxt = max(pool, key=lambda c: self.capacity[c])
            chain.append(nxt)
            seen.add(nxt)
            total += self.length[nxt]
            cur = nxt
        return chain

    # -- evolution ---------------------------------------------------------------------
    def local_hour(self, t_s: float | None = None) -> float:
        """Local time of day (hours) at simulation second ``t_s`` (default now)."""
        t = self.t if t_s is None else t_s
        return (self.start_local_hour + t / 3600.0) % 24.0

    def _update_base(self) -> None:
        vc = volume_capacity(self.local_hour()) * self.demand_factor
        self.demand = vc * self.capacity
        rho = np.exp(-self.dt_s / 300.0)
        self._noise = rho * self._noise + np.sqrt(1 - rho**2) * self.rng.normal(
            0.0, self.noise_sigma, len(self._noise)
        )
        rel = np.where(vc <= 1.0, 1.0 - 0.45 * vc**3, 0.55 / np.maximum(vc, 1.0) ** 2)
        speed = self.free_flow * rel * np.exp(self._noise)
        self.base_speed = np.clip(speed, 5.0, self.free_flow * 1.1)

    def step(self) -> None:
        """Advance the state by ``dt_s`` seconds."""
        self.t += self.dt_s
        self._update_base()
        self.q_lo[:] = 0.0
        self.q_hi[:] = 0.0
        self.q_speed[:] = 0.0
        for inc in self.incidents:
            if inc.kind == "crawl" and inc.start_s <= self.t < inc.end_s:
                s = inc.segment
                self.base_speed[s] = min(self.base_speed[s], inc.crawl_kmh)
            self._step_incident(inc)

    def _step_incident(self, inc: Incident) -> None:
        s = inc.segment
        active = inc.start_s <= self.t < inc.end_s
        if active and inc.kind == "crawl":  # at most a dense queue's flow at the crawl speed
            outflow = min(self.capacity[s], inc.crawl_kmh * QUEUE_DENSITY * self.lanes[s])
        elif active:
            outflow = self.capacity[s] * INCIDENT_CAPACITY[inc.kind](
                self.lanes[s], inc.lanes_blocked
            )
        else:
            outflow = self.capacity[s]
        if not active and inc.queue_pcu <= 0.0:
            return
        # Demand above capacity is recurrent congestion (in the base speeds); the incident
        # queue only holds what the incident itself turns away.
        inflow = min(self.demand[s], 0.9 * self.capacity[s])
        inc.queue_pcu = max(0.0, inc.queue_pcu + (inflow - outflow) * self.dt_s / 3600.0)
        remaining = inc.queue_pcu
        if remaining <= 0.0:
            return
        covered = 0.0
        for k, seg in enumerate([s, *inc.chain]):
            room = inc.position_m if k == 0 else self.length[seg]
            need = remaining * JAM_SPACING_M / self.lanes[seg]
            cover = min(need, room)
            end = inc.position_m if k == 0 else self.length[seg]
            self.q_lo[seg] = end - cover
            self.q_hi[seg] = end
            self.q_speed[seg] = outflow / self.lanes[seg] / QUEUE_DENSITY
            covered += cover
            remaining -= cover * self.lanes[seg] / JAM_SPACING_M
            if remaining <= 1e-9:
                break
        inc.max_queue_m = max(inc.max_queue_m, covered)

    # -- readings ----------------------------------------------------------------------
    def speed_at(self, segment: np.ndarray, offset_m: np.ndarray) -> np.ndarray:
        """True traffic speed (km/h) at positions ``offset_m`` along ``segment``."""
        in_queue = (offset_m >= self.q_lo[segment]) & (offset_m <= self.q_hi[segment])
        in_queue &= self.q_hi[segment] > self.q_lo[segment]
        return np.where(in_queue, self.q_speed[segment], self.base_speed[segment])

    def flow_at(self, segment: np.ndarray, offset_m: np.ndarray) -> np.ndarray:
        """True flow (pcu/h) past positions: queue discharge inside a queue, else demand."""
        in_queue = (offset_m >= self.q_lo[segment]) & (offset_m <= self.q_hi[segment])
        in_queue &= self.q_hi[segment] > self.q_lo[segment]
        discharge = self.q_speed[segment] * QUEUE_DENSITY * self.lanes[segment]
        return np.where(in_queue, np.minimum(discharge, self.demand[segment]), self.demand[segment])

    def travel_time_s(self) -> np.ndarray:
        """Time to traverse each segment now (seconds)."""
        queue_len = self.q_hi - self.q_lo
        free_len = self.length - queue_len
        q_speed = np.maximum(self.q_speed, MIN_SPEED_KMH)
        return 3.6 * (queue_len / q_speed + free_len / np.maximum(self.base_speed, MIN_SPEED_KMH))

    def space_mean_speed(self) -> np.ndarray:
        """Segment length over current travel time (km/h)."""
        return 3.6 * self.length / self.travel_time_s()
