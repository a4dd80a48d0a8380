"""A corridor trip walked through the segment forecasts (api.corridor_departure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.corridor_departure import departure_travel


def _status(sid: str, tt: float | None, length: float = 1000.0) -> dict:
    return {"segment_id": sid, "length_m": length, "travel_time_s": tt,
            "free_flow_travel_time_s": length / 50.0 * 3.6}  # fmt: skip


def _fc(h: int, tt: float, issued: datetime, basis: str = "model") -> dict:
    return {"horizon_min": h, "travel_time_s": tt, "p10_kmh": 1000 / tt * 3.6 * 0.8,
            "p90_kmh": 1000 / tt * 3.6 * 1.25, "basis": basis, "issued_at": issued}  # fmt: skip


def test_a_trip_reads_each_segment_at_the_time_it_is_reached():
    issued = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
    statuses = [_status("a", 600.0), _status("b", 60.0), _status("c", None)]
    # a: 600 s now, 1200 s from +15 on; b: 60 s now, 360 s at +15, 60 s again at +30
    fc = {15: {"a": _fc(15, 1200.0, issued), "b": _fc(15, 360.0, issued)},
          30: {"a": _fc(30, 1200.0, issued), "b": _fc(30, 60.0, issued)},
          60: {"a": _fc(60, 1200.0, issued), "b": _fc(60, 60.0, issued)}}
    out = departure_travel(statuses, fc, issued, issued)
    # a entered at 0: 600 s; b entered at +10 min: between 60 (now) and 360 (+15) → 260 s;
    # c has neither state nor forecast: free flow (72 s)
    assert out["travel_time_s"] == pytest.approx(600 + 260 + 72, abs=0.1)
    assert out["arrive"] == issued + timedelta(seconds=out["travel_time_s"])
    assert out["travel_time_p10_s"] < out["travel_time_s"] < out["travel_time_p90_s"]
    assert out["forecast_coverage"] == pytest.approx(2 / 3, abs=1e-3)
    late = departure_travel(statuses, fc, issued + timedelta(minutes=60), issued)
    assert late["travel_time_s"] == pytest.approx(1200 + 60 + 72, abs=0.1)  # held past +60
    fc[15]["b"]["basis"] = "baseline:no_model"
    assert departure_travel(statuses, fc, issued, issued)["model_coverage"] == pytest.approx(
        1 / 3, abs=1e-3)  # fmt: skip
