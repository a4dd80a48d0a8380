"""Probe vehicles of a SUMO run: which positions become fixes, where each truly is, and what
the device reports.

SUMO writes every second of every probe (floating car data, positions in the network's
metric CRS). A probe reports at its vehicle type's interval with a random phase; each fix
keeps its true segment (from the route as driven: inside a junction, the segment being
entered) and offset along it, and gets what a phone or tracker would send: the position
through the project's GPS error model, SUMO's heading (degrees clockwise from north) ± 3°,
and the speed (km/h) ± 0.8 for the devices that report one. Times are SUMO seconds from
the run's start.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from roadnet.model import RoadNetwork
from simulators.fleet import FleetSpec
from simulators.gps_channel import GpsNoise, position_errors
from simulators.sumo.demand import Trips
from simulators.sumo.outputs import Route

#: Heading error (degrees) and speed error (km/h) of what devices report, 1 σ.
HEADING_SIGMA_DEG = 3.0
SPEED_SIGMA_KMH = 0.8


@dataclass(frozen=True)
class Probes:
    """The probe vehicles (aligned arrays): id, project vehicle type, GPS interval (s)."""

    vehicle_id: np.ndarray
    vehicle_type: np.ndarray
    interval_s: np.ndarray

    @classmethod
    def of(cls, trips: Trips) -> Probes:
        """The probes among ``trips``."""
        p = trips.probe
        return cls(trips.vehicle_id[p], trips.vehicle_type[p], trips.interval_s[p])

    def codes(self) -> dict[str, int]:
        """Probe index by vehicle id."""
        return {v: k for k, v in enumerate(self.vehicle_id.tolist())}


@dataclass(frozen=True)
class ProbeFixes:
    """The generated fixes in time order (aligned arrays): vehicle id, probe index, time
    (s), true metric x/y (m), SUMO angle (degrees clockwise from north), true speed (m/s),
    true segment index (−1: unknown) and offset along it (m), the probe's interval (s)."""

    vehicle_id: np.ndarray
    code: np.ndarray
    t_s: np.ndarray
    x: np.ndarray
    y: np.ndarray
    angle_deg: np.ndarray
    speed_ms: np.ndarray
    segment: np.ndarray
    offset_m: np.ndarray
    interval_s: np.ndarray

    def __len__(self) -> int:
        return len(self.t_s)


@dataclass(frozen=True)
class DeviceReports:
    """Per fix what the device sends (WGS 84 lon/lat with GPS error, heading degrees, speed
    km/h) and the true lon/lat; per probe whether its device reports a speed."""

    lon: np.ndarray
    lat: np.ndarray
    true_lon: np.ndarray
    true_lat: np.ndarray
    heading_deg: np.ndarray
    speed_kmh: np.ndarray
    true_speed_kmh: np.ndarray
    reports_speed: np.ndarray


def true_segments(
    vehicle_id: np.ndarray, t_s: np.ndarray, lane: pd.Series, pos_m: np.ndarray,
    routes: dict[str, Route], index: dict[str, int],
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Per fix: the segment index the vehicle is on or, inside a junction, entering (−1:
    unknown), and the offset along it (m; 0 inside a junction)."""
    seg = np.full(len(t_s), -1, np.int64)
    order = np.argsort(vehicle_id, kind="stable")
    bounds = np.flatnonzero(np.r_[True, vehicle_id[order][1:] != vehicle_id[order][:-1], True])
    for a, b in pairwise(bounds):
        rows = order[a:b]
        route = routes.get(vehicle_id[rows[0]])
        if route is None or not route.edges:
            continue
        k = np.searchsorted(route.exit_s, t_s[rows], side="left")
        k = np.minimum(k, len(route.edges) - 1)
        seg[rows] = [index.get(route.edges[j], -1) for j in k.tolist()]
    lane = lane.astype(str)
    lane_edge = lane.str.rsplit("_", n=1).str[0].to_numpy()
    on_edge = ~lane.str.startswith(":").to_numpy(bool)
    ids = np.array(list(index), dtype=object)
    same = on_edge & (seg >= 0) & (lane_edge == np.where(seg >= 0, ids[np.maximum(seg, 0)], ""))
    return seg, np.where(same, pos_m, 0.0)


def sample_fixes(
    fcd: pd.DataFrame, probes: Probes, routes: dict[str, Route], index: dict[str, int],
    rng: np.random.Generator,
) -> ProbeFixes:  # fmt: skip
    """The fixes of the probes in SUMO's FCD (see the module docstring)."""
    probe_of = probes.codes()
    fcd = fcd[fcd["vehicle_id"].isin(probe_of)].reset_index(drop=True)
    code = fcd["vehicle_id"].map(probe_of).to_numpy(np.int64)
    phase = rng.integers(0, 3600, len(probe_of))[code]
    keep = ((fcd["t"].to_numpy(np.int64) + phase) % probes.interval_s[code]) == 0
    fixes = fcd[keep].reset_index(drop=True)
    code = code[keep]
    vid = fixes["vehicle_id"].to_numpy()
    t_s = fixes["t"].to_numpy(float)
    seg, offset = true_segments(vid, t_s, fixes["lane"], fixes["pos"].to_numpy(float), routes,
                                index)  # fmt: skip
    return ProbeFixes(vid, code, t_s, fixes["x"].to_numpy(float), fixes["y"].to_numpy(float),
                      fixes["angle"].to_numpy(float), fixes["speed"].to_numpy(float), seg, offset,
                      probes.interval_s[code])  # fmt: skip


def device_reports(
    fixes: ProbeFixes, probes: Probes, network: RoadNetwork, noise: GpsNoise,
    specs: tuple[FleetSpec, ...], rng: np.random.Generator,
) -> DeviceReports:  # fmt: skip
    """What each fix's device sends (see the module docstring)."""
    n = len(fixes)
    err = position_errors(rng, n, noise)
    lon, lat = network.projector.to_wgs84(fixes.x + err[:, 0], fixes.y + err[:, 1])
    tlon, tlat = network.projector.to_wgs84(fixes.x, fixes.y)
    heading = np.mod(fixes.angle_deg + rng.normal(0, HEADING_SIGMA_DEG, n), 360.0)
    kmh = fixes.speed_ms * 3.6
    rep_kmh = np.maximum(kmh + rng.normal(0.0, SPEED_SIGMA_KMH, n), 0.0)
    share = {s.vehicle_type: s.reports_speed for s in specs}
    reports = rng.random(len(probes.vehicle_id)) < np.array(
        [share[t] for t in probes.vehicle_type])  # fmt: skip
    return DeviceReports(lon, lat, tlon, tlat, heading, rep_kmh, kmh, reports)
