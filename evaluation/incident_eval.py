"""Incident detection scored against simulated runs with known lane-blocking incidents.

For each run: a scenario with random lane-blocking incidents (random segments with at least
two lanes per direction, positions, start times and durations, at least ``min_separation_m``
apart) is simulated with the probe fleet sized to ``penetration`` of the vehicles on the
network; probes go through the worker's online path (:class:`ProbeProcessor`: map matching,
traversals), detectors report at the simulator's default spacing. Time-of-day profiles come
from ``history_days`` incident-free days of the same city (same ``city_seed``, other seeds,
no probes): per station occupancy mean/std and per segment speed per 15-minute slot.

Every minute :class:`IncidentDetector` runs on what the worker knows at the end of that
minute (detector readings of the minute ``detector_lag_s`` before — those of the minute
itself are complete only once the next minute's arrive —; traversals available
``availability_lag_s`` after they end — the online matcher's decision lag — over the last
``probe_window_min`` minutes; presence records of that minute boundary),
and each method's candidates drive their own :class:`IncidentTracker`, so every method is
scored on de-duplicated incidents with the same lifecycle. An incident raised (suspected)
within ``[start, end + match_after_min]`` of a true incident, located within
``match_radius_m`` of it (same direction of travel) or on a segment its queue covered,
detects it; raised incidents matching nothing are false alarms. Distances metres (network
metric CRS), times seconds.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from analytics.incidents.corridor import Corridor, pair_stations
from analytics.incidents.detector import METHODS, DetectorParams, IncidentDetector
from analytics.incidents.fusion import same_direction
from analytics.incidents.lifecycle import IncidentTracker, TrackerParams
from analytics.incidents.minute_inputs import WindowRules, build_minute_inputs
from analytics.presence import PRESENCE_COLUMNS
from evaluation.sumo_gridlocks import Gridlock, at_gridlock, gridlocks_of
from roadnet import model as m
from roadnet.model import RoadNetwork
from store.incident_inputs import StationReadings, Traversals

SLOT_MIN = 15


@dataclass(frozen=True)
class EvalConfig:
    """What to simulate and how to score (see the module docstring)."""

    runs: int = 4
    duration_s: int = 3600
    incidents_per_run: int = 4
    penetration: float = 0.05
    history_days: int = 3
    seed: int = 1
    city_seed: int = 7
    date: str = "2026-11-25"
    starts_local: tuple[str, ...] = ("07:00", "16:30", "10:00", "13:30")
    timezone: str = "Asia/Ho_Chi_Minh"
    incident_min_s: int = 600
    incident_max_s: int = 1200
    warmup_s: int = 600
    min_separation_m: float = 3000.0
    availability_lag_s: float = 45.0
    detector_lag_s: float = 60.0  # readings ending this long before the decision are the newest
    probe_window_min: int = 5
    windows_min: tuple[int, ...] = (1, 2, 3, 5)
    stop_s: float = 30.0
    recent_exit_s: float = 180.0  # traversals known this recently join the overdue queues
    match_radius_m: float = 1000.0
    match_after_min: int = 10
    queue_min_m: float = 100.0  # incidents whose queue reached this length form their own column
    covered_share: float = 0.5  # of incidents placed between detector stations
    gps_sigma_m: float = 8.0
    announce_levels: tuple[float, ...] = (0.5, 0.7)  # fused incidents scored as announced at
    cv_min_samples: int = 30  # history traversals of a segment's slot for a learned spread
    # without history days (a cold start) the worker judges probes against a recent
    # baseline: the traversals known that ended in the window_min minutes ending gap_min
    # before the decision (IncidentWorkerParams.baseline_*)
    baseline_window_min: int = 45
    baseline_gap_min: int = 15
    baseline_min_traversals: int = 5
    incident_kind: str = "lane_blockage"  # or "full_closure", "stalled_vehicle", "crawl"
    engine: str = "own"  # or "sumo": SUMO simulates the runs and the history days
    sumo_trips_per_hour: int = 6000  # sumo: trips departing per simulated hour (all traffic)
    work_dir: str | None = None  # keep runs here (reused when present); None: temporary
    history_dir: str | None = None  # keep the history days here (None: with the runs)
    detector: DetectorParams = field(default_factory=DetectorParams)
    tracker: TrackerParams = field(default_factory=TrackerParams)


@dataclass
class RaisedIncident:
    """One incident raised by a method's tracker: when (epoch s) and where it was."""

    incident_id: str
    raised_s: float
    points: list[tuple[float, float]] = field(default_factory=list)
    point_segments: list[int] = field(default_factory=list)
    segments: set[int] = field(default_factory=set)
    methods: set[str] = field(default_factory=set)
    confidence: list[tuple[float, float]] = field(default_factory=list)  # (time s, 0–1)


def announced_at(raised: list[RaisedIncident], level: float) -> list[RaisedIncident]:
    """The incidents as operators see them when only those of confidence ≥ ``level`` are
    announced: raised when their confidence first reached it (never: left out), with the
    places seen up to then and after."""
    out = []
    for r in raised:
        when = next((t for t, c in r.confidence if c >= level), None)
        if when is not None:
            out.append(replace(r, raised_s=when))
    return out


@dataclass
class TrueIncident:
    """A simulated incident: epoch seconds, metric point, segments its queue covered."""

    incident_id: str
    start_s: float
    end_s: float
    x: float
    y: float
    segment: int
    queue_segments: set[int]
    covered: bool = False  # between two paired detector stations
    max_queue_m: float = float("inf")  # longest queue the incident caused (simulator truth)


@dataclass
class MethodScore:
    """One line of the table."""

    method: str
    incidents: int
    detected: int
    false_alarms: int
    hours: float
    decisions: float
    segments: int
    ttd_s: list[float]
    location_error_m: list[float]
    covered: int = 0
    covered_detected: int = 0
    queued: int = 0
    queued_detected: int = 0
    false_alarms_at_gridlocks: int = 0  # of the false alarms (evaluation.sumo_gridlocks)

    @property
    def detection_rate(self) -> float:
        return self.detected / self.incidents if self.incidents else float("nan")

    @property
    def fa_per_hour(self) -> float:
        return self.false_alarms / self.hours if self.hours else float("nan")

    @property
    def fa_per_hour_1000(self) -> float:
        """False alarms per hour scaled to a network of 1,000 segments."""
        return self.fa_per_hour * 1000.0 / self.segments

    @property
    def fa_per_decision(self) -> float:
        return self.false_alarms / self.decisions if self.decisions else float("nan")


def score_method(
    method: str, raised: list[RaisedIncident], truths: list[TrueIncident], *, hours: float,
    decisions: float, segments: int, match_radius_m: float, match_after_s: float,
    bearing: np.ndarray, queue_min_m: float = 100.0,
    gridlocks: Sequence[Gridlock] = (),
) -> MethodScore:  # fmt: skip
    """Match raised incidents to true ones (see the module docstring) and count. A raised
    incident is near a true one when one of its locations is within ``match_radius_m`` on a
    segment heading the same way (``bearing`` per segment, degrees), or on a segment the
    true incident's queue covered. Incidents whose queue reached ``queue_min_m`` are also
    counted apart: one that never held traffic up (the open lanes carried the demand) leaves
    nothing for traffic measurements to find. False alarms at SUMO ``gridlocks`` are counted
    apart too (:mod:`evaluation.sumo_gridlocks`)."""
    matched_raised: set[str] = set()
    ttd, loc = [], []
    covered_detected = queued_detected = 0
    for t in truths:
        best: RaisedIncident | None = None
        for r in raised:
            if not (t.start_s <= r.raised_s <= t.end_s + match_after_s):
                continue
            near = any(
                np.hypot(x - t.x, y - t.y) <= match_radius_m
                and same_direction(bearing[sg], bearing[t.segment], 60.0)
                for (x, y), sg in zip(r.points, r.point_segments, strict=True)
            )
            if near or (r.segments & t.queue_segments):
                matched_raised.add(r.incident_id)
                if best is None or r.raised_s < best.raised_s:
                    best = r
        if best is not None:
            ttd.append(best.raised_s - t.start_s)
            x, y = best.points[0]
            loc.append(float(np.hypot(x - t.x, y - t.y)))
            if t.covered:
                covered_detected += 1
            if t.max_queue_m >= queue_min_m:
                queued_detected += 1
    false = [r for r in raised if r.incident_id not in matched_raised]
    stuck = sum(at_gridlock(r.points, r.raised_s, gridlocks) for r in false)
    return MethodScore(method, len(truths), len(ttd), len(false), hours, decisions, segments,
                       ttd, loc, sum(t.covered for t in truths), covered_detected,
                       sum(t.max_queue_m >= queue_min_m for t in truths), queued_detected,
                       stuck)  # fmt: skip


# -- scenario and simulation ---------------------------------------------------------------
def random_incidents(
    network: RoadNetwork, rng: np.random.Generator, *, n: int, duration_s: int,
    cfg: EvalConfig, covered: set[int] | None = None,
) -> list[dict]:  # fmt: skip
    """Incidents (``cfg.incident_kind``, one lane for a blockage) on segments with ≥ 2 lanes
    per direction and ≥ 200 m; a share ``cfg.covered_share`` of them on ``covered`` segments
    (between detector stations)."""
    seg = network.segments
    ok = np.flatnonzero(
        (seg[m.LANES].to_numpy() >= 2)
        & (seg[m.LENGTH].to_numpy() >= 200.0)
        & seg[m.ROAD_CLASS].isin(["trunk", "primary", "secondary"]).to_numpy()
    )
    mid = network.geom_m
    xy = np.array([(g.interpolate(0.5, normalized=True).x,
                    g.interpolate(0.5, normalized=True).y) for g in mid[ok]])  # fmt: skip
    n_cov = round(n * cfg.covered_share) if covered else 0
    is_cov = np.array([int(i) in (covered or set()) for i in ok], bool)
    chosen: list[int] = []

    def separated(k: int) -> bool:
        return k not in chosen and all(
            np.hypot(*(xy[k] - xy[j])) >= cfg.min_separation_m for j in chosen
        )

    for k in rng.permutation(np.flatnonzero(is_cov)).tolist():
        if len(chosen) >= n_cov:
            break
        if separated(k):
            chosen.append(k)
    for k in rng.permutation(len(ok)).tolist():
        if len(chosen) >= n:
            break
        if separated(k):
            chosen.append(k)
    out = []
    for j, k in enumerate(chosen):
        dur = int(rng.integers(cfg.incident_min_s, cfg.incident_max_s + 1))
        start = int(rng.integers(cfg.warmup_s, max(cfg.warmup_s + 1, duration_s - dur - 300)))
        out.append({"id": f"inc-{j}", "segment_id": str(seg[m.SEGMENT_ID].iloc[ok[k]]),
                    "position": round(float(rng.uniform(0.3, 0.9)), 2), "start_s": start,
                    "duration_s": dur, "kind": cfg.incident_kind,
                    "lanes_blocked": 1})  # fmt: skip
    return out


def station_covered(network: RoadNetwork, corridor: Corridor) -> set[int]:
    """Segments between paired detector stations as the simulator places them (default
    spacing and classes)."""
    from simulators.detectors import place_detectors
    from simulators.scenario import DetectorSpec

    spec = DetectorSpec()
    sites = place_detectors(network, spacing=spec.spacing, rng=np.random.default_rng(0),
                            classes=tuple(spec.classes))  # fmt: skip
    pairs = pair_stations(corridor, np.array([s.segment for s in sites], np.int64),
                          np.full(len(sites), 0.0))  # fmt: skip
    return pairs.between()


def probe_count(network: RoadNetwork, start_local_hour: float, duration_s: int,
                penetration: float, city_seed: int) -> int:  # fmt: skip
    """``penetration`` of the vehicles on the network (density × length, averaged over the
    run's hours) — the size of the probe fleet."""
    from simulators.traffic.model import TrafficModel

    counts = []
    for h in np.linspace(start_local_hour, start_local_hour + duration_s / 3600.0, 3):
        tm = TrafficModel(network, start_local_hour=float(h) % 24, demand_seed=city_seed)
        counts.append((tm.demand * 2.2 / np.maximum(tm.base_speed, 1.0) * tm.length / 1000).sum())
    return max(round(penetration * float(np.mean(counts))), 1)


def _simulate(network: RoadNetwork, network_path: str | None, out: Path, **scenario) -> None:
    from simulators.engines import simulate_to_folder
    from simulators.scenario import Scenario

    simulate_to_folder(Scenario.model_validate({"network": network_path, **scenario}),
                       network, out)  # fmt: skip


@dataclass(frozen=True)
class Stations:
    """The detector stations of a run: ids, segment index and offset (m) of each, and each
    detector's station (loops reported per lane share a ``station_id``)."""

    ids: list[str]
    segment: np.ndarray
    position_m: np.ndarray
    of_detector: dict[str, int]


def read_stations(run_dir: Path, network: RoadNetwork) -> Stations:
    """Stations from a run's ``truth/detectors.csv`` (a ``station_id`` column groups loops)."""
    sites = pd.read_csv(run_dir / "truth" / "detectors.csv", dtype={"station_id": str})
    if "station_id" not in sites:
        sites["station_id"] = sites["detector_id"]
    sites["station_id"] = sites["station_id"].fillna(sites["detector_id"])
    first = sites.drop_duplicates("station_id")
    ids = first["station_id"].tolist()
    index = {sid: k for k, sid in enumerate(ids)}
    return Stations(ids, np.array([network.index_of(s) for s in first["segment_id"]], np.int64),
                    first["position_m"].to_numpy(float),
                    {d: index[s] for d, s in zip(sites["detector_id"], sites["station_id"],
                                                 strict=True)})  # fmt: skip


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def online_probe_results(
    run_dir: Path, network: RoadNetwork, sigma_m: float
) -> tuple[pd.DataFrame, list[tuple]]:  # fmt: skip
    """Traversals and presence records (:mod:`analytics.presence`) of a run's GPS feed through
    the probe worker's online path."""
    from analytics.mapmatch.hmm import MatchParams
    from analytics.workers.probe_worker import ProbeProcessor
    from ingest.validation import FeedValidator

    validator = FeedValidator("gps", max_future_s=1e12, max_age_s=1e12)
    fixes = [validator.validate(line) for line in (run_dir / "gps.jsonl").read_bytes().splitlines()]
    proc = ProbeProcessor(network, MatchParams(sigma_m=max(sigma_m, 5.0)))
    for i in range(0, len(fixes), 5000):
        proc.process(("eval", 0), fixes[i : i + 5000])
    proc.close_all()
    cols = ["segment_id", "minute", "vehicle", "entry", "exit", "speed", "dwell", "type"]
    return pd.DataFrame(proc.rows, columns=[*cols, "known_at"]), proc.presence


def _history_traversals(day: Path, network: RoadNetwork, sigma_m: float) -> pd.DataFrame:
    """A history day's probe traversals through the online path (cached in the day's
    folder)."""
    cached = day / "traversals.pkl"
    if cached.exists():
        return pd.read_pickle(cached)
    tr = online_probe_results(day, network, sigma_m)[0]
    tr.to_pickle(cached)
    return tr


def online_traversals(run_dir: Path, network: RoadNetwork, sigma_m: float) -> pd.DataFrame:
    """Traversals of a run's GPS feed through the probe worker's online path."""
    return online_probe_results(run_dir, network, sigma_m)[0]


@dataclass
class Profiles:
    """Time-of-day profiles by 15-minute slot of the day: station occupancy mean/std and
    segment reference speed (harmonic mean)."""

    occ_mean: dict[int, np.ndarray]
    occ_std: dict[int, np.ndarray]
    speed: dict[int, np.ndarray]
    cv: dict[int, np.ndarray] = field(default_factory=dict)  # learned travel-time spread
    # (D, N) per history day the slowest 5-minute speed from 15 minutes before the slot to
    # 15 minutes after it, as store.speed_profiles.read_day_speeds gives the worker
    day_speed: dict[int, np.ndarray] = field(default_factory=dict)


def travel_time_spreads(
    traversals: list[pd.DataFrame], network: RoadNetwork, tz: ZoneInfo, *, min_samples: int
) -> dict[int, np.ndarray]:
    """Per 15-minute slot and segment, the spread of single vehicles' travel times over
    history days' probe traversals, as the incident worker learns it
    (:func:`store.incident_inputs.travel_time_spread`): (84th − 50th percentile) / median of
    the durations, NaN with fewer than ``min_samples``."""
    if not traversals or not any(len(t) for t in traversals):
        return {}
    tr = pd.concat([t for t in traversals if len(t)])
    local = pd.to_datetime(tr["minute"], utc=True).dt.tz_convert(tz)
    dur = (pd.to_datetime(tr["exit"], utc=True) - pd.to_datetime(tr["entry"], utc=True))
    f = pd.DataFrame({"slot": (local.dt.hour * 60 + local.dt.minute) // SLOT_MIN,
                      "seg": tr["segment_id"].map({s: i for i, s in
                                                   enumerate(network.segments[m.SEGMENT_ID])}),
                      "d": dur.dt.total_seconds()}).dropna()  # fmt: skip
    g = f.groupby(["slot", "seg"])["d"]
    q = pd.DataFrame({"n": g.size(), "p50": g.quantile(0.5), "p84": g.quantile(0.84)})
    q = q[(q["n"] >= min_samples) & (q["p50"] > 0)].reset_index()
    out: dict[int, np.ndarray] = {}
    for slot, part in q.groupby("slot"):
        a = np.full(len(network), np.nan)
        a[part["seg"].to_numpy(np.int64)] = ((part["p84"] - part["p50"]) / part["p50"]).to_numpy()
        out[int(slot)] = a
    return out


def slot_of(ts_s: float, tz: ZoneInfo) -> int:
    """15-minute slot of the local day (0–95) of epoch seconds ``ts_s``."""
    t = datetime.fromtimestamp(ts_s, tz)
    return (t.hour * 60 + t.minute) // SLOT_MIN


def build_profiles(
    days: list[Path], network: RoadNetwork, station_index: dict[str, int], tz: ZoneInfo,
    *, n_stations: int | None = None,
) -> Profiles:  # fmt: skip
    """Profiles from incident-free simulated days (detector readings, true speeds);
    ``station_index`` maps detector ids to stations (``n_stations``, default one each). A
    station's occupancy at a reading time is the mean over its lanes' loops (as
    :func:`store.incident_inputs.occupancy_profile` takes it)."""
    n_st = len(station_index) if n_stations is None else n_stations
    if not days:  # a cold start: no profiles at all
        return Profiles({}, {}, {})
    occ_rows, speed_rows = [], []
    for i, d in enumerate(days):
        for r in _read_jsonl(d / "detectors.jsonl"):
            k = station_index.get(r["detector_id"])
            if k is not None:
                occ_rows.append((slot_of(r["ts"] / 1000.0 - r["interval_s"] / 2.0, tz), k,
                                 i, r["ts"], r["occupancy"]))  # fmt: skip
        sp = pd.read_csv(d / "truth" / "segment_speeds.csv", parse_dates=["minute"])
        speed_rows.append(sp.assign(day=i))
    occ = pd.DataFrame(occ_rows, columns=["slot", "station", "day", "ts", "occ"])
    occ = occ.groupby(["slot", "station", "day", "ts"])["occ"].mean().reset_index()
    g = occ.groupby(["slot", "station"])["occ"].agg(["mean", "std"]).reset_index()
    mean, std = {}, {}
    for slot, part in g.groupby("slot"):
        a, b = np.full(n_st, np.nan), np.full(n_st, np.nan)
        a[part["station"].to_numpy()] = part["mean"].to_numpy()
        b[part["station"].to_numpy()] = part["std"].to_numpy()
        mean[int(slot)], std[int(slot)] = a, b
    sp = pd.concat(speed_rows)
    local = sp["minute"].dt.tz_convert(tz)
    sp["minute_of_day"] = local.dt.hour * 60 + local.dt.minute
    sp["slot"] = sp["minute_of_day"] // SLOT_MIN
    sp["seg"] = sp["segment_id"].map({s: i for i, s in enumerate(network.segments[m.SEGMENT_ID])})
    sp["inv"] = 1.0 / sp["speed_kmh"].clip(lower=0.1)
    h = sp.groupby(["slot", "seg"])["inv"].mean().reset_index()
    speed = {}
    for slot, part in h.groupby("slot"):
        a = np.full(len(network), np.nan)
        a[part["seg"].to_numpy(np.int64)] = 1.0 / part["inv"].to_numpy()
        speed[int(slot)] = a
    return Profiles(mean, std, speed, day_speed=_day_speeds(sp, len(days), len(network)))


def _day_speeds(sp: pd.DataFrame, n_days: int, n_seg: int) -> dict[int, np.ndarray]:
    """Per slot, (D, N) each day's slowest 5-minute harmonic-mean speed from 15 minutes
    before the slot to 15 minutes after it (``sp``: per-minute rows with local ``minute_of_day``,
    ``seg``, ``day``, ``inv``), as :func:`store.speed_profiles.read_day_speeds` gives them."""
    sp = sp.dropna(subset=["seg"]).assign(b=lambda f: f["minute_of_day"] // 5)
    h = sp.groupby(["b", "seg", "day"])["inv"].mean().reset_index()
    per_b = {int(k): g for k, g in h.groupby("b")}
    out = {}
    for slot in sorted({int(b) // 3 for b in per_b}):
        a = np.full((n_days, n_seg), np.nan)
        for b in range(3 * slot - 3, 3 * slot + 6):
            g = per_b.get(b)
            if g is not None:
                day, seg = g["day"].to_numpy(np.int64), g["seg"].to_numpy(np.int64)
                a[day, seg] = np.fmin(a[day, seg], 1.0 / g["inv"].to_numpy())
        out[slot] = a
    return out


# -- replaying one run through the detectors ------------------------------------------------
def recent_baseline_of(known: Traversals, t_s: float, n_seg: int, cfg: EvalConfig
                       ) -> np.ndarray:  # fmt: skip
    """Per segment, the harmonic-mean speed (km/h) of the traversals known by ``t_s`` that
    ended in the ``baseline_window_min`` minutes ending ``baseline_gap_min`` before it (NaN:
    fewer than ``baseline_min_traversals``), as :func:`store.incident_inputs.recent_baseline`
    gives the worker."""
    end = t_s - 60.0 * cfg.baseline_gap_min
    ended = known.available_s - cfg.availability_lag_s  # the traversals' exit times
    w = ((ended > end - 60.0 * cfg.baseline_window_min) & (ended <= end)
         & (known.available_s <= t_s) & (known.speed_kmh > 0))  # fmt: skip
    n = np.bincount(known.segment[w], minlength=n_seg)
    inv = np.bincount(known.segment[w], 1.0 / known.speed_kmh[w], minlength=n_seg)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n >= cfg.baseline_min_traversals, n / inv, np.nan)


def replay_run(
    run_dir: Path, network: RoadNetwork, corridor: Corridor, profiles: Profiles,
    traversals: pd.DataFrame, cfg: EvalConfig, tz: ZoneInfo,
    presence: pd.DataFrame | None = None,
) -> tuple[dict[str, list[RaisedIncident]], int, dict[str, int], set[int]]:  # fmt: skip
    """Every method's raised incidents over one run; also its minutes, decision units and
    the segments between paired stations.
    ``presence`` holds the probe worker's presence records (:data:`PRESENCE_COLUMNS`); at
    each decision time the method sees the records of that minute boundary, as the worker
    does (they exist once the partition's stream passed it, before the traversals' lag)."""
    run = json.loads((run_dir / "truth" / "run.json").read_text(encoding="utf-8"))
    start_s = datetime.fromisoformat(run["start"]).timestamp()
    n_min = int(cfg.duration_s // 60)
    stations = read_stations(run_dir, network)
    st_index = stations.of_detector
    det = IncidentDetector.for_network(network, stations.segment, stations.position_m,
                                       cfg.detector, station_ids=stations.ids,
                                       corridor=corridor)  # fmt: skip
    readings = pd.DataFrame(_read_jsonl(run_dir / "detectors.jsonl"))
    if "speed_kmh" not in readings:
        readings["speed_kmh"] = np.nan
    readings["k"] = ((readings["ts"] / 1000.0 - start_s) // 60 - 1).astype(int)
    readings["st"] = readings["detector_id"].map(st_index)
    by_minute = {k: g for k, g in readings.groupby("k")}
    d_lag = round(cfg.detector_lag_s / 60.0)  # minutes, as the worker reads them
    seg_index = {s: i for i, s in enumerate(network.segments[m.SEGMENT_ID])}
    tr = traversals
    # every traversal of the run, available availability_lag_s after its end (the online
    # matcher's decision lag); build_minute_inputs picks those known at each decision
    known = Traversals(
        tr["segment_id"].map(seg_index).to_numpy(np.int64), tr["segment_id"].to_numpy(object),
        pd.factorize(tr["vehicle"])[0].astype(np.int64), tr["vehicle"].to_numpy(object),
        tr["type"].to_numpy(object), tr["speed"].to_numpy(float), tr["dwell"].to_numpy(float),
        np.array([(b - a).total_seconds() for a, b in zip(tr["entry"], tr["exit"],
                                                          strict=True)], float),
        np.array([e.timestamp() for e in tr["exit"]], float) + cfg.availability_lag_s,
    )  # fmt: skip
    rules = WindowRules(windows_min=cfg.windows_min, stop_s=cfg.stop_s,
                        probe_window_s=cfg.probe_window_min * 60.0,
                        recent_exit_s=cfg.recent_exit_s)  # fmt: skip
    snapshots: dict[float, list[tuple]] = {}
    if presence is not None and len(presence):
        for at, g in presence.groupby("as_of"):
            snapshots[pd.Timestamp(at).timestamp()] = list(
                g[list(PRESENCE_COLUMNS)].itertuples(index=False, name=None)
            )
    trackers = {meth: IncidentTracker(corridor.bearing, cfg.tracker, corridor=corridor)
                for meth in METHODS}
    raised: dict[str, dict[str, RaisedIncident]] = {meth: {} for meth in METHODS}
    n_seg, n_st = len(network), len(stations.ids)
    for k in range(n_min):
        t_dec = start_s + (k + 1) * 60.0
        rd = by_minute.get(k - d_lag)
        readings = StationReadings.none() if rd is None else StationReadings(
            rd["st"].to_numpy(np.int64), rd["volume"].to_numpy(float),
            rd["occupancy"].to_numpy(float), rd["speed_kmh"].to_numpy(float),
        )  # fmt: skip
        slot = slot_of(t_dec - 30.0, tz)
        d_slot = slot_of(t_dec - 30.0 - 60.0 * d_lag, tz)
        reference = profiles.speed.get(slot, np.full(n_seg, np.nan))
        judged = None
        if not profiles.speed:  # a cold start: the worker's recent baseline, as it judges
            reference = recent_baseline_of(known, t_dec, n_seg, cfg)
            judged = np.isfinite(reference)
        x = build_minute_inputs(
            t_dec, n_st, n_seg, readings=readings,
            occ_mean=profiles.occ_mean.get(d_slot, np.full(n_st, np.nan)),
            occ_std=profiles.occ_std.get(d_slot, np.full(n_st, np.nan)),
            reference_speed=reference, probe_judged=judged,
            traversals=known, rules=rules, segment_index=seg_index,
            presence=None if presence is None else snapshots.get(t_dec, []),
            segment_cv=profiles.cv.get(slot), day_speeds=profiles.day_speed.get(slot),
        )  # fmt: skip
        found = det.detect(x)
        when = datetime.fromtimestamp(t_dec, tz)
        for meth in METHODS:
            for a in trackers[meth].update(when, found[meth]):
                r = raised[meth].get(a.track.incident_id)
                if r is None:
                    r = raised[meth][a.track.incident_id] = RaisedIncident(a.track.incident_id,
                                                                          t_dec)  # fmt: skip
                r.points.append((a.track.x, a.track.y))
                r.point_segments.append(a.track.segment)
                r.segments.add(a.track.segment)
                r.methods |= a.track.methods
                r.confidence.append((t_dec, a.track.confidence))
    covered = det.pairs.between()
    return ({meth: list(v.values()) for meth, v in raised.items()}, n_min,
            det.decision_units(), covered)  # fmt: skip


def sumo_trips(cfg: EvalConfig, start_local_hour: float) -> int:
    """Trips of a SUMO run: ``sumo_trips_per_hour`` at the weekday peak, scaled by the
    time-of-day profile at the middle of the run."""
    from simulators.traffic.profile import volume_capacity

    mid = start_local_hour + cfg.duration_s / 7200.0
    share = float(volume_capacity(mid)) / float(volume_capacity(np.arange(0, 24, 0.25)).max())
    return max(round(cfg.sumo_trips_per_hour * cfg.duration_s / 3600.0 * share), 1)


def true_incidents(
    run_dir: Path, network: RoadNetwork, cfg: EvalConfig, *, corridor: Corridor | None = None
) -> list[TrueIncident]:
    """The run's incidents with the segments their queues covered (near the incident). In
    SUMO runs every signal forms queues, so only queued segments upstream of the incident
    along its road count (``corridor``)."""
    run = json.loads((run_dir / "truth" / "run.json").read_text(encoding="utf-8"))
    signalised = run.get("stats", {}).get("engine") == "sumo"
    inc = pd.read_csv(run_dir / "truth" / "incidents.csv")
    sp = pd.read_csv(run_dir / "truth" / "segment_speeds.csv")
    sp["t"] = pd.to_datetime(sp["minute"], utc=True).astype("int64") / 1e9
    q = sp[sp["queue_m"] > 0]
    mids = np.array([(g.interpolate(0.5, normalized=True).x, g.interpolate(0.5, normalized=True).y)
                     for g in network.geom_m])  # fmt: skip
    seg_index = {s: i for i, s in enumerate(network.segments[m.SEGMENT_ID])}
    out = []
    for r in inc.itertuples():
        x, y = network.projector.to_metric(np.array([r.lon]), np.array([r.lat]))
        s0 = pd.Timestamp(r.start).timestamp()
        s1 = pd.Timestamp(r.end).timestamp()
        window = q[(q["t"] >= s0) & (q["t"] <= s1 + cfg.match_after_min * 60)]
        segs = {seg_index[s] for s in window["segment_id"].unique()}
        segs = {s for s in segs if np.hypot(mids[s, 0] - x[0], mids[s, 1] - y[0]) <= 5000.0}
        s_inc = seg_index[r.segment_id]
        if signalised:
            along = corridor or Corridor.for_network(network)
            segs &= set(along.walk_up(s_inc, float(r.max_queue_m) + 300.0))
        segs.add(s_inc)
        out.append(TrueIncident(r.incident_id, s0, s1, float(x[0]), float(y[0]), s_inc, segs,
                                max_queue_m=float(r.max_queue_m)))  # fmt: skip
    return out


def evaluate(
    network: RoadNetwork, cfg: EvalConfig, *, network_path: str | None = None,
    progress: Callable[[str], None] | None = print,
) -> tuple[list[MethodScore], dict]:  # fmt: skip
    """Simulate, detect and score; returns the table rows and a description of the runs."""
    say = progress or (lambda _s: None)
    tz = ZoneInfo(cfg.timezone)
    corridor = Corridor.for_network(network)
    rng = np.random.default_rng(cfg.seed)
    all_raised: dict[str, list[RaisedIncident]] = {meth: [] for meth in METHODS}
    truths: list[TrueIncident] = []
    stuck: list[Gridlock] = []
    minutes, units, meta_runs = 0, {}, []
    t_wall = time.perf_counter()
    with contextlib.ExitStack() as stack:
        tmp = cfg.work_dir or stack.enter_context(tempfile.TemporaryDirectory())
        for run in range(cfg.runs):
            local = cfg.starts_local[run % len(cfg.starts_local)]
            start = datetime.fromisoformat(f"{cfg.date}T{local}:00").replace(tzinfo=tz)
            start = start + timedelta(days=run // len(cfg.starts_local))
            hour = start.hour + start.minute / 60.0
            sumo = cfg.engine == "sumo"
            if sumo:  # all traffic is simulated; the penetration is the probes' share of it
                probes = sumo_trips(cfg, hour)
                engine = {"engine": "sumo", "sumo": {"probe_share": cfg.penetration}}
            else:
                probes = probe_count(network, hour, cfg.duration_s, cfg.penetration,
                                     cfg.city_seed)  # fmt: skip
                engine = {}
            prefix = "sumo-" if sumo else ""
            days = []
            for d in range(cfg.history_days):
                hd = Path(cfg.history_dir or tmp) / f"{prefix}hist-{local}-{d}"
                if not (hd / "truth" / "run.json").exists():  # not (completely) simulated
                    _simulate(network, network_path, hd, start=start - timedelta(days=d + 1),
                              duration_s=cfg.duration_s, vehicles=probes if sumo else 0,
                              seed=10_000 + d, city_seed=cfg.city_seed, timezone=cfg.timezone,
                              **engine)  # fmt: skip
                days.append(hd)
            rd = Path(tmp) / f"{prefix}run-{cfg.seed}-{run}"
            incs = random_incidents(network, rng, n=cfg.incidents_per_run,
                                    duration_s=cfg.duration_s, cfg=cfg,
                                    covered=station_covered(network, corridor))  # fmt: skip
            if not (rd / "truth" / "run.json").exists():
                _simulate(network, network_path, rd, start=start, duration_s=cfg.duration_s,
                          vehicles=probes, seed=cfg.seed * 100 + run, city_seed=cfg.city_seed,
                          timezone=cfg.timezone, incidents=incs,
                          gps={"sigma_m": cfg.gps_sigma_m}, **engine)  # fmt: skip
            stations = read_stations(rd, network)
            profiles = build_profiles(days, network, stations.of_detector, tz,
                                      n_stations=len(stations.ids))  # fmt: skip
            if sumo:  # the history days have probes: their travel-time spreads, as learned live
                profiles.cv = travel_time_spreads(
                    [_history_traversals(hd, network, cfg.gps_sigma_m) for hd in days],
                    network, tz, min_samples=cfg.cv_min_samples)  # fmt: skip
            cached, cached_p = rd / "traversals.pkl", rd / "presence.pkl"
            if cached.exists() and cached_p.exists():
                trav = pd.read_pickle(cached)
                presence = pd.read_pickle(cached_p)
            else:
                trav, rows = online_probe_results(rd, network, cfg.gps_sigma_m)
                presence = pd.DataFrame(rows, columns=list(PRESENCE_COLUMNS))
                trav.to_pickle(cached)
                presence.to_pickle(cached_p)
            raised, n_min, units, covered = replay_run(rd, network, corridor, profiles, trav,
                                                       cfg, tz, presence)  # fmt: skip
            for meth in METHODS:
                all_raised[meth].extend(raised[meth])
            stuck.extend(gridlocks_of(rd, network))
            run_truths = true_incidents(rd, network, cfg, corridor=corridor)
            for t in run_truths:
                t.covered = t.segment in covered
            truths.extend(run_truths)
            minutes += n_min
            if sumo:  # ``probes`` was the trips: all traffic
                stats = json.loads((rd / "truth" / "run.json").read_text("utf-8"))["stats"]
                probes = int(stats["probes"])
            meta_runs.append({"start": start.isoformat(), "probes": probes,
                              "incidents": len(incs), "traversals": len(trav),
                              "stations": len(stations.ids)})  # fmt: skip
            say(
                f"run {run + 1}/{cfg.runs} ({local}, {probes} probes, {len(incs)} incidents, "
                f"{len(trav):,} traversals) done after {time.perf_counter() - t_wall:.0f} s"
            )
    hours = minutes / 60.0
    rows = [score_method(meth, all_raised[meth], truths, hours=hours,
                         decisions=units.get(meth, 0) * minutes, segments=len(network),
                         match_radius_m=cfg.match_radius_m, bearing=corridor.bearing,
                         match_after_s=cfg.match_after_min * 60.0,
                         queue_min_m=cfg.queue_min_m, gridlocks=stuck)
            for meth in METHODS]  # fmt: skip
    rows += [score_method(f"fused@{level:g}", announced_at(all_raised["fused"], level), truths,
                          hours=hours, decisions=units.get("fused", 0) * minutes,
                          segments=len(network), match_radius_m=cfg.match_radius_m,
                          bearing=corridor.bearing, match_after_s=cfg.match_after_min * 60.0,
                          queue_min_m=cfg.queue_min_m, gridlocks=stuck)
             for level in cfg.announce_levels]  # fmt: skip
    meta = {"runs": meta_runs, "hours": hours, "segments": len(network),
            "units": units, "wall_s": time.perf_counter() - t_wall}  # fmt: skip
    return rows, meta


LABELS = {"california8": "California #8", "mcmaster": "McMaster", "snd": "SND (profile)",
          "probe_drop": "probe speed drop", "probe_stopped": "probe stopped cluster",
          "probe_overdue": "probe overdue queue", "fused": "fused (ITMS)"}  # fmt: skip
HEADER = (
    "| method | incidents | detected | detection rate | between stations: detected"
    " | queue ≥ 100 m: detected | false alarms"
    " | FA / h | FA / h per 1k seg | FA / decision | mean TTD min | median TTD min"
    " | mean location error m | FA at SUMO gridlocks |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    " ---: |"
)


def table_row(r: MethodScore) -> str:
    """Markdown row of one method."""

    def f(v: list[float], scale: float = 1.0, fmt: str = ".1f") -> str:
        return format(float(np.mean(v)) / scale, fmt) if v else "–"

    med = format(float(np.median(r.ttd_s)) / 60.0, ".1f") if r.ttd_s else "–"
    label = LABELS.get(r.method, r.method)
    if r.method.startswith("fused@"):
        label = f"fused, announced at confidence ≥ {r.method[6:]}"
    return (f"| {label} | {r.incidents} | {r.detected} |"
            f" {r.detection_rate:.0%} | {r.covered_detected}/{r.covered} |"
            f" {r.queued_detected}/{r.queued} |"
            f" {r.false_alarms} | {r.fa_per_hour:.2f} |"
            f" {r.fa_per_hour_1000:.2f} | {r.fa_per_decision:.1e} | {f(r.ttd_s, 60.0)} | {med} |"
            f" {f(r.location_error_m, 1.0, '.0f')} | {r.false_alarms_at_gridlocks} |")  # fmt: skip
