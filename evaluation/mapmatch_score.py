"""Map-matching accuracy against simulator ground truth (``truth/fixes.csv.gz``,
``truth/traversals.csv``).

Three measures: the share of fixes put on their true segment, the median distance
between a fix's matched position and its true position (metres), and the route-length
accuracy of Newson & Krumm: 1 − (length of true route segments missed + length
of matched segments not on the true route) / true route length, summed over
vehicles, where a vehicle's true route is every segment it drove between its
first and last fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.mapmatch.hmm import MapMatcher
from roadnet import model as m


@dataclass
class MatchScore:
    """Accuracy and speed of one matching run."""

    fixes: int
    fix_accuracy: float
    route_accuracy: float
    fixes_per_s: float
    median_error_m: float = float("nan")  # matched position to true position, matched fixes


def score_run(run_dir: str | Path, matcher: MapMatcher) -> MatchScore:
    """Match every vehicle of a simulator run folder and score it against its truth."""
    import time

    run_dir = Path(run_dir)
    net = matcher.network
    ids = net.segments[m.SEGMENT_ID].to_numpy()
    length = dict(zip(ids, net.segments[m.LENGTH], strict=True))
    fixes = pd.read_json(run_dir / "gps.jsonl", lines=True, dtype=False)
    fixes = fixes.drop_duplicates(["vehicle_id", "ts"]).sort_values(["vehicle_id", "ts"])
    if "speed_kmh" not in fixes:
        fixes["speed_kmh"] = np.nan
    truth = pd.read_csv(run_dir / "truth" / "fixes.csv.gz")
    trav = pd.read_csv(run_dir / "truth" / "traversals.csv")
    x, y = net.projector.to_metric(fixes["lon"].to_numpy(), fixes["lat"].to_numpy())
    fixes["x"], fixes["y"] = x, y
    matched_seg, matched_x, matched_y, routes = [], [], [], {}
    start = time.perf_counter()
    for vid, g in fixes.groupby("vehicle_id", sort=False):
        res = matcher.match_track(
            g["ts"].to_numpy() / 1000, g["x"].to_numpy(), g["y"].to_numpy(),
            g["heading_deg"].to_numpy(float), g["speed_kmh"].to_numpy(float),
        )  # fmt: skip
        matched_seg.append(res.segment)
        matched_x.append(res.x)
        matched_y.append(res.y)
        segs = set(ids[res.segment[res.segment >= 0]])
        for path in res.paths.values():
            segs.update(ids[path])
        routes[vid] = segs
    elapsed = time.perf_counter() - start
    seg = np.concatenate(matched_seg)
    fixes["matched"] = np.where(seg >= 0, ids[np.maximum(seg, 0)], None)
    joined = fixes.merge(truth[["vehicle_id", "ts", "segment_id"]], on=["vehicle_id", "ts"])
    fix_acc = float((joined["matched"] == joined["segment_id"]).mean())
    fixes["mx"], fixes["my"] = np.concatenate(matched_x), np.concatenate(matched_y)
    at = fixes[["vehicle_id", "ts", "mx", "my"]].merge(
        truth[["vehicle_id", "ts", "lon", "lat"]], on=["vehicle_id", "ts"])  # fmt: skip
    tx, ty = net.projector.to_metric(at["lon"].to_numpy(), at["lat"].to_numpy())
    error = np.hypot(at["mx"].to_numpy() - tx, at["my"].to_numpy() - ty)
    median_error = float(np.nanmedian(error)) if np.isfinite(error).any() else float("nan")
    span = truth.groupby("vehicle_id")["ts"].agg(["min", "max"])
    trav = trav.join(span, on="vehicle_id")
    trav = trav[(trav["entry_ts"] >= trav["min"]) & (trav["exit_ts"] <= trav["max"])]
    true_routes = truth.groupby("vehicle_id")["segment_id"].agg(set)
    for vid, segs in trav.groupby("vehicle_id")["segment_id"]:
        true_routes[vid] = true_routes[vid] | set(segs)
    total = wrong = 0.0
    for vid, true in true_routes.items():
        got = routes.get(vid, set())
        total += sum(length[s] for s in true)
        wrong += sum(length[s] for s in true - got) + sum(length[s] for s in got - true)
    return MatchScore(len(fixes), fix_acc, 1 - wrong / total, len(fixes) / elapsed,
                      median_error)  # fmt: skip
