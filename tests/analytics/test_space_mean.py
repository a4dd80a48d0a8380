"""Edie's cells: a vehicle's distance and time per segment and minute between two fixes."""

from __future__ import annotations

import pytest

from analytics.space_mean import interval_cells

ROUTE, STARTS = [7, 8, 9], [0.0, 100.0, 300.0]


def test_a_standing_vehicle_spends_time_without_distance_in_each_minute() -> None:
    cells = interval_cells(6030.0, 50.0, 6120.0, 50.0, ROUTE, STARTS)
    assert cells == [
        (7, 6000.0, 0.0, 30.0), (7, 6060.0, 0.0, 60.0)]  # fmt: skip


def test_a_moving_vehicle_is_cut_at_segment_starts_and_minute_boundaries() -> None:
    # 10 m/s from position 50 at t = 6050 to 250 at t = 6070: enters segment 8 at t = 6055,
    # the minute turns at t = 6060
    cells = interval_cells(6050.0, 50.0, 6070.0, 250.0, ROUTE, STARTS)
    assert cells == [(7, 6000.0, pytest.approx(50.0), pytest.approx(5.0)),
                   (8, 6000.0, pytest.approx(50.0), pytest.approx(5.0)),
                   (8, 6060.0, pytest.approx(100.0), pytest.approx(10.0))]  # fmt: skip
    assert sum(c[2] for c in cells) == pytest.approx(200.0)
    assert sum(c[3] for c in cells) == pytest.approx(20.0)


def test_nothing_for_an_empty_interval() -> None:
    assert interval_cells(10.0, 5.0, 10.0, 5.0, ROUTE, STARTS) == []
