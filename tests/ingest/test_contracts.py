"""Feed contracts and their validation: what passes, and the precise reason for what does not."""

from __future__ import annotations

import json

import pytest

from ingest.contracts import DetectorReading, GpsFix, VehicleType
from ingest.errors import InvalidMessage
from ingest.validation import FeedValidator

NOW_S = 1_764_000_000.0  # fixed "now" (2025-11-24T16:00:00Z)
NOW_MS = int(NOW_S * 1000)


def gps(**fields: object) -> bytes:
    msg = {"vehicle_id": "bike-1", "ts": NOW_MS, "lat": 20.8566, "lon": 106.6826}
    msg.update(fields)
    return json.dumps({k: v for k, v in msg.items() if v is not ...}).encode()


@pytest.fixture
def validator() -> FeedValidator:
    return FeedValidator("gps", clock=lambda: NOW_S)


def test_valid_fix_with_epoch_ms(validator: FeedValidator) -> None:
    fix = validator.validate(gps(speed_kmh=23.5, vehicle_type="bus", heading_deg=90))
    assert isinstance(fix, GpsFix)
    assert fix.ts_ms == NOW_MS
    assert fix.vehicle_type is VehicleType.BUS
    assert fix.speed_kmh == 23.5


def test_rfc3339_with_offset_is_normalised_to_utc(validator: FeedValidator) -> None:
    fix = validator.validate(gps(ts="2025-11-24T23:00:00+07:00"))
    assert fix.ts_ms == NOW_MS
    assert validator.validate(gps(ts="2025-11-24T16:00:00Z")).ts_ms == NOW_MS


@pytest.mark.parametrize(
    ("fields", "code", "words"),
    [
        ({"lat": 95.0}, "schema", "lat"),
        ({"lon": -181}, "schema", "lon"),
        ({"speed_kmh": 400}, "schema", "speed_kmh"),
        ({"speed_kmh": -1}, "schema", "speed_kmh"),
        ({"heading_deg": 361}, "schema", "heading_deg"),
        ({"lat": 0.0, "lon": 0.0}, "schema", "no GPS fix"),
        ({"vehicle_id": ""}, "schema", "vehicle_id"),
        ({"vehicle_id": ...}, "schema", "vehicle_id: Field required"),
        ({"vehicle_type": "spaceship"}, "schema", "vehicle_type"),
        ({"ts": "2025-11-24T16:00:00"}, "schema", "no UTC offset"),
        ({"ts": "yesterday"}, "schema", "not RFC 3339"),
        ({"ts": 1_764_000_000}, "schema", "looks like seconds"),
        ({"ts": True}, "schema", "ts"),
        ({"ts": NOW_MS + 3_600_000}, "future", "in the future"),
        ({"ts": NOW_MS - 30 * 86_400_000}, "too_old", "old"),
        ({"v": 2}, "schema", "v"),
    ],
)
def test_invalid_fix_reasons(validator: FeedValidator, fields: dict, code: str, words: str) -> None:
    with pytest.raises(InvalidMessage) as err:
        validator.validate(gps(**fields))
    assert err.value.code == code
    assert words in err.value.reason


def test_nan_is_refused(validator: FeedValidator) -> None:
    raw = gps().replace(b'"lat": 20.8566', b'"lat": NaN')
    with pytest.raises(InvalidMessage) as err:
        validator.validate(raw)
    assert "lat" in err.value.reason


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"a string"', "not a JSON object"),
        (None, "empty"),
    ],
)
def test_undecodable_messages(validator: FeedValidator, raw: bytes | None, words: str) -> None:
    with pytest.raises(InvalidMessage) as err:
        validator.validate(raw)
    assert err.value.code == "decode"
    assert words in err.value.reason


def test_oversized_message_is_refused_before_parsing() -> None:
    v = FeedValidator("gps", max_bytes=1024, clock=lambda: NOW_S)
    with pytest.raises(InvalidMessage) as err:
        v.validate(gps(source="x" * 2000))
    assert err.value.code == "too_large"


def test_unknown_fields_ignored_by_default_and_rejected_when_strict() -> None:
    raw = gps(colour="red")
    assert FeedValidator("gps", clock=lambda: NOW_S).validate(raw).vehicle_id == "bike-1"
    with pytest.raises(InvalidMessage) as err:
        FeedValidator("gps", strict=True, clock=lambda: NOW_S).validate(raw)
    assert "colour" in err.value.reason


def detector(**fields: object) -> bytes:
    msg = {"detector_id": "d-1", "ts": NOW_MS, "interval_s": 60, "volume": 25, "occupancy": 0.12}
    msg.update(fields)
    return json.dumps(msg).encode()


def test_detector_reading_valid_and_invalid() -> None:
    v = FeedValidator("detectors", clock=lambda: NOW_S)
    reading = v.validate(detector(speed_kmh=41.0, lane=2))
    assert isinstance(reading, DetectorReading)
    assert reading.volume == 25 and reading.lane == 2
    for bad, words in [
        ({"occupancy": 1.5}, "occupancy"),
        ({"volume": -3}, "volume"),
        ({"interval_s": 0}, "interval_s"),
        ({"volume": 100_000}, "impossible"),
    ]:
        with pytest.raises(InvalidMessage) as err:
            v.validate(detector(**bad))
        assert words in err.value.reason
