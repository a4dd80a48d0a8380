"""Incident kinds on both engines: lane-wide blockers, a stalled car, a crawl (issue 17)."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

from sumo_tiny import busy_trunk, tiny_scenario

from roadnet.model import RoadNetwork
from simulators.scenario import IncidentSpec
from simulators.sumo.additionals import write_additionals


def _speeds(run: Path, segment_id: str, hhmm_from: str, hhmm_to: str) -> list[float]:
    rows = csv.DictReader((run / "truth" / "segment_speeds.csv").open(encoding="utf-8"))
    return [float(r["speed_kmh"]) for r in rows
            if r["segment_id"] == segment_id and hhmm_from <= r["minute"][11:16] <= hhmm_to]


def test_incidents_become_blockers_or_a_speed_sign(tmp_path: Path) -> None:
    incs = [IncidentSpec(id="a", segment_id="s", start_s=60, duration_s=300, kind="lane_blockage",
                         lanes_blocked=2),
            IncidentSpec(id="b", segment_id="s", start_s=60, duration_s=300,
                         kind="stalled_vehicle"),
            IncidentSpec(id="c", segment_id="s", start_s=90, duration_s=300, kind="crawl",
                         crawl_kmh=9.0)]  # fmt: skip
    path = tmp_path / "add.xml"
    write_additionals(path, sites=[], segment_ids=["s"], lane_length_m={"s_0": 200.0,
                      "s_1": 200.0, "s_2": 200.0}, lanes_of={"s": 3}, interval_s=60,
                      incidents=incs, incident_pos_m={"a": 100.0, "b": 100.0, "c": 100.0},
                      lane_width_m=3.2)  # fmt: skip
    root = ET.parse(path).getroot()
    types = {t.get("id"): t for t in root.iter("vType")}
    vehicles = {v.get("id"): v.get("type") for v in root.iter("vehicle")}
    # a lane blockage stands as wide as the lane on the two right lanes; a stalled car is a car
    assert vehicles == {"a#0": "blocker", "a#1": "blocker", "b#0": "stalled"}
    assert float(types["blocker"].get("width", "0")) >= 3.0
    assert float(types["stalled"].get("width", "0")) < 2.0
    (vss,) = root.iter("variableSpeedSign")
    assert vss.get("lanes") == "s_0 s_1 s_2"
    steps = [(s.get("time"), s.get("speed")) for s in vss.iter("step")]
    assert steps == [("90", "2.50"), ("390", "-1")]


def test_a_crawl_holds_the_segment_to_its_speed(tiny_grid: RoadNetwork, tmp_path: Path) -> None:
    from simulators.sumo.engine import simulate_sumo

    seg = busy_trunk(tiny_grid)
    inc = IncidentSpec(id="c", segment_id=seg, start_s=60, duration_s=300, kind="crawl",
                       crawl_kmh=8.0)  # fmt: skip
    simulate_sumo(tiny_scenario(incidents=[inc]), tiny_grid, tmp_path, progress=None)
    during = _speeds(tmp_path, seg, "00:32", "00:35")
    assert during and max(during) < 8.0 * 1.4  # the fastest drivers' speed factor
    (row,) = csv.DictReader((tmp_path / "truth" / "incidents.csv").open(encoding="utf-8"))
    assert row["kind"] == "crawl"


def test_the_own_simulator_crawls_too(tiny_grid: RoadNetwork, tmp_path: Path) -> None:
    from simulators.simulation import Simulation
    from simulators.sinks import FileSink
    from simulators.truth import TruthWriter

    seg = busy_trunk(tiny_grid)
    inc = IncidentSpec(id="c", segment_id=seg, start_s=60, duration_s=300, kind="crawl",
                       crawl_kmh=8.0)  # fmt: skip
    sc = tiny_scenario(incidents=[inc], vehicles=100)
    Simulation(sc, tiny_grid).run(FileSink(tmp_path), TruthWriter(tmp_path / "truth"),
                                  progress=None)  # fmt: skip
    during = _speeds(tmp_path, seg, "00:32", "00:35")
    assert during and max(during) <= 8.0
    assert max(_speeds(tmp_path, seg, "00:30", "00:30")) > 8.0
