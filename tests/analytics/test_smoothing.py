"""Adaptive spatio-temporal smoothing of segment speeds along the road graph."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.smoothing import CorridorSmoother, SmoothingParams
from roadnet import load_network

ROWS = SmoothingParams().window_min + 1
FREE_FLOW = np.full(5, 50.0)


def line(n: int = 5) -> CorridorSmoother:
    """n one-way 200 m segments in a row: 0 → 1 → … → n−1."""
    return CorridorSmoother(np.arange(n), np.arange(1, n + 1), np.full(n, 200.0))


def history(values: dict[int, float], n: int = 5, rows: range = range(ROWS)) -> tuple:
    """Speed/weight arrays with one vehicle per minute on the given segments and rows."""
    speed = np.full((ROWS, n), np.nan)
    for seg, v in values.items():
        speed[list(rows), seg] = v
    return speed, np.where(np.isfinite(speed), 1.0, 0.0)


def test_segment_with_data_keeps_its_own_value_when_neighbours_agree() -> None:
    est, w = line().estimate(*history({1: 29.0, 2: 30.0, 3: 31.0}), FREE_FLOW)
    assert est[2] == pytest.approx(30.0, abs=0.5)
    assert w[2] > 1.0
    # its own data dominates a disagreeing neighbour
    est, _ = line().estimate(*history({1: 40.0, 2: 30.0}), FREE_FLOW)
    assert 30.0 < est[2] < 35.0


def test_gap_between_congested_or_free_neighbours_takes_their_regime() -> None:
    slow, w = line().estimate(*history({1: 10.0, 3: 10.0}), FREE_FLOW)
    fast, _ = line().estimate(*history({1: 45.0, 3: 45.0}), FREE_FLOW)
    assert slow[2] < 20.0 and fast[2] > 35.0
    assert w[2] >= SmoothingParams().min_weight


def test_congestion_information_comes_from_downstream() -> None:
    slow_down, _ = line().estimate(*history({1: 40.0, 3: 10.0}), FREE_FLOW)
    slow_up, _ = line().estimate(*history({1: 10.0, 3: 40.0}), FREE_FLOW)
    harmonic = 2.0 / (1 / 40.0 + 1 / 10.0)  # 16 km/h: the symmetric answer
    assert slow_down[2] < harmonic - 1.0 < slow_up[2]


def test_no_data_nearby_gives_nan_and_low_weight() -> None:
    est, w = line().estimate(*history({0: 30.0}), FREE_FLOW)
    assert np.isnan(est[2:]).all() and (w[2:] == 0).all()
    assert est[1] == pytest.approx(30.0)
    # a single old observation of the neighbour is not enough evidence
    est, w = line().estimate(*history({1: 30.0}, rows=range(1)), FREE_FLOW)
    assert np.isnan(est[2]) and 0 < w[2] < SmoothingParams().min_weight


def test_older_minutes_weigh_less() -> None:
    _, w_now = line().estimate(*history({2: 30.0}, rows=range(ROWS - 1, ROWS)), FREE_FLOW)
    _, w_old = line().estimate(*history({2: 30.0}, rows=range(ROWS - 3, ROWS - 2)), FREE_FLOW)
    assert w_now[2] == pytest.approx(1.0) and w_old[2] < 0.5 * w_now[2]
    speed, weight = history({2: 20.0}, rows=range(ROWS - 3, ROWS - 2))
    speed[-1, 2], weight[-1, 2] = 40.0, 1.0
    est, _ = line().estimate(speed, weight, FREE_FLOW)
    assert 35.0 < est[2] < 40.0


def test_u_turn_reverse_segment_is_not_a_source() -> None:
    # 0: a→b, 1: b→a (its reverse), 2: b→c (a true successor)
    sm = CorridorSmoother(np.array([0, 1, 1]), np.array([1, 0, 2]), np.full(3, 200.0))
    pairs = set(zip(sm.pair_target.tolist(), sm.pair_source.tolist(), strict=True))
    assert (0, 1) not in pairs and (1, 0) not in pairs and (0, 2) in pairs
    speed, weight = history({1: 20.0}, n=3)
    est, w = sm.estimate(speed, weight, np.full(3, 50.0))
    assert np.isnan(est[0]) and w[0] == 0.0
    speed, weight = history({2: 20.0}, n=3)
    est, _ = sm.estimate(speed, weight, np.full(3, 50.0))
    assert est[0] == pytest.approx(20.0)


def test_pairs_match_brute_force_on_a_random_graph() -> None:
    rng = np.random.default_rng(1)
    fr, to = rng.integers(0, 40, 150), rng.integers(0, 40, 150)
    length = rng.uniform(50.0, 500.0, 150)
    sm = CorridorSmoother(fr, to, length)
    got = set(zip(sm.pair_target.tolist(), sm.pair_source.tolist(), sm.pair_x_m.tolist(),
                  strict=True))  # fmt: skip
    want = {(i, i, 0.0) for i in range(150)}
    for i in range(150):
        for j in range(150):
            if i != j and fr[j] == to[i] and to[j] != fr[i]:
                want |= {(i, j, (length[i] + length[j]) / 2), (j, i, -(length[i] + length[j]) / 2)}
    assert got == want and len(sm.pair_target) == len(want)


def test_for_network_and_large_graphs() -> None:
    net = load_network()
    sm = CorridorSmoother.for_network(net)
    n = len(net)
    assert sm.n == n == len(net.segments)
    rng = np.random.default_rng(0)
    speed = np.where(rng.random((ROWS, n)) < 0.5, rng.uniform(5.0, 60.0, (ROWS, n)), np.nan)
    est, w = sm.estimate(speed, np.where(np.isfinite(speed), 1.0, 0.0), np.full(n, 50.0))
    assert est.shape == w.shape == (n,)
    assert np.isfinite(est).mean() > 0.9 and np.nanmin(est) >= 5.0 and np.nanmax(est) <= 60.0
    with pytest.raises(ValueError):
        sm.estimate(speed[1:], speed[1:], np.full(n, 50.0))

    big = 10_000
    sm = CorridorSmoother(rng.integers(0, 3000, big), rng.integers(0, 3000, big),
                          rng.uniform(20.0, 800.0, big))  # fmt: skip
    speed = np.where(rng.random((ROWS, big)) < 0.3, rng.uniform(5.0, 60.0, (ROWS, big)), np.nan)
    est, w = sm.estimate(speed, np.isfinite(speed).astype(float), np.full(big, 50.0))
    assert est.shape == w.shape == (big,) and np.isfinite(est).mean() > 0.5


def test_neighbours_of_another_road_class_lend_their_share_of_free_flow() -> None:
    # a 30 km/h street (segment 2) between 80 km/h road segments running at 72 km/h (90 %)
    free_flow = np.array([80.0, 80.0, 30.0, 80.0, 80.0])
    est, _ = line().estimate(*history({1: 72.0, 3: 72.0}), free_flow)
    assert est[2] == pytest.approx(27.0, rel=0.02)  # 90 % of its own 30 km/h, not 72 km/h
    # and a congested one (25 % of free flow) makes it congested alike
    est, _ = line().estimate(*history({1: 20.0, 3: 20.0}), free_flow)
    assert est[2] == pytest.approx(7.5, rel=0.05)
