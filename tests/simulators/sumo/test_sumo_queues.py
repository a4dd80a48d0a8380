"""True queues of a SUMO run: measured jams per segment and minute, and the queue an
incident formed along its road."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from sumo_tiny import busy_trunk, tiny_scenario

from roadnet.model import RoadNetwork
from simulators.scenario import IncidentSpec
from simulators.sumo.truth import _upstream_same_road, incident_queue_m


def _chain(grid: RoadNetwork, first: str, n: int) -> list[str]:
    """``first`` and the ``n - 1`` segments before it along the same road."""
    ids = grid.segments["segment_id"].astype(str).tolist()
    ups = _upstream_same_road(grid)
    out = [ids.index(first)]
    while len(out) < n:
        out.append(ups[out[-1]][0])
    return [ids[i] for i in out]


def test_an_incident_queue_runs_up_its_road_while_segments_are_full(
    tiny_grid: RoadNetwork,
) -> None:
    inc_seg = busy_trunk(tiny_grid)
    a, b, c = _chain(tiny_grid, inc_seg, 3)
    length = dict(zip(tiny_grid.segments["segment_id"], tiny_grid.segments["length_m"],
                      strict=True))  # fmt: skip
    inc = IncidentSpec(id="i", segment_id=a, position=0.5, start_s=60, duration_s=120)
    behind = pd.DataFrame({"begin": [60.0, 120.0], "max_queue_m": [40.0, 0.5 * length[a]]})
    queues = pd.DataFrame({"begin": [60.0, 60.0, 120.0, 120.0], "id": [b, c, b, c],
                           "queue_m": 0.0,
                           "max_queue_m": [70.0, 30.0, length[b], 30.0]})  # fmt: skip
    got = incident_queue_m(inc, queues, tiny_grid, incident_jam=behind)
    # minute 1: 40 m behind it, not full, the 70 m jam before it is another queue;
    # minute 2: full behind it, the whole of b, and c's 30 m
    assert got == pytest.approx(0.5 * length[a] + length[b] + 30.0)
    assert incident_queue_m(inc, queues.iloc[:0], tiny_grid, incident_jam=behind.iloc[:1]) == 40


def test_a_full_closure_queue_is_measured(tiny_grid: RoadNetwork, tmp_path: Path) -> None:
    from simulators.sumo.engine import simulate_sumo

    seg = busy_trunk(tiny_grid)
    inc = IncidentSpec(id="c", segment_id=seg, position=0.8, start_s=60, duration_s=300,
                       kind="full_closure")  # fmt: skip
    simulate_sumo(tiny_scenario(vehicles=700, incidents=[inc]), tiny_grid, tmp_path,
                  progress=None)  # fmt: skip
    rows = [r for r in csv.DictReader((tmp_path / "truth" / "segment_speeds.csv").open(
        encoding="utf-8")) if r["segment_id"] == seg]  # fmt: skip
    queue = [float(r["queue_m"]) for r in rows]
    speed = [float(r["speed_kmh"]) for r in rows]
    assert max(queue[3:6]) > 50.0 > queue[0]  # it grows behind the closure
    assert min(speed) >= 1.0  # standing minutes floor at 1 km/h
    (row,) = csv.DictReader((tmp_path / "truth" / "incidents.csv").open(encoding="utf-8"))
    assert float(row["max_queue_m"]) >= max(queue)
    assert (tmp_path / "sumo" / "jams.xml").exists()
