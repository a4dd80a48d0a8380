"""Segment speed accuracy against simulator truth (``truth/segment_speeds.csv``).

Fixes are matched per vehicle, traversals extracted, and per segment and
minute (by traversal midpoint) the space-mean speed is the harmonic mean of
traversal speeds. Errors are taken on segment-minutes with at least
``min_vehicles`` distinct vehicles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.mapmatch.hmm import MapMatcher
from analytics.traversals import plausible_max_kmh, traversals
from roadnet import model as m


@dataclass
class SpeedScore:
    """Speed errors (km/h) over scored segment-minutes."""

    segment_minutes: int
    mae_kmh: float
    rmse_kmh: float
    bias_kmh: float


def estimate_minute_speeds(run_dir: Path, matcher: MapMatcher) -> pd.DataFrame:
    """Per segment and minute: harmonic mean traversal speed, traversals, distinct vehicles."""
    net = matcher.network
    length = net.segments[m.LENGTH].to_numpy(float)
    max_kmh = plausible_max_kmh(net.segments[m.FREE_FLOW].to_numpy(float))
    fixes = pd.read_json(run_dir / "gps.jsonl", lines=True, dtype=False)
    fixes = fixes.drop_duplicates(["vehicle_id", "ts"]).sort_values(["vehicle_id", "ts"])
    if "speed_kmh" not in fixes:
        fixes["speed_kmh"] = np.nan
    x, y = net.projector.to_metric(fixes["lon"].to_numpy(), fixes["lat"].to_numpy())
    fixes["x"], fixes["y"] = x, y
    rows = []
    for vid, g in fixes.groupby("vehicle_id", sort=False):
        t = g["ts"].to_numpy() / 1000
        res = matcher.match_track(
            t, g["x"].to_numpy(), g["y"].to_numpy(),
            g["heading_deg"].to_numpy(float), g["speed_kmh"].to_numpy(float),
        )  # fmt: skip
        tr = traversals(res, t, length, is_bus=g["vehicle_type"].iloc[0] == "bus",
                        reverse=net.reverse)  # fmt: skip
        for s, a, b, v in zip(tr.segment, tr.entry_s, tr.exit_s, tr.speed_kmh, strict=True):
            if v <= max_kmh[s]:  # faster: a matching artifact, dropped as the worker does
                rows.append((int(s), int((a + b) / 2 // 60) * 60, vid, v))
    tr = pd.DataFrame(rows, columns=["seg", "minute_s", "vehicle", "speed"])
    agg = tr.groupby(["seg", "minute_s"]).agg(
        n=("speed", "size"), vehicles=("vehicle", "nunique"),
        hm=("speed", lambda s: len(s) / (1.0 / s).sum()),
    ).reset_index()  # fmt: skip
    agg["segment_id"] = net.segments[m.SEGMENT_ID].to_numpy()[agg["seg"]]
    agg["minute"] = pd.to_datetime(agg["minute_s"], unit="s", utc=True)
    return agg


def score_speeds(run_dir: str | Path, matcher: MapMatcher, *, min_vehicles: int = 3) -> SpeedScore:
    """MAE/RMSE of estimated minute speeds against the truth."""
    run_dir = Path(run_dir)
    est = estimate_minute_speeds(run_dir, matcher)
    truth = pd.read_csv(run_dir / "truth" / "segment_speeds.csv", parse_dates=["minute"])
    j = est[est["vehicles"] >= min_vehicles].merge(truth, on=["segment_id", "minute"])
    err = j["hm"] - j["speed_kmh"]
    return SpeedScore(len(j), float(err.abs().mean()), float(np.sqrt((err**2).mean())),
                      float(err.mean()))  # fmt: skip
