"""Traversal extraction from matched tracks: interpolated entry/exit times, dwell handling."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.mapmatch.hmm import TrackMatch
from analytics.traversals import traversals

LENGTH = np.array([100.0, 200.0, 300.0, 400.0])


def _track(segment, offset, paths, chain=None) -> TrackMatch:
    n = len(segment)
    return TrackMatch(
        segment=np.array(segment), offset_m=np.array(offset, float), x=np.zeros(n),
        y=np.zeros(n), chain=np.zeros(n, np.int64) if chain is None else np.array(chain),
        paths=paths,
    )  # fmt: skip


def test_constant_speed_gives_exact_entry_exit_and_speed() -> None:
    # 10 m/s: fixes at route positions 50, 150, 350, 550 (segments 0 → 1 → 2)
    t = np.array([0.0, 10.0, 30.0, 50.0])
    m = _track([0, 1, 2, 2], [50, 50, 50, 250], {1: [0, 1], 2: [1, 2], 3: [2]})
    tr = traversals(m, t, LENGTH)
    assert tr.segment.tolist() == [1]  # segment 0 and 2 are only partly covered
    assert tr.entry_s[0] == pytest.approx(5.0)
    assert tr.exit_s[0] == pytest.approx(25.0)
    assert tr.speed_kmh[0] == pytest.approx(36.0)


def test_bus_dwell_is_subtracted_and_parked_cars_are_dropped() -> None:
    # stops 120 s at route position 150 (on segment 1), then drives on at 10 m/s
    t = np.array([0.0, 10.0, 70.0, 130.0, 150.0, 170.0])
    m = _track([0, 1, 1, 1, 1, 2], [50, 50, 50, 50, 250, 250],
               {1: [0, 1], 2: [1], 3: [1], 4: [1], 5: [1, 2]})  # fmt: skip
    bus = traversals(m, t, LENGTH, is_bus=True)
    assert bus.segment.tolist() == [1]
    assert bus.dwell_s[0] == pytest.approx(120.0)
    assert bus.speed_kmh[0] == pytest.approx(36.0)  # 200 m in 20 s of driving
    car = traversals(m, t, LENGTH, max_still_s=60.0)
    assert len(car.segment) == 0
    queued = traversals(m, t, LENGTH, max_still_s=300.0)
    assert queued.speed_kmh[0] == pytest.approx(200 / 140 * 3.6)


def test_chains_are_independent() -> None:
    t = np.array([0.0, 10.0, 20.0, 500.0, 510.0, 520.0])
    m = _track([0, 1, 2, 0, 1, 2], [90, 100, 10, 90, 100, 10],
               {1: [0, 1], 2: [1, 2], 4: [0, 1], 5: [1, 2]}, chain=[0, 0, 0, 1, 1, 1])  # fmt: skip
    tr = traversals(m, t, LENGTH)
    assert tr.segment.tolist() == [1, 1]
    assert tr.entry_s[1] > 500
