"""Scoring forecasts against truth (evaluation.forecast_eval): the change subsets and the
errors of each method."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from analytics.forecast.forecaster import Forecaster
from evaluation.forecast_days import DayIncident, ForecastDay, day_date
from evaluation.forecast_eval import ForecastEvalParams, score_day
from tests.analytics.forecast_days_fixture import FREE_FLOW, LENGTH, N_SEG, chain_corridor


def test_onsets_clearances_and_incident_changes_are_scored_apart():
    minutes = 180
    truth = np.full((minutes, N_SEG), 40.0)
    truth[100:140, :10] = 10.0  # segments 0–9 congested from minute 100 to 139
    day = ForecastDay("d", datetime(2026, 11, 22, 23, 0, tzinfo=UTC), truth.copy(), truth,
                      [DayIncident(20, 60, 70)])  # fmt: skip
    profile = np.full((96, N_SEG), 40.0)
    fc = Forecaster(FREE_FLOW, LENGTH, chain_corridor(), fingerprint="x")  # baselines only
    err = score_day(fc, day, profile, chain_corridor(), ForecastEvalParams())
    # +15: issues every 5 min from row 29; onset when issued at 85, 90 or 95
    assert err.n(15, "onset") == 3 * 10
    assert err.mae(15, "onset", "persistence") == pytest.approx(30.0)
    assert err.mae(15, "onset", "historical_average") == pytest.approx(30.0)
    assert err.n(15, "clearance") == 3 * 10  # issued at 125, 130, 135
    # the incident on segment 20 starts at 60: issues at 45, 50, 55; segment 20 and the
    # segments upstream until 1 km is passed (19, 18, 17: 400 m each) count
    assert err.n(15, "incident start") == 3 * 4
    assert err.n(15, "incident end") == 3 * 4  # ends at 70: issued at 55, 60, 65
    assert err.mae(30, "all", "persistence") > 0
    assert np.isnan(err.coverage(15))  # baselines have no band


def test_days_are_consecutive_weekdays():
    assert [day_date(s).isoformat() for s in (1, 5, 6)] == ["2026-11-23", "2026-11-27",
                                                           "2026-11-30"]
