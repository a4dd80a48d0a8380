"""Declarative simulation scenarios (YAML or JSON files), validated with pydantic.

Example::

    name: lach-tray-lane-blockage
    start: "2026-11-25T07:30:00+07:00"   # default: now
    timezone: Asia/Ho_Chi_Minh            # local time drives the demand profile
    duration_s: 900
    seed: 42
    vehicles: 2000
    gps: {sigma_m: 8, outlier_p: 0.01}
    fleet: {motorbike: {interval_s: 5}}
    detectors: {spacing: 3, interval_s: 60, faults: [{detector_id: det-0002, kind: stuck}]}
    incidents:
      - {id: inc-1, segment_id: "lach-tray:2:f", position: 0.8, start_s: 120,
         duration_s: 600, kind: lane_blockage, lanes_blocked: 1}
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from simulators.gps_channel import GpsNoise


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentSpec(_Strict):
    """An incident to inject (times in simulation seconds from the start): lanes blocked at
    ``position`` (a lane blockage, a full closure, a stalled vehicle) or traffic crawling at
    ``crawl_kmh`` over the whole segment (flooding, a checkpoint, a convoy)."""

    id: str = Field(min_length=1)
    segment_id: str
    position: float = Field(default=0.5, ge=0.0, le=1.0, description="Fraction along the segment.")
    start_s: float = Field(ge=0)
    duration_s: float = Field(gt=0)
    kind: Literal["lane_blockage", "full_closure", "stalled_vehicle", "crawl"] = "lane_blockage"
    lanes_blocked: int = Field(default=1, ge=1)
    crawl_kmh: float = Field(
        default=10.0, gt=0, description="crawl: the speed limit over the whole segment, km/h."
    )


class FaultSpec(_Strict):
    """A detector fault from ``from_s`` on."""

    detector_id: str
    kind: Literal["stuck", "zero", "chatter", "missing"]
    from_s: float = Field(default=0.0, ge=0)


class DetectorSpec(_Strict):
    """Where detectors stand and how they report."""

    spacing: int = Field(default=3, ge=1, description="Every n-th eligible segment gets one.")
    classes: list[str] = ["motorway", "trunk", "primary"]
    interval_s: int = Field(default=60, ge=20, le=3600)
    missing_p: float = Field(default=0.0, ge=0, le=1)
    faults: list[FaultSpec] = []


class FleetOverride(_Strict):
    """Per vehicle type changes to the default fleet."""

    share: float | None = Field(None, ge=0)
    interval_s: int | None = Field(None, ge=1, le=3600)
    reports_speed: float | None = Field(None, ge=0, le=1)


class GpsSpec(_Strict):
    """GPS error and delivery impairments (see :class:`simulators.gps_channel.GpsNoise`)."""

    sigma_m: float = Field(default=8.0, ge=0)
    outlier_p: float = Field(default=0.01, ge=0, le=1)
    outlier_sigma_m: float = Field(default=80.0, ge=0)
    drop_p: float = Field(default=0.02, ge=0, le=1)
    outage_p: float = Field(default=0.002, ge=0, le=1)
    duplicate_p: float = Field(default=0.01, ge=0, le=1)
    out_of_order_p: float = Field(default=0.02, ge=0, le=1)
    late_p: float = Field(default=0.005, ge=0, le=1)

    def noise(self) -> GpsNoise:
        """The channel settings."""
        return GpsNoise(**self.model_dump())


class SumoSpec(_Strict):
    """Options of the SUMO engine (``itms simulate --engine sumo``): the share of vehicles
    that report as GPS probes; the sublane width (m) that lets motorbikes filter between
    cars; how netconvert builds the network (traffic lights where the network maps them,
    else guessed where the incoming roads' speeds sum to ``tls_guess_threshold`` m/s or more;
    fixed cycles of ``tls_cycle_s``);
    how long a stuck vehicle waits before SUMO teleports it (s); the share of vehicles that
    reroute around congestion every 2 minutes; the warm-up before the start (s)."""

    probe_share: float = Field(default=0.1, gt=0, le=1)
    lateral_resolution_m: float = Field(default=0.8, gt=0)
    tls_guess: bool | None = Field(
        default=None, description="Guess signals at major junctions (None: unless the"
        " network maps its signals).",
    )  # fmt: skip
    tls_mapped: bool = Field(
        default=True, description="Signals where the network maps them (OSM"
        " highway=traffic_signals, a SUMO network's traffic lights).",
    )  # fmt: skip
    tls_guess_threshold: float = Field(default=40.0, gt=0)
    tls_cycle_s: int = Field(default=90, ge=20, le=300)
    join_junctions: bool = True
    time_to_teleport_s: int = Field(default=600, ge=-1)
    rerouting_share: float = Field(default=0.3, ge=0, le=1)
    detector_lanes: bool = Field(default=True, description="Loops per lane (<station>__l<k>).")
    warmup_s: int = Field(
        default=600, ge=0, le=7200,
        description="Simulated before the start (trips at the same profile) so that the run"
        " begins in traffic; rounded up to whole detector intervals and minutes; no output.",
    )  # fmt: skip


class Scenario(_Strict):
    """A whole simulation run."""

    name: str = "default"
    engine: Literal["own", "sumo"] = "own"
    start: datetime | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    duration_s: int = Field(default=900, ge=1)
    seed: int = 0
    city_seed: int | None = Field(
        default=None,
        description="Seeds the per-segment demand on its own: runs with the same city_seed"
        " and different seeds are different days of the same city (None: from seed).",
    )
    network: str | None = None
    vehicles: int = Field(default=1000, ge=0)
    demand_scale: float = Field(default=1.0, gt=0)
    gps: GpsSpec = GpsSpec()
    fleet: dict[str, FleetOverride] = {}
    detectors: DetectorSpec = DetectorSpec()
    incidents: list[IncidentSpec] = []
    sumo: SumoSpec = SumoSpec()

    def start_time(self) -> datetime:
        """Aware UTC start (now, to the second, when unset)."""
        if self.start is None:
            return datetime.now(UTC).replace(microsecond=0)
        if self.start.tzinfo is None:
            raise ValueError("scenario start needs a UTC offset")
        return self.start.astimezone(UTC)


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario from ``.yaml``/``.yml``/``.json``; raises ``ValueError`` with the reason."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return Scenario.model_validate(data or {})
