"""The output folder of a SUMO run: feeds the ingest accepts, in delivery order, and truth
that agrees with itself (issue 17)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sumo_tiny import START, tiny_scenario

from ingest.validation import FeedValidator
from roadnet.model import RoadNetwork

DURATION_S = 420


@pytest.fixture(scope="module")
def run(tiny_grid: RoadNetwork, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from simulators.sumo.engine import simulate_sumo

    out = tmp_path_factory.mktemp("sumo-feeds")
    simulate_sumo(tiny_scenario(duration_s=DURATION_S, seed=9), tiny_grid, out, progress=None)
    return out


def test_every_message_passes_the_ingest_validation(run: Path) -> None:
    end_s = START.timestamp() + DURATION_S
    for kind in ("gps", "detectors"):
        validator = FeedValidator(kind, strict=True, clock=lambda: end_s)  # type: ignore[arg-type]
        lines = (run / f"{kind}.jsonl").read_bytes().splitlines()
        assert len(lines) > 50
        for line in lines:
            validator.validate(line)  # raises InvalidMessage on any breach


def test_gps_comes_in_delivery_order_and_every_fix_has_its_truth(run: Path) -> None:
    gps = pd.read_json(run / "gps.jsonl", lines=True, dtype={"vehicle_id": str})
    back = gps.groupby("vehicle_id")["ts"].diff() < 0  # a vehicle's fix older than its last
    assert 0 < back.mean() < 0.1  # mostly in time order, a few out of order or late
    assert np.abs(gps["ts"].diff().to_numpy()[1:]).max() > 60_000  # the late ones
    with gzip.open(run / "truth" / "fixes.csv.gz", "rt", encoding="utf-8") as fh:
        truth = {(r["vehicle_id"], int(r["ts"])) for r in csv.DictReader(fh)}
    assert set(zip(gps["vehicle_id"], gps["ts"], strict=True)) <= truth
    assert gps.duplicated(["vehicle_id", "ts"]).any()  # the channel duplicates some
    det = [json.loads(x) for x in (run / "detectors.jsonl").read_text("utf-8").splitlines()]
    assert [d["ts"] for d in det] == sorted(d["ts"] for d in det)


def test_truth_speeds_agree_with_the_probe_traversals_per_segment(run: Path) -> None:
    speeds = pd.read_csv(run / "truth" / "segment_speeds.csv")
    trav = pd.read_csv(run / "truth" / "traversals.csv")
    # the run's space-mean speed per segment (distance / time, every vehicle) against the
    # probes' (harmonic mean of their passes: length / time)
    speeds["hours"] = 1.0 / speeds["speed_kmh"]
    truth = 1.0 / speeds.groupby("segment_id")["hours"].mean()
    probes = trav.groupby("segment_id")["speed_kmh"].agg(
        n="size", hm=lambda s: len(s) / (1.0 / s).sum())
    both = probes[probes["n"] >= 5].join(truth.rename("truth"), how="inner")
    assert len(both) >= 10
    ratio = both["hm"] / both["truth"]
    assert 0.75 < ratio.median() < 1.25
