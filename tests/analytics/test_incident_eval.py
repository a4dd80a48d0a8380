"""Scoring of raised incidents against true ones; the synthetic grid and same-city days."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.incident_eval import RaisedIncident, TrueIncident, score_method
from roadnet import load_network
from simulators.synthetic_grid import write_grid
from simulators.traffic.model import TrafficModel

BEARING = np.array([90.0, 90.0, 270.0, 0.0])


def test_score_matches_by_time_place_direction_and_queue() -> None:
    truths = [
        TrueIncident("a", 1000.0, 1600.0, 0.0, 0.0, segment=0, queue_segments={0, 1}),
        TrueIncident(
            "b", 1000.0, 1600.0, 5000.0, 0.0, segment=1, queue_segments={1}, covered=True,
            max_queue_m=40.0,  # the open lanes nearly carried the demand: no real queue
        ),
    ]
    raised = [
        RaisedIncident("r1", 1180.0, [(300.0, 0.0)], [0], {0}),  # a, 3 min, 300 m
        RaisedIncident("r2", 1300.0, [(100.0, 0.0)], [0], {0}),  # a again (duplicate, not FA)
        RaisedIncident("r3", 900.0, [(0.0, 0.0)], [0], {0}),  # before a started: false alarm
        RaisedIncident("r4", 1100.0, [(5100.0, 0.0)], [2], {2}),  # b's place, other direction
        RaisedIncident("r5", 2300.0, [(5000.0, 0.0)], [1], {1}),  # b, > 10 min after its end
    ]
    s = score_method("m", raised, truths, hours=2.0, decisions=1000.0, segments=500,
                     match_radius_m=1000.0, match_after_s=600.0, bearing=BEARING)  # fmt: skip
    assert (s.incidents, s.detected, s.false_alarms) == (2, 1, 3)
    assert s.ttd_s == [180.0] and s.location_error_m == [300.0]
    assert s.detection_rate == 0.5 and s.fa_per_hour == 1.5 and s.fa_per_hour_1000 == 3.0
    assert s.fa_per_decision == pytest.approx(0.003)
    assert (s.covered, s.covered_detected) == (1, 0)
    assert (s.queued, s.queued_detected) == (1, 1)  # a's queue counts (unknown length: ∞)
    s = score_method("m", raised, truths, hours=2.0, decisions=1000.0, segments=500,
                     match_radius_m=1000.0, match_after_s=600.0, bearing=BEARING,
                     queue_min_m=30.0)  # fmt: skip
    assert (s.queued, s.queued_detected) == (2, 1)
    # far away but on a segment the queue covered: detected
    far = RaisedIncident("r6", 1200.0, [(4000.0, 0.0)], [1], {1})
    s = score_method("m", [far], truths[:1], hours=1.0, decisions=1.0, segments=1000,
                     match_radius_m=1000.0, match_after_s=600.0, bearing=BEARING)  # fmt: skip
    assert s.detected == 1 and s.location_error_m == [4000.0]


def test_grid_size_and_same_city_on_other_days(tmp_path) -> None:
    net = load_network(write_grid(tmp_path / "g.geojson", rows=16, cols=16))
    assert len(net) == 960
    assert set(net.segments["road_class"]) == {"trunk", "primary", "secondary", "tertiary"}
    a = TrafficModel(net, start_local_hour=8.0, seed=1, demand_seed=7)
    b = TrafficModel(net, start_local_hour=8.0, seed=2, demand_seed=7)
    c = TrafficModel(net, start_local_hour=8.0, seed=2)
    assert np.array_equal(a.demand_factor, b.demand_factor)  # same city
    assert not np.array_equal(a.base_speed, b.base_speed)  # another day
    assert not np.array_equal(b.demand_factor, c.demand_factor)


@pytest.mark.slow
def test_the_evaluation_runs_on_sumo_with_per_lane_loops_as_stations(tmp_path) -> None:
    pytest.importorskip("sumo")
    from evaluation.incident_eval import EvalConfig, evaluate, read_stations

    path = write_grid(tmp_path / "grid.geojson", rows=5, cols=5, spacing_m=350.0)
    network = load_network(path)
    cfg = EvalConfig(runs=1, history_days=1, duration_s=900, incidents_per_run=1, warmup_s=120,
                     incident_min_s=300, incident_max_s=400, engine="sumo",
                     sumo_trips_per_hour=3000, work_dir=str(tmp_path / "work"))  # fmt: skip
    rows, meta = evaluate(network, cfg, network_path=str(path), progress=None)
    (run,) = meta["runs"]
    stations = read_stations(tmp_path / "work" / "sumo-run-1-0", network)
    loops = (tmp_path / "work" / "sumo-run-1-0" / "truth" / "detectors.csv").read_text()
    # the loops of a site are one station, placed where the site is
    assert run["stations"] == len(stations.ids) < loops.count("__l")
    assert all(k < len(stations.ids) for k in stations.of_detector.values())
    assert {r.method for r in rows} >= {"fused", "california8"}
    assert all(r.incidents == 1 for r in rows)
    assert meta["hours"] == pytest.approx(0.25)


def test_profiles_are_of_station_occupancy_lanes_averaged(tmp_path) -> None:
    """Per-lane loops of one station: the profile's spread is of the station's occupancy (the
    lanes' mean per reading time), as the store's occupancy profile takes it."""
    from zoneinfo import ZoneInfo

    from evaluation.incident_eval import build_profiles

    net = load_network(write_grid(tmp_path / "g.geojson", rows=3, cols=3))
    seg = str(net.segments["segment_id"].iloc[0])
    days = []
    for day, lanes in enumerate([(0.1, 0.2, 0.3), (0.2, 0.3, 0.4)]):
        d = tmp_path / f"day{day}"
        (d / "truth").mkdir(parents=True)
        ts = 1_700_000_060_000  # the same clock time on both simulated days
        (d / "detectors.jsonl").write_text("".join(
            f'{{"detector_id": "S1__l{k}", "ts": {ts}, "interval_s": 60, "occupancy": {occ}}}\n'
            for k, occ in enumerate(lanes)))  # fmt: skip
        (d / "truth" / "segment_speeds.csv").write_text(
            f"minute,segment_id,speed_kmh\n2023-11-14T22:13:00Z,{seg},30\n")
        days.append(d)
    prof = build_profiles(days, net, {f"S1__l{k}": 0 for k in range(3)}, ZoneInfo("UTC"),
                          n_stations=1)  # fmt: skip
    (slot,) = prof.occ_mean
    assert prof.occ_mean[slot].tolist() == pytest.approx([0.25])
    assert prof.occ_std[slot].tolist() == pytest.approx([0.1 / 2**0.5])


def test_day_speeds_are_each_days_slowest_five_minutes_around_the_slot(tmp_path) -> None:
    """Per history day, the slowest 5-minute harmonic mean from 15 minutes before the slot
    to 15 minutes after it, as the store reads them for the worker."""
    from zoneinfo import ZoneInfo

    from evaluation.incident_eval import build_profiles

    net = load_network(write_grid(tmp_path / "g.geojson", rows=3, cols=3))
    seg = str(net.segments["segment_id"].iloc[0])
    days = []
    # day 0: slow at 06:50 (inside slot 28's window, 06:45–07:30), day 1: slow at 07:40 (out)
    for day, slow_at in enumerate(["06:50", "07:40"]):
        d = tmp_path / f"day{day}"
        (d / "truth").mkdir(parents=True)
        rows = [f"2026-11-25T{hh}:00Z,{seg},{10 if hh == slow_at else 40}"
                for hh in ("06:50", "07:00", "07:10", "07:20", "07:40")]
        rows.append(f"2026-11-25T06:51:00Z,{seg},40")  # the 5 minutes: 2 / (1/10 + 1/40) = 16
        (d / "truth" / "segment_speeds.csv").write_text(
            "minute,segment_id,speed_kmh\n" + "\n".join(rows) + "\n")
        (d / "detectors.jsonl").write_text("")
        days.append(d)
    prof = build_profiles(days, net, {}, ZoneInfo("UTC"), n_stations=0)
    got = prof.day_speed[28][:, 0]
    assert got.tolist() == pytest.approx([16.0, 40.0])
    assert np.isnan(prof.day_speed[28][:, 1]).all()


def test_travel_time_spreads_are_learned_per_slot_as_the_worker_learns_them(tmp_path) -> None:
    from zoneinfo import ZoneInfo

    import pandas as pd

    from evaluation.incident_eval import travel_time_spreads

    net = load_network(write_grid(tmp_path / "g.geojson", rows=2, cols=2))
    sid = net.segments["segment_id"].iloc[0]
    t0 = pd.Timestamp("2026-11-25T00:00:00Z")  # 07:00 in Hai Phong: slot 28
    secs = np.arange(1, 41, dtype=float) * 10.0  # 40 traversals of 10…400 s
    rows = pd.DataFrame({"segment_id": sid, "minute": t0,
                         "entry": t0, "exit": t0 + pd.to_timedelta(secs, unit="s")})
    got = travel_time_spreads([rows], net, ZoneInfo("Asia/Ho_Chi_Minh"), min_samples=30)
    p50, p84 = np.quantile(secs, 0.5), np.quantile(secs, 0.84)
    assert set(got) == {28}
    assert got[28][0] == pytest.approx((p84 - p50) / p50)
    assert np.isnan(got[28][1:]).all()  # no traversals: the methods' prior
    few = travel_time_spreads([rows.iloc[:29]], net, ZoneInfo("Asia/Ho_Chi_Minh"),
                              min_samples=30)  # fmt: skip
    assert few == {}


def test_a_cold_start_is_judged_against_the_recent_baseline_as_the_worker_does() -> None:
    from evaluation.incident_eval import EvalConfig, recent_baseline_of
    from store.incident_inputs import Traversals

    cfg = EvalConfig(baseline_window_min=45, baseline_gap_min=15, baseline_min_traversals=2)
    lag = cfg.availability_lag_s
    t = 10_000.0
    # segment 0: three traversals ending 20–50 min before t (20 and 30 km/h); one ending
    # 10 min before (inside the gap) and one 70 min before (outside the window) do not count
    ended = np.array([t - 1200, t - 1800, t - 3000, t - 600, t - 4200])
    speed = np.array([20.0, 30.0, 30.0, 5.0, 5.0])
    n = len(ended)
    known = Traversals(np.zeros(n, np.int64), np.array(["a"] * n, object), np.arange(n),
                       np.array(["v"] * n, object), np.array(["car"] * n, object), speed,
                       np.zeros(n), np.full(n, 30.0), ended + lag)  # fmt: skip
    base = recent_baseline_of(known, t, 2, cfg)
    assert base[0] == pytest.approx(3 / (1 / 20 + 1 / 30 + 1 / 30))
    assert np.isnan(base[1])  # no traversals: not judged
