"""A SUMO run begins in traffic: the warm-up fills the network and leaves no output."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from pathlib import Path

from sumo_tiny import START, tiny_scenario

from roadnet.model import RoadNetwork
from simulators.sumo.engine import simulate_sumo, warmup_s


def _fixes_per_minute(run: Path) -> list[int]:
    with gzip.open(run / "truth" / "fixes.csv.gz", "rt", encoding="utf-8") as fh:
        c = Counter(int(r["ts"]) // 60_000 for r in csv.DictReader(fh))
    return [c[k] for k in sorted(c)]


def test_the_warmup_fills_the_network_before_the_start(
    tiny_grid: RoadNetwork, tmp_path: Path
) -> None:
    cold, warm = tmp_path / "cold", tmp_path / "warm"
    simulate_sumo(tiny_scenario(sumo={"probe_share": 0.5, "warmup_s": 0}), tiny_grid, cold,
                  progress=None)  # fmt: skip
    simulate_sumo(tiny_scenario(sumo={"probe_share": 0.5, "warmup_s": 300}), tiny_grid, warm,
                  progress=None)  # fmt: skip
    c, w = _fixes_per_minute(cold), _fixes_per_minute(warm)
    assert c[0] < 0.4 * c[-1]  # empty streets at first without a warm-up
    assert w[0] > 0.6 * w[-1]  # in traffic from the first minute with one
    t0 = int(START.timestamp() * 1000)
    for line in (warm / "gps.jsonl").read_text(encoding="utf-8").splitlines():
        assert json.loads(line)["ts"] >= t0
    first = json.loads((warm / "detectors.jsonl").read_text(encoding="utf-8").split("\n", 1)[0])
    assert first["ts"] == t0 + 60_000  # the first interval is the run's first minute
    trav = list(csv.DictReader((warm / "truth" / "traversals.csv").open(encoding="utf-8")))
    assert trav and min(int(r["entry_ts"]) for r in trav) >= t0
    speeds = list(csv.DictReader((warm / "truth" / "segment_speeds.csv").open(encoding="utf-8")))
    assert min(r["minute"] for r in speeds) == "2026-11-25T00:30:00Z"
    stats = json.loads((warm / "truth" / "run.json").read_text(encoding="utf-8"))["stats"]
    assert stats["trips"] == 400 and stats["warmup_s"] == 300 and stats["warmup_trips"] > 200


def test_the_warmup_is_whole_detector_intervals() -> None:
    sc = tiny_scenario(sumo={"warmup_s": 100}, detectors={"interval_s": 90})
    assert warmup_s(sc) == 180
    assert warmup_s(tiny_scenario(sumo={"warmup_s": 0})) == 0
