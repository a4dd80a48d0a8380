"""Fusion of probe and detector speeds, and confidence."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.segment_state import (
    confidence,
    estimate_minute,
    fuse_speeds,
)
from analytics.smoothing import CorridorSmoother, SmoothingParams


def test_fusion_is_a_weighted_harmonic_mean() -> None:
    probe = np.array([30.0, np.nan, 20.0, np.nan])
    vehicles = np.array([3.0, 0.0, 1.0, 0.0])
    detector = np.array([60.0, 40.0, np.nan, np.nan])
    speed, n = fuse_speeds(probe, vehicles, detector, detector_weight=3.0)
    assert speed[0] == pytest.approx(6 / (3 / 30 + 3 / 60))  # 40 km/h
    assert speed[1] == pytest.approx(40.0) and speed[2] == pytest.approx(20.0)
    assert np.isnan(speed[3])
    assert n.tolist() == [6.0, 3.0, 1.0, 0.0]
    assert confidence(np.array([0.0, 3.0]))[1] == pytest.approx(1 - np.exp(-1))


def test_a_minute_is_measured_where_it_can_be_and_filled_beside_what_could_be_published() -> None:
    # five one-way 200 m segments in a row; six minutes of data on segments 1 and 3
    smoother = CorridorSmoother(np.arange(5), np.arange(1, 6), np.full(5, 200.0))
    rows = SmoothingParams().window_min + 1
    probe = np.full((rows, 5), np.nan)
    vehicles = np.zeros((rows, 5))
    detector = np.full((rows, 5), np.nan)
    probe[:, 1], vehicles[:, 1] = 20.0, 3
    detector[:, 3] = 24.0
    probe[-1, 3], vehicles[-1, 3] = 12.0, 1
    est = estimate_minute(probe, vehicles, detector, smoother=smoother,
                          free_flow=np.full(5, 50.0), fill_min_ratio=0.0)  # fmt: skip
    assert est.source.tolist() == ["smoothed", "probe", "smoothed", "fused", "smoothed"]
    assert est.speed[1] == pytest.approx(20.0)
    assert est.speed[3] == pytest.approx(4 / (1 / 12 + 3 / 24))
    assert 12.0 < est.speed[2] < 24.0
    assert est.confidence[2] < est.confidence[1]
    # probe speeds of fewer vehicles than may be published are measured, never spread
    hidden = estimate_minute(probe, vehicles, np.full((rows, 5), np.nan), smoother=smoother,
                             free_flow=np.full(5, 50.0), publish_min_vehicles=5,
                             fill_min_ratio=0.0)  # fmt: skip
    assert hidden.source.tolist() == ["", "probe", "", "probe", ""]


def test_fills_slower_than_a_share_of_free_flow_are_not_published() -> None:
    # a queue measured on segment 1 (12 km/h of 50) would spread upstream as a jam; segment 4
    # lies beyond free-flowing segment 3
    smoother = CorridorSmoother(np.arange(5), np.arange(1, 6), np.full(5, 200.0))
    rows = SmoothingParams().window_min + 1
    probe, vehicles = np.full((rows, 5), np.nan), np.zeros((rows, 5))
    probe[:, 1], vehicles[:, 1] = 12.0, 3
    probe[:, 3], vehicles[:, 3] = 45.0, 3
    no_loops = np.full((rows, 5), np.nan)
    est = estimate_minute(probe, vehicles, no_loops, smoother=smoother,
                          free_flow=np.full(5, 50.0))  # fmt: skip
    assert est.source[1] == "probe" and est.source[3] == "probe"
    assert est.source[0] == "" and np.isnan(est.speed[0])  # only the queue beside it: slow
    assert est.source[4] == "smoothed" and est.speed[4] >= 0.6 * 50.0
    every = estimate_minute(probe, vehicles, no_loops, smoother=smoother,
                            free_flow=np.full(5, 50.0), fill_min_ratio=0.0)  # fmt: skip
    assert every.source[0] == "smoothed" and every.speed[0] < 0.6 * 50.0
