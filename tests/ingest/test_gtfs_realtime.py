"""GTFS-Realtime VehiclePositions decoding: every entity converted or skipped with a reason,
broken files named by byte offset."""

from __future__ import annotations

import json

import pytest

from ingest.errors import FeedDecodeError
from ingest.gtfs_realtime import decode_vehicle_positions
from ingest.validation import FeedValidator
from tests.ingest.gtfs_feeds import add_odd_entities, encoded, vehicle_feed

T0 = 1_764_031_500  # 2025-11-25T00:45:00Z


def test_a_feed_of_hundreds_of_vehicles_converts_every_entity_to_the_contract() -> None:
    feed = vehicle_feed(400, t0_s=T0, step_s=1)
    add_odd_entities(feed)
    out = decode_vehicle_positions(encoded(feed))
    assert out.entities == 403 and len(out.records) == 400
    assert out.skipped == {"deleted": 1, "no_vehicle": 1, "no_position": 1}
    assert len(out.records) + sum(out.skipped.values()) == out.entities
    r = out.records[7]
    assert r == {"vehicle_id": "bus-7", "ts": (T0 + 7) * 1000, "lat": pytest.approx(20.8507),
                 "lon": pytest.approx(106.6807), "vehicle_type": "bus", "heading_deg": 7.0,
                 "speed_kmh": 18.0, "source": "gtfs-rt", "route_id": "r0",
                 "trip_id": "trip-7"}  # fmt: skip
    assert "400 positions converted" in out.summary() and "trip update" in out.summary()
    # every record passes the workers' contract check
    v = FeedValidator("gps", clock=lambda: T0 + 600.0)
    fixes = [v.validate(json.dumps(rec).encode()) for rec in out.records]
    assert fixes[7].vehicle_id == "bus-7" and fixes[7].route_id == "r0"
    assert fixes[7].speed_kmh == 18.0 and fixes[7].ts_ms == (T0 + 7) * 1000


def test_gzip_header_time_and_ids_from_the_entity() -> None:
    feed = vehicle_feed(3, t0_s=T0)
    for e in feed.entity:
        e.vehicle.ClearField("timestamp")  # the header's time holds
    feed.entity[1].vehicle.ClearField("vehicle")  # the entity id stands in
    out = decode_vehicle_positions(encoded(feed, gzipped=True), vehicle_type="other",
                                   source=None)  # fmt: skip
    assert [r["ts"] for r in out.records] == [T0 * 1000] * 3
    assert [r["vehicle_id"] for r in out.records] == ["bus-0", "e1", "bus-2"]
    assert {r["vehicle_type"] for r in out.records} == {"other"}
    assert all("source" not in r for r in out.records)
    # no time anywhere: skipped with the reason
    bare = vehicle_feed(2, t0_s=T0, header_ts=False)
    for e in bare.entity:
        e.vehicle.ClearField("timestamp")
    assert decode_vehicle_positions(encoded(bare)).skipped == {"no_timestamp": 2}


def test_a_truncated_feed_names_the_byte_offset() -> None:
    data = encoded(vehicle_feed(50, t0_s=T0))
    cut = data[: len(data) - 20]
    with pytest.raises(FeedDecodeError, match=r"truncated at byte \d+") as err:
        decode_vehicle_positions(cut)
    # the offset is where the last (cut) entity starts
    assert int(str(err.value).split("byte ")[1].split(":")[0]) < len(cut)
    with pytest.raises(FeedDecodeError, match="gzip"):
        decode_vehicle_positions(b"\x1f\x8b" + b"\x00" * 30)
    with pytest.raises(FeedDecodeError, match="wire type"):
        decode_vehicle_positions(b"\x0f\x00\x00")  # field 1, wire type 7: not protobuf
    assert decode_vehicle_positions(b"").entities == 0  # an empty message: no entities


def test_an_entity_that_does_not_parse_is_skipped_and_the_rest_flows() -> None:
    good = encoded(vehicle_feed(2, t0_s=T0))
    broken = good + b"\x12\x03\xff\xff\xff"  # one more entity field holding garbage
    out = decode_vehicle_positions(broken)
    assert len(out.records) == 2 and out.skipped == {"unparsable": 1} and out.entities == 3
