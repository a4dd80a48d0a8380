"""Unit tests of the API's building blocks (no database): credentials, tokens, rate limiting,
privacy threshold, conditional requests, cursors, bbox parsing, NGSI-LD mapping."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from fastapi import HTTPException

from api import http
from api.ngsi import alert, traffic_flow
from api.privacy import publishable
from api.ratelimit import TokenBuckets, client_key
from api.security import (
    InvalidCredentials,
    check_password_strength,
    hash_password,
    issue_token,
    key_hash,
    lower_role,
    new_api_key,
    split_api_key,
    verify_password,
    verify_token,
)


def test_password_hashes_are_salted_and_verify() -> None:
    a, b = hash_password("Hai Phong 2026!"), hash_password("Hai Phong 2026!")
    assert a != b and a.startswith("scrypt$") and "Hai Phong" not in a
    assert verify_password("Hai Phong 2026!", a) and verify_password("Hai Phong 2026!", b)
    assert not verify_password("Hai Phong 2027!", a)
    assert not verify_password("x", "md5$abc") and not verify_password("x", "garbage")
    with pytest.raises(ValueError, match="at least"):
        check_password_strength("short")
    with pytest.raises(ValueError, match="repetitive"):
        check_password_strength("aaaaaaaaaaaa")


def test_api_keys_round_trip_and_only_their_hash_is_kept() -> None:
    key, key_id, digest = new_api_key("server-secret")
    got_id, secret = split_api_key(key)
    assert got_id == key_id and secret not in digest
    assert key_hash("server-secret", secret) == digest != key_hash("other-secret", secret)
    for bad in ("abc", "itms_short_x", "itms_0123456789ab_"):
        with pytest.raises(InvalidCredentials):
            split_api_key(bad)


def test_tokens_are_signed_and_expire() -> None:
    token, exp = issue_token("k1", "lan", "operator", 60)
    claims = verify_token("k1", token)
    assert (claims.sub, claims.role, claims.exp) == ("lan", "operator", exp)
    with pytest.raises(InvalidCredentials, match="signature"):
        verify_token("k2", token)
    _, sig = token.split(".")
    forged = base64.urlsafe_b64encode(b'{"sub":"lan","role":"admin","exp":9999999999}')
    with pytest.raises(InvalidCredentials, match="signature"):
        verify_token("k1", forged.decode().rstrip("=") + "." + sig)
    with pytest.raises(InvalidCredentials, match="expired"):
        verify_token("k1", token, now=exp + 1)
    with pytest.raises(InvalidCredentials):
        verify_token("k1", "no-dot-here-é")
    assert (
        lower_role("admin", "viewer") == "viewer" and lower_role("operator", "admin") == "operator"
    )


def test_token_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(2.0, 3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = buckets.take("a")
    assert wait == pytest.approx(0.5)  # one token every 0.5 s
    assert buckets.take("b") == 0.0  # another client
    now[0] += 0.5
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0
    now[0] += 100
    assert [buckets.take("a") for _ in range(4)][-1] > 0  # refill is capped at the burst


def test_rate_limit_client_key() -> None:
    scope = {"client": ("10.1.2.3", 5000), "headers": []}
    assert client_key(scope) == "ip:10.1.2.3"
    scope["headers"] = [(b"x-api-key", b"itms_0123456789ab_secret")]
    assert client_key(scope) == "key:0123456789ab"
    scope["headers"] = [(b"authorization", b"Bearer itms_ba9876543210_secret")]
    assert client_key(scope) == "key:ba9876543210"


@pytest.mark.parametrize(
    ("n", "k", "ok"),
    [(0, 3, True), (1, 3, False), (2, 3, False), (3, 3, True), (None, 3, True), (1, 1, True)],
)
def test_privacy_threshold(n, k, ok) -> None:
    assert publishable(n, k) is ok


def test_cursor_and_bbox_parsing() -> None:
    c = http.encode_cursor("2026-11-20T07:00:00+00:00", "inc-1")
    assert http.decode_cursor(c, 2) == ["2026-11-20T07:00:00+00:00", "inc-1"]
    for bad in ("!!!", c + "x*", http.encode_cursor("a")):
        with pytest.raises(HTTPException):
            http.decode_cursor(bad, 2)
    assert http.parse_bbox("106.6,20.8,106.7,20.9") == (106.6, 20.8, 106.7, 20.9)
    for bad in ("1,2,3", "nan,1,2,3", "1,2,0,3", "0,0,200,1"):
        with pytest.raises(HTTPException):
            http.parse_bbox(bad)


def test_not_modified_honours_etag_then_date() -> None:
    class Req:
        def __init__(self, headers: dict[str, str]) -> None:
            self.headers = headers

    at = datetime(2026, 11, 29, 8, 0, 30, 500_000, tzinfo=UTC)
    assert http.not_modified(Req({"if-none-match": '"x", "y"'}), '"y"', at)
    assert http.not_modified(Req({"if-none-match": 'W/"y"'}), '"y"', at)
    assert not http.not_modified(Req({"if-none-match": '"x"'}), '"y"', at)
    assert http.not_modified(Req({"if-modified-since": http.http_date(at)}), '"y"', at)
    earlier = "Sat, 29 Nov 2026 07:59:00 GMT"
    assert not http.not_modified(Req({"if-modified-since": earlier}), '"y"', at)
    assert not http.not_modified(Req({"if-modified-since": "garbage"}), '"y"', at)


def test_ngsi_ld_entities() -> None:
    minute = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    status = {
        "segment_id": "w1:0:f",
        "name": "Lạch Tray",
        "minute": minute,
        "speed_kmh": 12.0,
        "congestion_level": 3,
        "congestion": "heavy",
        "jam_factor": 6.0,
        "travel_time_s": 90.0,
        "free_flow_kmh": 45.0,
        "confidence": 0.9,
        "source": "probe",
    }
    geom = {"type": "LineString", "coordinates": [[106.68, 20.85], [106.69, 20.85]]}
    e = traffic_flow(status, geom)
    assert e["id"] == "urn:ngsi-ld:TrafficFlowObserved:haiphong:w1:0:f"
    assert e["congested"] == {"type": "Property", "value": True}
    assert e["dateObservedTo"]["value"]["@value"] == "2026-11-29T08:01:00+00:00"
    assert e["location"] == {"type": "GeoProperty", "value": geom}
    kv = traffic_flow({**status, "speed_kmh": None, "congestion_level": None}, geom,
                      key_values=True)  # fmt: skip
    assert "averageVehicleSpeed" not in kv and kv["name"] == "Lạch Tray"
    row = {
        "incident_id": "inc-1",
        "kind": "accident",
        "severity": 5,
        "lon": 106.7,
        "lat": 20.8,
        "road_name": "Lê Hồng Phong",
        "segment_id": None,
        "started_at": minute,
        "ended_at": None,
        "source": "operator",
        "status": "confirmed",
        "est_delay_s": 300.0,
    }
    a = alert(row, key_values=True)
    assert (a["subCategory"], a["severity"], a["category"]) == (
        "carAccident",
        "critical",
        "traffic",
    )
    assert "validTo" not in a and "refRoadSegment" not in a


def test_json_replies_never_carry_nan() -> None:
    import json
    import math

    from api.http import dumps

    body = dumps({"a": float("nan"), "b": [1.5, float("inf"), {"c": -math.inf}], "d": "x"})
    assert json.loads(body, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON")) == {
        "a": None, "b": [1.5, None, {"c": None}], "d": "x"
    }  # fmt: skip
    assert dumps({"v": 2.5}) == b'{"v":2.5}'
