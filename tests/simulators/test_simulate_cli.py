"""``itms simulate`` with the bundled scenarios, writing files (no Kafka)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from itms.cli import main

SCENARIOS = sorted(
    (Path(__file__).resolve().parents[2] / "simulators" / "scenarios").glob("*.yaml")
)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_bundled_scenario_runs_and_writes_truth(scenario: Path, tmp_path: Path) -> None:
    code = main(
        ["simulate", "--scenario", str(scenario), "--out-dir", str(tmp_path),
         "--duration", "240", "--vehicles", "200"]
    )  # fmt: skip
    assert code == 0
    gps = pd.read_json(tmp_path / "gps.jsonl", lines=True, dtype=False)
    sumo = "engine: sumo" in scenario.read_text(encoding="utf-8")
    # the own engine simulates the probe fleet; SUMO all traffic, a share of it probes
    assert gps["vehicle_id"].nunique() > (5 if sumo else 150)
    assert (gps["source"] == ("sumo" if sumo else "sim")).all()
    speeds = pd.read_csv(tmp_path / "truth" / "segment_speeds.csv")
    assert speeds["minute"].nunique() == 4
    assert (speeds["speed_kmh"] > 0).all()
    for name in ("incidents.csv", "traversals.csv", "fixes.csv.gz", "detectors.csv", "run.json"):
        assert (tmp_path / "truth" / name).stat().st_size > 0


def test_sumo_engine_needs_an_output_folder_and_no_pacing(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="give --out-dir"):
        main(["simulate", "--engine", "sumo", "--duration", "60"])
    with pytest.raises(SystemExit, match="no --speedup"):
        main(["simulate", "--engine", "sumo", "--duration", "60", "--speedup", "2",
              "--out-dir", str(tmp_path)])  # fmt: skip
