"""The SUMO incident split: its scenarios, and scores added up over them."""

from __future__ import annotations

import pytest

from evaluation.incident_eval import MethodScore
from evaluation.incident_split import combined, scenarios


def test_the_split_names_every_network_seed_and_kind() -> None:
    held = scenarios("held-out")
    assert [s.name for s in held] == [
        "grid-s4-incident-free", "grid-s4-closures", "grid-s5-incident-free", "grid-s5-closures",
        "haiphong-s4-incident-free", "haiphong-s4-closures", "haiphong-s5-incident-free",
        "haiphong-s5-closures",
    ]  # fmt: skip
    assert {s.incidents for s in held} == {0, 4}
    assert {s.seed for s in scenarios("tuning")} == {1, 2, 3}
    with pytest.raises(ValueError, match="unknown split"):
        scenarios("everything")


def test_scores_add_up_per_segment_hour() -> None:
    a = MethodScore("fused", 4, 3, 2, 1.0, 60.0 * 741, 741, [300.0, 360.0, 420.0], [10.0] * 3,
                    2, 1, 3, 2, 1)  # fmt: skip
    b = MethodScore("fused", 0, 0, 1, 1.0, 60.0 * 960, 960, [], [], 0, 0, 0, 0, 0)
    c = combined([a, b])
    assert (c.incidents, c.detected, c.false_alarms, c.hours) == (4, 3, 3, 2.0)
    assert (c.queued, c.queued_detected, c.false_alarms_at_gridlocks) == (3, 2, 1)
    assert c.ttd_s == [300.0, 360.0, 420.0] and c.decisions == 60.0 * (741 + 960)
    # 3 false alarms in 1,701 segment-hours
    assert c.fa_per_hour_1000 == pytest.approx(3 * 1000 / 1701, rel=1e-3)
    with pytest.raises(ValueError):
        combined([])
