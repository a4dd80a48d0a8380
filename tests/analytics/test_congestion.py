"""Congestion levels, jam factor and hysteresis."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.congestion import CongestionEstimator, jam_factor, raw_level


def test_levels_and_jam_factor() -> None:
    r = np.array([1.1, 0.85, 0.7, 0.5, 0.3, 0.1, 0.0])
    assert raw_level(r).tolist() == [0, 0, 1, 2, 3, 4, 4]
    assert jam_factor(r) == pytest.approx([0.0, 1.5, 3.0, 5.0, 7.0, 9.0, 10.0])


def test_hysteresis_stops_flapping_at_a_boundary() -> None:
    est = CongestionEstimator(1, band=0.05)
    levels = [
        int(est.update(np.array([r]))[0]) for r in (0.9, 0.79, 0.81, 0.78, 0.74, 0.79, 0.84, 0.86)
    ]
    # 0.79 / 0.81 / 0.78 sit inside the band around 0.8: still free; 0.74 is light;
    # back to free only above 0.85
    assert levels == [0, 0, 0, 0, 1, 1, 1, 0]


def test_unknown_segments_keep_their_level() -> None:
    est = CongestionEstimator(2)
    est.update(np.array([0.1, 0.1]))
    out = est.update(np.array([1.0, 1.0]), known=np.array([True, False]))
    assert out.tolist() == [0, 4]
