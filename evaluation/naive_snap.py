"""A baseline for map matching: each fix snapped on its own to the nearest segment running
its way (within 50 m, heading within 60°), as a simple tracker would. A matcher that does
not beat it has no business being an HMM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from roadnet import model as m
from roadnet.model import RoadNetwork
from roadnet.placement import place_points


def naive_snap_accuracy(run_dir: str | Path, network: RoadNetwork) -> float:
    """Share of a run's delivered fixes (duplicates once) snapped to their true segment."""
    run_dir = Path(run_dir)
    fixes = pd.read_json(run_dir / "gps.jsonl", lines=True, dtype=False)
    fixes = fixes.drop_duplicates(["vehicle_id", "ts"])
    truth = pd.read_csv(run_dir / "truth" / "fixes.csv.gz", usecols=["vehicle_id", "ts",
                                                                     "segment_id"])  # fmt: skip
    heading = fixes["heading_deg"].to_numpy(float) if "heading_deg" in fixes else np.full(
        len(fixes), np.nan)  # fmt: skip
    placed = place_points(network, fixes["lon"].to_numpy(float), fixes["lat"].to_numpy(float),
                          heading, max_distance_m=50.0, max_bearing_diff_deg=60.0)  # fmt: skip
    ids = network.segments[m.SEGMENT_ID].to_numpy()
    fixes["snapped"] = np.where(placed.segment >= 0, ids[np.maximum(placed.segment, 0)], None)
    joined = fixes.merge(truth, on=["vehicle_id", "ts"])
    return float((joined["snapped"] == joined["segment_id"]).mean())
