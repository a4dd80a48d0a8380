"""Demand for a SUMO run: trips of the project's fleet mix timed by a weekday profile.

``n`` trips depart over the run, their departure times distributed like the weekday
volume/capacity profile at the city's local time; origins and destinations are segments
drawn with weights of lanes × road-class weight (arterials carry more), at least
``min_trip_m`` apart. SUMO routes each trip at departure (fastest path, through a bus's
stops: ``bus_stops.py``); a share of vehicles reroutes around congestion. Probe vehicles
(``probe_share``) carry SUMO's FCD device: their positions become the GPS feed. A warm-up
before the run's start (trips at the same profile) fills the network, so that the run
begins in traffic, not on empty streets. How each type drives: ``vehicle_types.py``.
Deterministic for a seed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import shapely

from roadnet import model as m
from roadnet.model import RoadNetwork
from simulators.fleet import FleetSpec
from simulators.sumo.bus_stops import BusStops, stops_for_trip
from simulators.traffic.profile import class_weight, volume_capacity


@dataclass(frozen=True)
class Trips:
    """The generated vehicles (aligned arrays): id, project vehicle type, departure (s on
    SUMO's clock: from the start of the warm-up), origin and destination segment index,
    probe or not, GPS interval (s)."""

    vehicle_id: np.ndarray
    vehicle_type: np.ndarray
    depart_s: np.ndarray
    origin: np.ndarray
    destination: np.ndarray
    probe: np.ndarray
    interval_s: np.ndarray


def departure_times(
    rng: np.random.Generator, n: int, duration_s: int, start: datetime, timezone: str
) -> np.ndarray:
    """``n`` sorted departure times (s) over ``[0, duration_s)``, denser at peak hours."""
    local = start.astimezone(ZoneInfo(timezone))
    hour0 = local.hour + local.minute / 60.0 + local.second / 3600.0
    grid = np.arange(0, duration_s + 60, 60.0)
    weight = volume_capacity(hour0 + grid / 3600.0)
    cdf = np.concatenate([[0.0], np.cumsum((weight[1:] + weight[:-1]) / 2.0)])
    cdf /= cdf[-1]
    return np.sort(np.minimum(np.interp(rng.random(n), cdf, grid), duration_s - 1.0))


def warmup_trips(n: int, duration_s: int, warmup_s: int, start: datetime, timezone: str) -> int:
    """Trips departing in the ``warmup_s`` before ``start``: as many per second as the ``n``
    of the run, scaled by the weekday profile."""
    if warmup_s <= 0 or n <= 0:
        return 0
    local = start.astimezone(ZoneInfo(timezone))
    hour0 = local.hour + local.minute / 60.0 + local.second / 3600.0
    before = volume_capacity(hour0 + np.linspace(-warmup_s, 0.0, 61) / 3600.0).mean()
    during = volume_capacity(hour0 + np.linspace(0.0, duration_s, 61) / 3600.0).mean()
    return round(n * warmup_s / duration_s * float(before) / max(float(during), 1e-9))


def make_trips(
    network: RoadNetwork, specs: tuple[FleetSpec, ...], *, n: int, duration_s: int,
    start: datetime, timezone: str, probe_share: float, rng: np.random.Generator,
    min_trip_m: float = 1000.0, warmup_s: int = 0, usable: np.ndarray | None = None,
) -> Trips:  # fmt: skip
    """Draw ``n`` trips departing over the run (see the module docstring), and before them
    those of a ``warmup_s`` warm-up that fills the network; departures in seconds from the
    start of the warm-up (SUMO's clock). Trips start and end on ``usable`` segments (a mask;
    all when ``None``: segments SUMO dropped cannot start or end a trip)."""
    n_warm = warmup_trips(n, duration_s, warmup_s, start, timezone)
    n_run, n = n, n + n_warm
    seg = network.segments
    weight = seg[m.LANES].to_numpy(float) * np.array(
        [class_weight(str(c)) for c in seg[m.ROAD_CLASS].fillna("")]
    )
    if usable is not None:
        weight = np.where(np.asarray(usable, bool), weight, 0.0)
    p = weight / weight.sum()
    origin = rng.choice(len(seg), n, p=p)
    destination = rng.choice(len(seg), n, p=p)
    xy = shapely.get_coordinates(shapely.centroid(network.geom_m))
    for _ in range(20):  # redraw destinations too close to the origin
        near = np.hypot(*(xy[origin] - xy[destination]).T) < min_trip_m
        if not near.any():
            break
        destination[near] = rng.choice(len(seg), int(near.sum()), p=p)
    shares = np.array([s.share for s in specs], float)
    kind = rng.choice(len(specs), n, p=shares / shares.sum())
    types = np.array([specs[k].vehicle_type for k in kind])
    ids = np.array([f"{t[:2]}{i:06d}" for i, t in enumerate(types)])
    depart = np.concatenate([
        departure_times(rng, n_warm, warmup_s, start - timedelta(seconds=warmup_s), timezone),
        warmup_s + departure_times(rng, n_run, duration_s, start, timezone),
    ]) if n_warm else departure_times(rng, n_run, duration_s, start, timezone)  # fmt: skip
    return Trips(ids, types, depart, origin, destination, rng.random(n) < probe_share,
                 np.array([specs[k].interval_s for k in kind], np.int64))  # fmt: skip


def write_routes(network: RoadNetwork, trips: Trips, path: Path, *, rerouting_share: float,
                 rng: np.random.Generator, stops: BusStops | None = None) -> None:  # fmt: skip
    """The ``.rou.xml`` of the trips by departure time (buses stop at ``stops``)."""
    ids = network.segments[m.SEGMENT_ID].astype(str).to_numpy()
    root = ET.Element("routes")  # the vTypes are in the additional file (loaded first)
    reroute = rng.random(len(trips.vehicle_id)) < rerouting_share
    mid = shapely.get_coordinates(shapely.line_interpolate_point(network.geom_m, 0.5,
                                                                 normalized=True))  # fmt: skip
    id_list = ids.tolist()
    for k in np.argsort(trips.depart_s, kind="stable").tolist():
        trip = ET.SubElement(root, "trip", {
            "id": str(trips.vehicle_id[k]), "type": str(trips.vehicle_type[k]),
            "depart": f"{trips.depart_s[k]:.2f}", "departLane": "best", "departSpeed": "max",
            "departPos": "random_free", "from": str(ids[trips.origin[k]]),
            "to": str(ids[trips.destination[k]]),
        })  # fmt: skip
        if trips.probe[k]:  # positions (the GPS feed) and the route driven (the truth)
            ET.SubElement(trip, "param", key="has.fcd.device", value="true")
            ET.SubElement(trip, "param", key="has.vehroute.device", value="true")
        if reroute[k]:
            ET.SubElement(trip, "param", key="has.rerouting.device", value="true")
        if stops is not None and trips.vehicle_type[k] == "bus":
            o, d = mid[trips.origin[k]], mid[trips.destination[k]]
            for stop, dwell in stops_for_trip(stops, o, d, rng):
                ET.SubElement(trip, "stop", busStop=stops.stop_id(stop, id_list),
                              duration=f"{dwell:.0f}")  # fmt: skip
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
