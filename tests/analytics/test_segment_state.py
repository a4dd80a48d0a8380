"""Fusion, confidence, learned free flow and time-of-day profiles."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.segment_state import (
    FreeFlowLearner,
    TimeOfDayProfile,
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


def test_free_flow_learned_from_off_peak_only_after_enough_samples() -> None:
    learner = FreeFlowLearner(np.array([50.0, 50.0]), min_samples=50)
    rng = np.random.default_rng(0)
    night = rng.normal(40.0, 4.0, 400)
    learner.observe(np.zeros(400, int), night, np.full(400, 2.0))
    learner.observe(np.zeros(400, int), np.full(400, 8.0), np.full(400, 8.0))  # peak: ignored
    learner.observe(np.ones(10, int), np.full(10, 70.0), np.full(10, 3.0))  # too few
    ff = learner.free_flow()
    assert ff[0] == pytest.approx(np.percentile(night, 85), abs=2.0)
    assert ff[1] == 50.0


def test_profile_slots_blend_and_stay_unknown_until_seen() -> None:
    prof = TimeOfDayProfile(2, alpha=0.5)
    slot = TimeOfDayProfile.slot(2, 7.6)  # Wednesday 07:36
    assert slot == 2 * 96 + 30
    prof.observe(slot, np.array([0, 1]), np.array([20.0, np.nan]))
    prof.observe(slot, np.array([0]), np.array([30.0]))
    got = prof.expected(slot)
    assert got[0] == pytest.approx(25.0) and np.isnan(got[1])
    assert np.isnan(prof.expected(slot + 1)[0])
