"""Loop spot speeds mapped to segment speeds by a factor learned from probes."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.detector_calibration import calibrated, speed_factors


def test_each_segment_gets_the_median_ratio_of_its_paired_minutes() -> None:
    # segment 0: probes see 80 % of the loop speed (one wild minute); segment 1: too few
    # minutes; segment 2: no loops
    seg = np.array([0] * 11 + [1] * 3)
    det = np.array([50.0] * 10 + [50.0] + [40.0] * 3)
    probe = np.array([40.0] * 10 + [5.0] + [40.0] * 3)
    f = speed_factors(seg, probe, det, 3, min_pairs=10)
    assert f[0] == pytest.approx(0.8) and np.isnan(f[1:]).all()
    # halving and doubling weigh alike: the ratios' median on logarithms
    g = speed_factors(np.zeros(3, np.int64), np.array([20.0, 40.0, 80.0]), np.full(3, 40.0), 1,
                      min_pairs=3)  # fmt: skip
    assert g[0] == pytest.approx(1.0)


def test_loops_without_a_factor_count_as_measured_or_not_at_all() -> None:
    factor = np.array([0.8, np.nan])
    det = np.array([[50.0, 50.0], [np.nan, 30.0]])
    assert np.allclose(calibrated(det, factor), [[40.0, 50.0], [np.nan, 30.0]], equal_nan=True)
    off = calibrated(det, factor, uncalibrated=False)
    assert off[0, 0] == pytest.approx(40.0) and np.isnan(off[:, 1]).all()
