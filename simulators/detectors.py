"""Loop detectors and counting cameras read from the true traffic state.

Per interval a detector reports the vehicles that passed (Poisson around the
true flow), the mean speed, and the occupancy implied by the fundamental
relation k = q / v: occupancy = (flow per lane / speed) × effective vehicle
length. Faults (stuck, all-zero, chatter, missing intervals) can be injected.
Units: flows veh/h, speeds km/h, lengths metres, occupancy 0–1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from roadnet import model as m
from roadnet.model import RoadNetwork
from simulators.traffic.model import TrafficModel

#: Effective detection length of an average vehicle of the mixed fleet plus the loop (m).
EFFECTIVE_LENGTH_M = 4.5
#: Vehicles per passenger-car unit in a motorbike-heavy fleet.
VEHICLES_PER_PCU = 2.2
FAULT_KINDS = ("stuck", "zero", "chatter", "missing")


@dataclass
class DetectorSite:
    """A detector station across all lanes of one segment at ``position_m`` from its start."""

    detector_id: str
    segment: int
    position_m: float
    lanes: int
    fault: str | None = None
    fault_from_s: float = 0.0
    _last: dict | None = field(default=None, repr=False)


def place_detectors(
    network: RoadNetwork, *, spacing: int, rng: np.random.Generator, classes: tuple[str, ...]
) -> list[DetectorSite]:
    """One detector on every ``spacing``-th segment of the given classes longer than 150 m."""
    seg = network.segments
    ok = seg[m.ROAD_CLASS].isin(classes).to_numpy() & (seg[m.LENGTH].to_numpy() > 150.0)
    chosen = np.flatnonzero(ok)[:: max(spacing, 1)]
    return [
        DetectorSite(
            detector_id=f"det-{k:04d}",
            segment=int(i),
            position_m=float(seg[m.LENGTH].iloc[i] * rng.uniform(0.3, 0.7)),
            lanes=int(seg[m.LANES].iloc[i]),
        )
        for k, i in enumerate(chosen)
    ]


class DetectorBank:
    """Accumulates the traffic state at each site and emits readings every ``interval_s``."""

    def __init__(
        self,
        sites: list[DetectorSite],
        traffic: TrafficModel,
        rng: np.random.Generator,
        *,
        interval_s: int = 60,
        missing_p: float = 0.0,
    ) -> None:
        self.sites = sites
        self.traffic = traffic
        self.rng = rng
        self.interval_s = interval_s
        self.missing_p = missing_p
        self._seg = np.array([s.segment for s in sites], np.int64)
        self._pos = np.array([s.position_m for s in sites])
        self._lanes = np.array([max(s.lanes, 1) for s in sites], float)
        self._flow_sum = np.zeros(len(sites))
        self._inv_speed_sum = np.zeros(len(sites))
        self._samples = 0

    def sample(self) -> None:
        """Record the state at every site (call after each traffic step)."""
        if not self.sites:
            return
        flow = self.traffic.flow_at(self._seg, self._pos) * VEHICLES_PER_PCU
        speed = np.maximum(self.traffic.speed_at(self._seg, self._pos), 0.5)
        self._flow_sum += flow
        self._inv_speed_sum += flow / speed  # flow-weighted → harmonic mean speed
        self._samples += 1

    def readings(self, end_s: float) -> list[dict]:
        """Readings for the interval ending at ``end_s`` (contract fields except ``ts``)."""
        if not self._samples:
            return []
        flow = self._flow_sum / self._samples  # veh/h
        speed = np.where(
            self._inv_speed_sum > 0, self._flow_sum / np.maximum(self._inv_speed_sum, 1e-9), 0.0
        )
        volume = self.rng.poisson(flow * self.interval_s / 3600.0)
        density = flow / np.maximum(speed, 0.5) / self._lanes  # veh/km/lane
        occupancy = np.clip(density * EFFECTIVE_LENGTH_M / 1000.0, 0.0, 0.98)
        speed_noisy = np.maximum(speed * self.rng.normal(1.0, 0.03, len(speed)), 0.0)
        self._flow_sum[:] = 0.0
        self._inv_speed_sum[:] = 0.0
        self._samples = 0
        out = []
        for k, site in enumerate(self.sites):
            reading: dict = {
                "detector_id": site.detector_id,
                "interval_s": self.interval_s,
                "volume": int(volume[k]),
                "occupancy": round(float(occupancy[k]), 4),
            }
            if volume[k] > 0:
                reading["speed_kmh"] = round(float(speed_noisy[k]), 1)
            faulted = self._apply_fault(site, reading, end_s)
            if faulted is not None and self.rng.random() >= self.missing_p:
                out.append(faulted)
        return out

    def _apply_fault(self, site: DetectorSite, reading: dict, end_s: float) -> dict | None:
        if site.fault is None or end_s < site.fault_from_s:
            site._last = reading
            return reading
        if site.fault == "stuck":
            return dict(site._last or reading)
        if site.fault == "zero":
            return {
                **reading,
                "volume": 0,
                "occupancy": 0.0,
                **({"speed_kmh": 0.0} if "speed_kmh" in reading else {}),
            }
        if site.fault == "chatter":
            return {
                **reading,
                "volume": int(reading["volume"] * self.rng.uniform(2, 6)),
                "occupancy": round(float(self.rng.uniform(0.3, 0.9)), 4),
            }
        return None  # missing
