"""Multi-day simulated scenarios for scoring speed forecasts, and their per-minute arrays.

A forecast day is one simulated morning (``start_local`` for ``duration_s``: the ramp into the
peak, the peak and its decline) of one network with a seed of its own and ``closures`` full
closures at random places and times. Each day yields two (T, N) arrays of speeds (km/h) per
minute (UTC, the day's first minute + row) and segment (the network's order): ``observed``,
what the state builder would publish from the day's probes and loops (NaN: nothing
published), and ``truth``, the simulator's space-mean speed (NaN: no traffic); and the day's
true incidents. Days of a network differ only in their seed and date; they are cached in a
work directory (``<network>-<engine>-s<seed>``) and reused.

The split of days (written down before any model was trained; docs/EVALUATION.md): seeds 1–3
are tuning days, seeds 4–5 are held out, on every network and engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from evaluation.congestion_eval import online_minute_speeds
from evaluation.incident_eval import EvalConfig, probe_count, random_incidents, sumo_trips
from evaluation.source_speed_score import published_speeds
from roadnet import model as m
from roadnet.model import RoadNetwork

DAY_SPLIT = {"tuning": (1, 2, 3), "held-out": (4, 5)}
FIRST_DAY = date(2026, 11, 23)  # a Monday: seed s runs on the s-th weekday from here


@dataclass(frozen=True)
class DaySpec:
    """What a forecast day simulates (times local to ``timezone``)."""

    start_local: str = "06:00"
    duration_s: int = 3 * 3600
    closures: int = 2
    closure_min_s: int = 900
    closure_max_s: int = 1800
    penetration: float = 0.1  # probes' share of the traffic
    sumo_trips_per_hour: int = 12_000  # SUMO: trips an hour at the weekday peak
    timezone: str = "Asia/Ho_Chi_Minh"
    gps_sigma_m: float = 8.0


SPECS = {"own": DaySpec(), "sumo": DaySpec()}


@dataclass
class DayIncident:
    """A true incident of a day: its segment (index), start and end (minute rows)."""

    segment: int
    start: int
    end: int


@dataclass
class ForecastDay:
    """One simulated day as the forecaster and the scorer see it."""

    name: str
    first_minute: datetime  # UTC, row 0
    observed: np.ndarray  # (T, N) km/h published by the state builder, NaN: none
    truth: np.ndarray  # (T, N) km/h true space-mean speed, NaN: no traffic
    incidents: list[DayIncident] = field(default_factory=list)

    @property
    def minutes(self) -> int:
        return int(self.observed.shape[0])


def day_date(seed: int) -> date:
    """The date of seed ``seed``'s day: consecutive weekdays from :data:`FIRST_DAY`."""
    d, left = FIRST_DAY, seed - 1
    while left > 0:
        d += timedelta(days=1)
        if d.isoweekday() <= 5:
            left -= 1
    return d


def simulate_day(
    network: RoadNetwork, network_path: str | None, out: Path, *, seed: int, engine: str,
    spec: DaySpec, city_seed: int = 7,
) -> None:  # fmt: skip
    """Simulate seed ``seed``'s day of ``network`` into ``out`` (skipped when complete)."""
    if (out / "truth" / "run.json").exists():
        return
    from simulators.engines import simulate_to_folder
    from simulators.scenario import Scenario

    tz = ZoneInfo(spec.timezone)
    start = datetime.fromisoformat(f"{day_date(seed)}T{spec.start_local}:00").replace(tzinfo=tz)
    hour = start.hour + start.minute / 60.0
    cfg = EvalConfig(duration_s=spec.duration_s, incident_kind="full_closure",
                     incident_min_s=spec.closure_min_s, incident_max_s=spec.closure_max_s,
                     penetration=spec.penetration, sumo_trips_per_hour=spec.sumo_trips_per_hour,
                     warmup_s=900)  # fmt: skip
    incidents = random_incidents(network, np.random.default_rng(1000 + seed), n=spec.closures,
                                 duration_s=spec.duration_s, cfg=cfg)  # fmt: skip
    if engine == "sumo":
        vehicles = sumo_trips(cfg, hour)
        extra: dict = {"engine": "sumo", "sumo": {"probe_share": spec.penetration}}
    else:
        vehicles = probe_count(network, hour, spec.duration_s, spec.penetration, city_seed)
        extra = {}
    sc = Scenario.model_validate({
        "network": network_path, "start": start, "duration_s": spec.duration_s,
        "vehicles": vehicles, "seed": seed, "city_seed": city_seed, "timezone": spec.timezone,
        "incidents": incidents, "gps": {"sigma_m": spec.gps_sigma_m}, **extra,
    })  # fmt: skip
    simulate_to_folder(sc, network, out)


def day_arrays(run_dir: Path, network: RoadNetwork, *, sigma_m: float = 8.0) -> ForecastDay:
    """The published and true speeds of a simulated day (cached as ``forecast_day.npz``)."""
    cache = run_dir / "forecast_day.npz"
    ids = network.segments[m.SEGMENT_ID].astype(str).to_numpy()
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        inc = [DayIncident(int(a), int(b), int(c)) for a, b, c in z["incidents"]]
        return ForecastDay(run_dir.name, datetime.fromisoformat(str(z["first"])),
                           z["observed"], z["truth"], inc)  # fmt: skip
    truth = pd.read_csv(run_dir / "truth" / "segment_speeds.csv")
    truth["minute"] = pd.to_datetime(truth["minute"], utc=True)
    minutes = pd.date_range(truth["minute"].min(), truth["minute"].max(), freq="min")
    col = pd.Index(ids)
    est, _rate, cells = online_minute_speeds(run_dir, network, sigma_m)
    pub = published_speeds(run_dir, network, est, cells=cells)
    observed = _grid(pub, "kmh", minutes, col)
    true = _grid(truth, "speed_kmh", minutes, col)
    first = minutes[0].to_pydatetime()
    incs = []
    inc_path = run_dir / "truth" / "incidents.csv"
    if inc_path.exists() and inc_path.stat().st_size > 0:
        for r in pd.read_csv(inc_path).itertuples():
            s = int((pd.Timestamp(r.start) - minutes[0]) / pd.Timedelta(minutes=1))
            e = int((pd.Timestamp(r.end) - minutes[0]) / pd.Timedelta(minutes=1))
            incs.append(DayIncident(int(col.get_loc(str(r.segment_id))), s, e))
    np.savez_compressed(cache, observed=observed, truth=true, first=first.isoformat(),
                        incidents=np.array([(i.segment, i.start, i.end) for i in incs],
                                           np.int64).reshape(-1, 3))  # fmt: skip
    return ForecastDay(run_dir.name, first, observed, true, incs)


def _grid(frame: pd.DataFrame, value: str, minutes: pd.DatetimeIndex, col: pd.Index
          ) -> np.ndarray:  # fmt: skip
    out = np.full((len(minutes), len(col)), np.nan)
    if len(frame):
        r = minutes.get_indexer(pd.to_datetime(frame["minute"], utc=True))
        c = col.get_indexer(frame["segment_id"].astype(str))
        ok = (r >= 0) & (c >= 0)
        out[r[ok], c[ok]] = frame[value].to_numpy(float)[ok]
    return out


def load_days(
    network: RoadNetwork, network_path: str | None, work: Path, *, name: str, engine: str,
    seeds: tuple[int, ...], spec: DaySpec, progress=print,
) -> list[ForecastDay]:  # fmt: skip
    """Simulate (when not cached) and read the days of ``seeds``."""
    out = []
    for s in seeds:
        d = work / f"{name}-{engine}-s{s}"
        simulate_day(network, network_path, d, seed=s, engine=engine, spec=spec)
        out.append(day_arrays(d, network, sigma_m=spec.gps_sigma_m))
        if progress:
            progress(f"day {d.name}: {out[-1].minutes} min, {len(out[-1].incidents)} incidents")
    return out


def describe(days: list[ForecastDay]) -> str:
    """A one-line JSON description of the days (for the evaluation's record)."""
    return json.dumps([{"day": d.name, "first": d.first_minute.isoformat(),
                        "minutes": d.minutes, "incidents": len(d.incidents)} for d in days])
