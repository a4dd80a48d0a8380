"""Fusion of probe and detector speeds, and confidence."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.segment_state import (
    confidence,
    fuse_speeds,
)


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
