"""End-to-end evaluation of the probe path against simulator ground truth.

For one simulated run: map-matching accuracy of the offline matcher
(:func:`evaluation.mapmatch_score.score_run`) and, through the
worker's own online path (:class:`analytics.workers.probe_worker.ProbeProcessor`,
fixes fed in delivery order with the channel's duplicates, reordering and late
fixes), segment-minute speeds as the state builder forms them (harmonic mean of
traversal speeds by traversal-midpoint minute) scored against the true
space-mean speeds on segment-minutes with at least ``min_vehicles`` distinct
vehicles; and what the state builder would publish, per source (probe, detector, fused,
smoothed, all: :mod:`evaluation.source_speed_score`). Speeds km/h.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.mapmatch.hmm import MapMatcher, MatchParams
from analytics.workers.probe_worker import ProbeProcessor
from evaluation.detector_speed_score import SourceScore, detector_speed_score
from evaluation.mapmatch_score import score_run
from evaluation.naive_snap import naive_snap_accuracy
from evaluation.source_speed_score import (
    SOURCES,
    cell_speeds,
    learned_factors,
    published_speeds,
    source_scores,
)
from ingest.validation import FeedValidator
from roadnet.model import RoadNetwork
from simulators.engines import simulate_to_folder
from simulators.scenario import Scenario

VEHICLE_TYPES = ("motorbike", "car", "taxi", "bus", "truck")


@dataclass
class EvalRow:
    """One line of the evaluation table."""

    vehicles: int
    interval_s: int
    sigma_m: float
    fixes: int
    fix_accuracy: float
    route_accuracy: float
    segment_minutes: int
    mae_kmh: float
    rmse_kmh: float
    bias_kmh: float
    online_fixes_per_s: float
    naive_accuracy: float = float("nan")  # nearest segment running the fix's way
    median_error_m: float = float("nan")  # matched position to true position
    coverage: float = float("nan")  # scored / all segment-minutes with true traffic
    detectors: SourceScore | None = None
    sources: dict[str, SourceScore] | None = None  # published speeds by source


def online_minute_speeds(run_dir: Path, network: RoadNetwork, sigma_m: float) -> tuple:
    """Segment-minute speeds from the worker's online path; returns (traversal frame,
    fixes/s, cell frame: Edie's space-mean speed per segment-minute as the store reads it,
    :func:`evaluation.source_speed_score.cell_speeds`)."""
    validator = FeedValidator("gps", max_future_s=1e12, max_age_s=1e12)
    fixes = []
    for line in (run_dir / "gps.jsonl").read_bytes().splitlines():
        fixes.append(validator.validate(line))
    proc = ProbeProcessor(network, MatchParams(sigma_m=max(sigma_m, 5.0)))
    start = time.perf_counter()
    for i in range(0, len(fixes), 5000):
        proc.process(("eval", 0), fixes[i : i + 5000])
    proc.close_all()
    rate = len(fixes) / (time.perf_counter() - start)
    cols = ["segment_id", "minute", "vehicle", "entry", "exit", "speed", "dwell", "type"]
    tr = pd.DataFrame(proc.rows, columns=[*cols, "known_at"])
    agg = tr.groupby(["segment_id", "minute"]).agg(
        vehicles=("vehicle", "nunique"), hm=("speed", lambda s: len(s) / (1.0 / s).sum())
    )
    return agg.reset_index(), rate, cell_speeds(proc.cells)


def evaluate_run(
    network: RoadNetwork, *, vehicles: int, interval_s: int, sigma_m: float, duration_s: int,
    seed: int = 4, min_vehicles: int = 3, start: str = "2026-11-25T07:30:00+07:00",
    engine: str = "own", probe_share: float = 0.1, history: bool = True,
) -> EvalRow:  # fmt: skip
    """Simulate one run and score it (see module docstring). ``vehicles`` is the probe
    fleet; with ``engine="sumo"`` SUMO simulates ``vehicles / probe_share`` trips, of which
    that share report, and the truth comes from all of them. With ``history`` a second run
    (another day: seed + 1000) is simulated first and the loops' speed factors learned on it
    calibrate the published speeds (paired minutes of one vehicle or more, five per factor:
    one short day has few of them)."""
    sc = Scenario.model_validate({
        "start": start, "duration_s": duration_s, "seed": seed, "gps": {"sigma_m": sigma_m},
        "vehicles": round(vehicles / probe_share) if engine == "sumo" else vehicles,
        "engine": engine, "fleet": {t: {"interval_s": interval_s} for t in VEHICLE_TYPES},
        "sumo": {"probe_share": probe_share},
    })  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        factors = None
        if history:
            past = Path(tmp) / "history"
            simulate_to_folder(sc.model_copy(update={"seed": seed + 1000}), network, past)
            factors = learned_factors(past, network, online_minute_speeds(past, network,
                                                                          sigma_m)[0],
                                      min_vehicles=1, min_pairs=5)  # fmt: skip
        out = Path(tmp) / "run"
        simulate_to_folder(sc, network, out)
        mm = score_run(out, MapMatcher(network, MatchParams(sigma_m=max(sigma_m, 5.0))))
        naive = naive_snap_accuracy(out, network)
        est, rate, cells = online_minute_speeds(out, network, sigma_m)
        truth = pd.read_csv(out / "truth" / "segment_speeds.csv", parse_dates=["minute"])
        detectors = detector_speed_score(out)
        sources = source_scores(out, published_speeds(out, network, est, cells=cells,
                                                      detector_factor=factors))  # fmt: skip
    est["minute"] = pd.to_datetime(est["minute"], utc=True)
    j = est[est["vehicles"] >= min_vehicles].merge(truth, on=["segment_id", "minute"])
    err = j["hm"] - j["speed_kmh"]
    return EvalRow(vehicles, interval_s, sigma_m, mm.fixes, mm.fix_accuracy, mm.route_accuracy,
                   len(j), float(err.abs().mean()), float(np.sqrt((err**2).mean())),
                   float(err.mean()), rate, naive, mm.median_error_m,
                   len(j) / max(len(truth), 1), detectors, sources)  # fmt: skip


HEADER = (
    "| probe vehicles | interval s | GPS sigma m | fixes | fix accuracy | naive snap"
    " | median position error m"
    " | route-length accuracy | scored segment-minutes | coverage | speed MAE km/h | RMSE km/h"
    " | bias km/h | loops: segment-minutes, coverage, MAE, bias km/h | online fixes/s |\n"
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    " ---: | ---: |"
)


def table_row(r: EvalRow) -> str:
    """Markdown row of one evaluation."""
    d = r.detectors
    loops = "–" if d is None or not d.segment_minutes else (
        f"{d.segment_minutes:,}, {d.coverage:.0%}, {d.mae_kmh:.1f}, {d.bias_kmh:+.1f}")  # fmt: skip
    return (f"| {r.vehicles:,} | {r.interval_s} | {r.sigma_m:g} | {r.fixes:,} |"
            f" {r.fix_accuracy:.3f} | {r.naive_accuracy:.3f} | {r.median_error_m:.1f} |"
            f" {r.route_accuracy:.3f} |"
            f" {r.segment_minutes:,} | {r.coverage:.1%} | {r.mae_kmh:.2f} | {r.rmse_kmh:.2f} |"
            f" {r.bias_kmh:+.2f} | {loops} | {r.online_fixes_per_s:,.0f} |")  # fmt: skip


SOURCES_HEADER = (
    "| probe vehicles | interval s | GPS sigma m | source | segment-minutes | coverage"
    " | MAE km/h | bias km/h |\n| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |"
)


def source_rows(r: EvalRow) -> list[str]:
    """Markdown rows of the published speeds by source of one evaluation."""
    out = []
    for source in SOURCES:
        s = (r.sources or {}).get(source)
        if s is None:
            continue
        out.append(f"| {r.vehicles:,} | {r.interval_s} | {r.sigma_m:g} | {source} |"
                   f" {s.segment_minutes:,} | {s.coverage:.1%} | {s.mae_kmh:.2f} |"
                   f" {s.bias_kmh:+.2f} |")  # fmt: skip
    fill, measured = (r.sources or {}).get("smoothed"), (r.sources or {}).get("measured")
    if fill is not None and measured is not None and measured.mae_kmh > 0:
        out.append(f"| {r.vehicles:,} | {r.interval_s} | {r.sigma_m:g} | smoothed ÷ measured"
                   f" (target ≤ 1.5) | | | {fill.mae_kmh / measured.mae_kmh:.2f}× | |")  # fmt: skip
    return out
