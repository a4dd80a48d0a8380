"""Blockages hold their queues (analytics.forecast.incident_hold)."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.forecast.incident_hold import HoldParams, hold_queues
from tests.analytics.forecast_days_fixture import chain_corridor

FF = np.full(6, 50.0)


def test_the_queue_behind_a_blockage_is_held_and_grows_upstream():
    corridor = chain_corridor(6)  # 0 → 1 → … → 5, 400 m each
    now = np.array([45.0, 40.0, 20.0, 10.0, 8.0, 45.0])  # queue: 4 (incident), 3, 2
    model = np.full(6, 42.0)  # the model expects recovery everywhere
    age = np.full(6, np.nan)
    age[4] = 12.0
    held = hold_queues(model, now, FF, age, corridor, 15)
    assert held.tolist() == [42.0, 42.0, 20.0, 10.0, 8.0, 42.0]
    # growing at 60 m/min the queue reaches 900 m further upstream in 15 min: segments 1, 0
    grown = hold_queues(model, now, FF, age, corridor, 15, HoldParams(growth_m_per_min=60.0))
    assert grown[:2] == pytest.approx([38 / 3, 38 / 3]) and grown[5] == 42.0
    # no active incident: nothing held
    assert hold_queues(model, now, FF, np.full(6, np.nan), corridor, 15).tolist() == [42.0] * 6
