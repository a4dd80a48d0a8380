"""Detector-sourced segment speeds against truth: what loops alone say about a segment.

Per segment and minute, the loops' readings (interval midpoint in the minute) are combined
as the state builder does: volumes summed over a station's lanes, speed the volume-weighted
harmonic mean of the lanes' (time-mean) speeds; compared with the true space-mean speed of
the segment-minute. Time-mean speeds at one point exceed the space-mean speed over a
segment with signals, so a positive bias is expected. Speeds km/h.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class SourceScore:
    """Scored segment-minutes, their share of the segment-minutes with true traffic on the
    instrumented segments (coverage), MAE and bias (km/h)."""

    segment_minutes: int
    coverage: float
    mae_kmh: float
    bias_kmh: float


def detector_minute_speeds(run_dir: str | Path) -> pd.DataFrame:
    """Per segment and minute the loops' speed (see the module docstring): ``segment_id``,
    ``minute`` (UTC), ``kmh``; empty when the run has no loop readings with speeds."""
    run_dir = Path(run_dir)
    path = run_dir / "detectors.jsonl"
    empty = pd.DataFrame(columns=["segment_id", "minute", "kmh"])
    if not path.exists() or path.stat().st_size == 0:
        return empty
    r = pd.read_json(path, lines=True, dtype=False)
    sites = pd.read_csv(run_dir / "truth" / "detectors.csv", dtype=str)
    r = r.merge(sites[["detector_id", "segment_id"]], on="detector_id")
    r = r[r["speed_kmh"].notna() & (r["speed_kmh"] > 0) & (r["volume"] > 0)] if (
        "speed_kmh" in r) else r.iloc[0:0]  # fmt: skip
    if r.empty:
        return empty
    mid = pd.to_datetime(r["ts"] - r["interval_s"] * 500, unit="ms", utc=True)
    r = r.assign(minute=mid.dt.floor("min"), inv=r["volume"] / r["speed_kmh"])
    est = r.groupby(["segment_id", "minute"]).agg(vol=("volume", "sum"), inv=("inv", "sum"))
    est["kmh"] = est["vol"] / est["inv"]
    return est.reset_index()[["segment_id", "minute", "kmh"]]


def detector_speed_score(run_dir: str | Path) -> SourceScore:
    """Score the loops of a run folder (see the module docstring)."""
    run_dir = Path(run_dir)
    est = detector_minute_speeds(run_dir)
    if est.empty:
        return SourceScore(0, 0.0, float("nan"), float("nan"))
    sites = pd.read_csv(run_dir / "truth" / "detectors.csv", dtype=str)
    truth = pd.read_csv(run_dir / "truth" / "segment_speeds.csv", parse_dates=["minute"])
    truth = truth[truth["segment_id"].isin(set(sites["segment_id"]))]
    j = est.merge(truth, on=["segment_id", "minute"])
    if j.empty:
        return SourceScore(0, 0.0, float("nan"), float("nan"))
    err = j["kmh"] - j["speed_kmh"]
    return SourceScore(len(j), len(j) / max(len(truth), 1), float(err.abs().mean()),
                       float(err.mean()))  # fmt: skip


def probe_coverage(scored: int, run_dir: str | Path) -> float:
    """Scored probe segment-minutes as a share of all segment-minutes with true traffic."""
    n = len(pd.read_csv(Path(run_dir) / "truth" / "segment_speeds.csv", usecols=["minute"]))
    return scored / max(n, 1)

