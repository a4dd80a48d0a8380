"""SUMO gridlocks: teleports read from the log, placed and timed, and false alarms there
counted apart."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from evaluation.incident_eval import RaisedIncident, TrueIncident, score_method
from evaluation.sumo_gridlocks import Gridlock, at_gridlock, gridlocks_of
from roadnet import load_network
from simulators.sumo.outputs import read_teleports
from simulators.synthetic_grid import write_grid

LOG = """Loading net-file from 'network.net.xml' ... done (12ms).
Warning: Teleporting vehicle 'ca010393'; waited too long (jam), lane=':n82_6_0', time=3181.00.
Warning: Teleporting vehicle 'mo1'; waited too long (yield), lane='a:0:f_1', time=1200.50.
Warning: Vehicle 'x' performs emergency braking on lane 'b_0'.
Warning: Teleporting vehicle 'mo2'; waited too long (wrong lane), lane='a:0:f_0', time=900.00.
"""


def test_teleports_are_read_with_their_lane_junction_edge_and_time(tmp_path) -> None:
    log = tmp_path / "sumo.log"
    log.write_text(LOG)
    tp = read_teleports(log)
    assert tp["vehicle"].tolist() == ["ca010393", "mo1", "mo2"]
    assert tp["reason"].tolist() == ["jam", "yield", "wrong lane"]
    assert tp["junction"].tolist() == ["n82", "", ""]
    assert tp["edge"].tolist() == ["", "a:0:f", "a:0:f"]
    assert tp["time_s"].tolist() == [3181.0, 1200.5, 900.0]
    assert read_teleports(tmp_path / "none.log").empty


def test_gridlocks_are_placed_and_timed_and_their_false_alarms_counted_apart(tmp_path) -> None:
    net = load_network(write_grid(tmp_path / "g.geojson", rows=3, cols=3))
    sid = str(net.segments["segment_id"].iloc[0])
    rd = tmp_path / "run"
    (rd / "truth").mkdir(parents=True)
    (rd / "sumo").mkdir()
    start = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    (rd / "truth" / "run.json").write_text(json.dumps({
        "start": start.isoformat(), "stats": {"engine": "sumo"},
        "scenario": {"sumo": {"warmup_s": 600, "time_to_teleport_s": 600}}}))  # fmt: skip
    (rd / "sumo" / "sumo.log").write_text(
        f"Warning: Teleporting vehicle 'v'; waited too long (jam), lane=':J1_0_0', time=1800.00.\n"
        f"Warning: Teleporting vehicle 'w'; waited too long (jam), lane='{sid}_0', time=2400.00.\n")
    (rd / "sumo" / "network.net.xml").write_text(
        '<net><junction id="J1" x="100.0" y="200.0"/></net>')
    g = gridlocks_of(rd, net)
    t0 = start.timestamp()
    end = net.geom_m[0].coords[-1]
    assert g == [Gridlock(100.0, 200.0, t0 + 600.0, t0 + 1200.0),
                 Gridlock(end[0], end[1], t0 + 1200.0, t0 + 1800.0)]  # fmt: skip
    assert at_gridlock([(400.0, 200.0)], t0 + 900.0, g)  # 300 m from J1 while stuck
    assert not at_gridlock([(900.0, 200.0)], t0 + 900.0, g)  # too far
    assert not at_gridlock([(100.0, 200.0)], t0 + 300.0, g)  # before it locked up
    # in the table: both are false alarms, one of them at a gridlock
    raised = [RaisedIncident("a", t0 + 900.0, points=[(120.0, 190.0)], point_segments=[0]),
              RaisedIncident("b", t0 + 900.0, points=[(5e4, 5e4)], point_segments=[0])]
    truth = TrueIncident("t", t0 + 3000.0, t0 + 3600.0, 0.0, 0.0, 0, {0})
    s = score_method("fused", raised, [truth], hours=1.0, decisions=60.0, segments=24,
                     match_radius_m=500.0, match_after_s=600.0,
                     bearing=net.segments["segment_id"].map(lambda _: 0.0).to_numpy(float),
                     gridlocks=g)  # fmt: skip
    assert (s.false_alarms, s.false_alarms_at_gridlocks) == (2, 1)
    # other engines have none
    (rd / "truth" / "run.json").write_text(json.dumps({"start": start.isoformat(),
                                                       "stats": {}}))  # fmt: skip
    assert gridlocks_of(rd, net) == []
