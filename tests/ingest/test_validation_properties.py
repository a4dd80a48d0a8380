"""Property-based tests of feed validation: no input makes the validator fail in any other way
than a clear :class:`InvalidMessage`, and valid messages always pass unchanged."""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.contracts import DetectorReading, GpsFix
from ingest.errors import InvalidMessage
from ingest.validation import FeedValidator

NOW_S = 1_795_000_000.0  # a fixed clock (2026-11-18)
GPS = FeedValidator("gps", clock=lambda: NOW_S)
DET = FeedValidator("detectors", clock=lambda: NOW_S)
CODES = {"decode", "schema", "future", "too_old", "too_large"}
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
GPS_FIELDS = ["vehicle_id", "ts", "lat", "lon", "speed_kmh", "heading_deg", "accuracy_m",
              "vehicle_type", "source", "v"]  # fmt: skip
DET_FIELDS = ["detector_id", "ts", "interval_s", "volume", "occupancy", "speed_kmh", "lane", "v"]


def _outcome(validator: FeedValidator, raw: bytes) -> object:
    try:
        return validator.validate(raw)
    except InvalidMessage as exc:
        assert exc.code in CODES
        assert exc.reason and len(exc.reason) < 2000
        return exc


@FAST
@given(st.binary(max_size=300))
def test_any_bytes_are_accepted_or_rejected_with_a_reason(raw: bytes) -> None:
    for validator in (GPS, DET):
        _outcome(validator, raw)


@FAST
@given(st.dictionaries(st.sampled_from(GPS_FIELDS + DET_FIELDS + ["extra"]), json_values))
def test_any_json_object_is_accepted_or_rejected_with_a_reason(obj: dict) -> None:
    raw = json.dumps(obj).encode()
    for validator in (GPS, DET):
        out = _outcome(validator, raw)
        if isinstance(out, InvalidMessage) and out.code == "schema":
            # the reason names a field of the contract (or says what is wrong with the whole)
            assert any(f in out.reason for f in [*GPS_FIELDS, *DET_FIELDS, "object", "JSON"])


valid_fix = st.fixed_dictionaries(
    {
        "vehicle_id": st.text(
            st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=64
        ),
        "ts": st.integers(int((NOW_S - 86_400) * 1000), int((NOW_S + 60) * 1000)),
        "lat": st.floats(-90, 90).filter(lambda v: v != 0),
        "lon": st.floats(-180, 180).filter(lambda v: v != 0),
    },
    optional={
        "speed_kmh": st.floats(0, 250),
        "heading_deg": st.floats(0, 360),
        "accuracy_m": st.floats(0, 5000),
        "vehicle_type": st.sampled_from(["motorbike", "car", "taxi", "bus", "truck", "other"]),
    },
)


@FAST
@given(valid_fix)
def test_valid_fixes_pass_unchanged(obj: dict) -> None:
    fix = GPS.validate(json.dumps(obj).encode())
    assert isinstance(fix, GpsFix)
    assert fix.vehicle_id == obj["vehicle_id"] and fix.ts_ms == obj["ts"]
    assert math.isclose(fix.lat, obj["lat"]) and math.isclose(fix.lon, obj["lon"])


@FAST
@given(valid_fix, st.sampled_from(["lat", "lon", "speed_kmh", "heading_deg", "accuracy_m"]),
       st.floats(1000, 1e300) | st.floats(-1e300, -1000))  # fmt: skip
def test_out_of_range_values_are_rejected_naming_the_field(obj: dict, name: str, v: float) -> None:
    obj[name] = v if name != "accuracy_m" else abs(v) + 5000
    out = _outcome(GPS, json.dumps(obj).encode())
    assert isinstance(out, InvalidMessage) and out.code == "schema"
    assert out.reason.startswith(name)


@FAST
@given(valid_fix, st.integers(3601, 10**7))
def test_far_future_fixes_are_rejected(obj: dict, ahead_s: int) -> None:
    obj["ts"] = int((NOW_S + ahead_s) * 1000)
    out = _outcome(GPS, json.dumps(obj).encode())
    assert isinstance(out, InvalidMessage) and out.code == "future"


@FAST
@given(st.integers(1, 3600), st.integers(0, 10_000), st.floats(0, 1))
def test_detector_readings_are_accepted_only_when_physically_possible(
    interval_s: int, volume: int, occupancy: float
) -> None:
    obj = {"detector_id": "d1", "ts": int(NOW_S * 1000), "interval_s": interval_s,
           "volume": volume, "occupancy": occupancy}  # fmt: skip
    out = _outcome(DET, json.dumps(obj).encode())
    if isinstance(out, DetectorReading):
        assert out.volume == volume and out.interval_s == interval_s
    else:
        assert out.code == "schema" and "volume" in out.reason
