"""HMM map matching on tiny hand-built networks and on simulated tracks with known truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.mapmatch.hmm import MapMatcher, MatchParams
from roadnet import load_network
from roadnet.model import RoadNetwork


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> RoadNetwork:
    """Two-way east-west road (3 blocks) crossed by a two-way north-south road in its middle."""
    lat0, lon0, d = 20.85, 106.68, 0.004  # ~ 416 m of longitude, 444 m of latitude
    ew = [[lon0 + k * d, lat0] for k in range(4)]
    ns = [[lon0 + d, lat0 - d], [lon0 + d, lat0], [lon0 + d, lat0 + d]]
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "ew", "road_class": "primary"},
         "geometry": {"type": "LineString", "coordinates": ew}},
        {"type": "Feature", "properties": {"id": "ns", "road_class": "secondary"},
         "geometry": {"type": "LineString", "coordinates": ns}},
    ]}  # fmt: skip
    path = tmp_path_factory.mktemp("net") / "grid.geojson"
    path.write_text(json.dumps(fc))
    return load_network(path)


def _drive(net: RoadNetwork, lonlat: list[tuple[float, float]], n: int, sigma: float, seed: int):
    """Fixes every 10 s along a polyline with Gaussian noise; returns t, x, y, heading, speed."""
    rng = np.random.default_rng(seed)
    x, y = net.projector.to_metric(*np.array(lonlat).T)
    seg_len = np.hypot(np.diff(x), np.diff(y))
    cum = np.concatenate(([0], np.cumsum(seg_len)))
    s = np.linspace(5, cum[-1] - 5, n)
    px, py = np.interp(s, cum, x), np.interp(s, cum, y)
    dx, dy = np.gradient(px), np.gradient(py)
    heading = np.mod(np.degrees(np.arctan2(dx, dy)), 360)
    speed = np.full(n, (s[1] - s[0]) / 10 * 3.6)
    return (np.arange(n) * 10.0, px + rng.normal(0, sigma, n), py + rng.normal(0, sigma, n),
            heading, speed)  # fmt: skip


def test_direction_on_a_two_way_road(grid: RoadNetwork) -> None:
    mm = MapMatcher(grid, MatchParams(sigma_m=8))
    ids = grid.segments["segment_id"].to_numpy()
    east = _drive(grid, [(106.68, 20.85), (106.692, 20.85)], 12, 6, 1)
    west = _drive(grid, [(106.692, 20.85), (106.68, 20.85)], 12, 6, 2)
    assert all(s.endswith(":f") for s in ids[mm.match_track(*east).segment])
    assert all(s.endswith(":r") for s in ids[mm.match_track(*west).segment])


def test_turn_at_the_junction_and_path_between_fixes(grid: RoadNetwork) -> None:
    mm = MapMatcher(grid, MatchParams(sigma_m=8))
    ids = grid.segments["segment_id"].to_numpy()
    t, x, y, h, v = _drive(grid, [(106.68, 20.85), (106.684, 20.85), (106.684, 20.854)], 10, 5, 3)
    res = mm.match_track(t, x, y, h, v)
    assert ids[res.segment[0]] == "ew:0:f" and ids[res.segment[-1]] == "ns:1:f"
    assert (res.chain == 0).all()
    # the fix pair around the turn is joined by a path through the junction
    route = [ids[s] for i in sorted(res.paths) for s in res.paths[i]]
    assert "ew:0:f" in route and "ns:1:f" in route
    assert not any(s.endswith(":r") for s in route)


def test_outlier_is_left_unmatched_and_gap_starts_a_new_chain(grid: RoadNetwork) -> None:
    mm = MapMatcher(grid, MatchParams(sigma_m=8, max_gap_s=120))
    t, x, y, h, v = _drive(grid, [(106.68, 20.85), (106.692, 20.85)], 12, 4, 4)
    y = y.copy()
    y[5] += 400.0  # urban-canyon jump, far from every road
    t = t.copy()
    t[8:] += 600.0  # ten-minute gap before fix 8
    res = mm.match_track(t, x, y, h, v)
    assert res.segment[5] == -1
    assert (res.segment[np.arange(12) != 5] >= 0).all()
    assert set(res.chain[:8]) - {-1} == {0} and set(res.chain[8:]) == {1}
    assert 8 not in res.paths  # no path across a break


def test_accuracy_on_simulated_tracks(tmp_path: Path) -> None:
    from simulators.scenario import Scenario
    from simulators.simulation import Simulation
    from simulators.sinks import FileSink
    from simulators.truth import TruthWriter

    net = load_network()
    clean = {"outlier_p": 0, "duplicate_p": 0, "out_of_order_p": 0, "late_p": 0, "drop_p": 0,
             "outage_p": 0, "sigma_m": 10}  # fmt: skip
    fleet = {t: {"interval_s": 10} for t in ("motorbike", "car", "taxi")}
    sc = Scenario(start="2026-11-25T10:00:00+07:00", duration_s=300, vehicles=150, seed=9,
                  gps=clean, fleet=fleet)  # fmt: skip
    Simulation(sc, net).run(FileSink(tmp_path), TruthWriter(tmp_path / "truth"), progress=None)
    fixes = pd.read_json(tmp_path / "gps.jsonl", lines=True, dtype=False)
    fixes = fixes.sort_values(["vehicle_id", "ts"])
    truth = pd.read_csv(tmp_path / "truth" / "fixes.csv.gz")
    mm = MapMatcher(net, MatchParams(sigma_m=10))
    x, y = net.projector.to_metric(fixes["lon"].to_numpy(), fixes["lat"].to_numpy())
    fixes["x"], fixes["y"] = x, y
    out = []
    for _, g in fixes.groupby("vehicle_id", sort=False):
        res = mm.match_track(g["ts"].to_numpy() / 1000, g["x"].to_numpy(), g["y"].to_numpy(),
                             g["heading_deg"].to_numpy(), g["speed_kmh"].to_numpy())  # fmt: skip
        out.append(res.segment)
    fixes["matched"] = net.segments["segment_id"].to_numpy()[np.concatenate(out)]
    joined = fixes.merge(truth, on=["vehicle_id", "ts"])
    assert len(joined) == len(fixes)
    assert (joined["matched"] == joined["segment_id"]).mean() > 0.93


def _queue_at_the_junction(net: RoadNetwork, seed: int, sigma: float = 10.0):
    """A vehicle standing 4 m before the crossing on ``ew:0:f`` for 5 minutes (fixes every
    10 s, Gaussian noise ``sigma``; heading east, speed 0), then driving on along ``ew:1:f``."""
    rng = np.random.default_rng(seed)
    (x0, x1), (y0, _) = net.projector.to_metric(np.array([106.68, 106.684]),
                                                np.array([20.85, 20.85]))  # fmt: skip
    stand = np.full(30, x1 - 4.0)
    drive = x1 + np.arange(1, 9) * 40.0
    x = np.concatenate([x0 + np.arange(1, 10) * 40.0, stand, drive])
    n = len(x)
    speed = np.where((x == x1 - 4.0), 0.0, 14.4)
    return (np.arange(n) * 10.0, x + rng.normal(0, sigma, n), y0 + rng.normal(0, sigma, n),
            np.full(n, 90.0), speed, slice(9, 39))  # fmt: skip


def test_a_vehicle_queued_at_the_junction_stays_on_its_segment(grid: RoadNetwork) -> None:
    # noise puts some of its fixes past the crossing: a step back is scored, not refused
    ids = grid.segments["segment_id"].to_numpy()
    right = refused = total = 0
    for seed in range(8):
        t, x, y, h, v, standing = _queue_at_the_junction(grid, seed)
        res = MapMatcher(grid).match_track(t, x, y, h, v)
        right += int((ids[res.segment[standing]] == "ew:0:f").sum())
        old = MapMatcher(grid, MatchParams(max_backward_m=0.0)).match_track(t, x, y, h, v)
        refused += int((ids[old.segment[standing]] == "ew:0:f").sum())
        total += standing.stop - standing.start
        assert ids[res.segment[-1]] == "ew:1:f"
    assert right / total >= 0.8
    assert refused / total < right / total - 0.3


def test_backward_steps_cost_by_their_size(grid: RoadNetwork) -> None:
    mm = MapMatcher(grid)
    seg = int(np.flatnonzero(grid.segments["segment_id"].to_numpy() == "ew:0:f")[0])
    nxt = int(np.flatnonzero(grid.segments["segment_id"].to_numpy() == "ew:1:f")[0])
    a = np.array([seg, seg, seg, seg])
    b = np.array([seg, seg, seg, nxt])
    off_a = np.full(4, 300.0)
    off_b = np.array([290.0, 270.0, 200.0, 5.0])  # 10, 30 m back, beyond the limit; ahead
    back = mm.backward_m(a, off_a, b, off_b)
    assert back[:2].tolist() == [10.0, 30.0] and np.isnan(back[2:]).all()
    log_t = mm.transition_log(a, off_a, b, off_b, np.zeros(4), np.zeros(4), np.full(4, 10.0),
                              False)  # fmt: skip
    assert log_t[0] > log_t[1] > log_t[2]  # the limit: only a drive round the block remains
    # a moving vehicle does not go back 30 m (on its road's reverse twin every step is one)
    moving = mm.transition_log(a, off_a, b, off_b, np.zeros(4), np.zeros(4),
                               np.full(4, 10.0), True)  # fmt: skip
    assert moving[0] == log_t[0] and moving[1] < log_t[1] - 5.0  # only round the block
    # seen back across the junction onto the segment it was on: as far back as it is
    assert mm.backward_m(np.array([nxt]), np.array([5.0]), np.array([seg]),
                         np.array([400.0]))[0] == pytest.approx(5.0 + grid.segments[
                             "length_m"].iloc[seg] - 400.0)  # fmt: skip
    assert mm.path_between(nxt, 5.0, seg, 400.0) == [seg]


def test_the_heading_counts_at_any_speed(grid: RoadNetwork) -> None:
    mm = MapMatcher(grid)
    against = np.full(1, 270.0)  # a westbound candidate of an eastbound vehicle
    standing = mm.emission_of(np.zeros(1), against, np.float64(90.0), np.float64(0.0))
    unknown = mm.emission_of(np.zeros(1), against, np.float64(90.0), np.float64(np.nan))
    assert standing[0] == unknown[0] == pytest.approx(-2 * mm.p.heading_kappa)
    assert mm.emission_of(np.zeros(1), against, np.float64(np.nan), np.float64(0.0))[0] == 0.0
    slow = MapMatcher(grid, MatchParams(min_speed_for_heading_kmh=8.0))
    assert slow.emission_of(np.zeros(1), against, np.float64(90.0), np.float64(3.0))[0] == 0.0
