"""Recorded fleet files: a tracker's own CSV columns mapped to the contract, GTFS-Realtime
snapshots, and ``itms feed convert``."""

from __future__ import annotations

import gzip
import json

import pytest

from ingest.column_map import ColumnMap
from ingest.errors import FeedDecodeError
from ingest.feed_files import open_feed
from itms.cli import main
from tests.ingest.gtfs_feeds import add_odd_entities, encoded, vehicle_feed

T0 = 1_764_031_500  # 2025-11-25T00:45:00Z = 07:45 in Hai Phong
TRACKER_CSV = (
    "VehID,Latitude,Longitude,GPSTime,Speed,Extra\n"
    f"51B-001,20.8449,106.6881,{T0},23.5,x\n"
    f"51B-002,20.8450,106.6890,{T0 + 5},,y\n"
    "51B-003,north,106.6890,1764031510,10,z\n"
)
LOCAL_CSV = (
    "VehID,Lat,Lng,When\n"
    "51B-001,20.8449,106.6881,2025-11-25 07:45:00\n"
    "51B-002,20.8450,106.6890,2025-11-25T07:45:05+07:00\n"
    "51B-003,20.8450,106.6890,25/11/2025 07:45\n"
)


def test_a_trackers_columns_and_epoch_seconds_are_mapped(tmp_path) -> None:
    f = tmp_path / "tracker.csv"
    f.write_text(TRACKER_CSV)
    cmap = ColumnMap.parse("vehicle_id=VehID,lat=Latitude,lon=Longitude,ts=GPSTime,"
                           "speed_kmh=Speed", ts_unit="s")  # fmt: skip
    feed = open_feed(f, columns=cmap, vehicle_type="taxi")
    rows = list(feed.records)
    assert rows[0] == {"vehicle_id": "51B-001", "lat": 20.8449, "lon": 106.6881,
                       "ts": T0 * 1000, "speed_kmh": 23.5, "Extra": "x",
                       "vehicle_type": "taxi"}  # fmt: skip
    assert "speed_kmh" not in rows[1] and rows[1]["ts"] == (T0 + 5) * 1000
    # a value that does not parse is passed on for the workers to dead-letter with a reason
    assert rows[2]["lat"] == "north"
    assert feed.summary() == "tracker.csv: 3 records"


def test_local_times_are_read_in_the_given_zone(tmp_path) -> None:
    f = tmp_path / "local.csv.gz"
    f.write_bytes(gzip.compress(LOCAL_CSV.encode()))
    cmap = ColumnMap.parse("vehicle_id=VehID,lat=Lat,lon=Lng,ts=When", tz="Asia/Ho_Chi_Minh")
    rows = list(open_feed(f, columns=cmap).records)
    assert rows[0]["ts"] == T0 * 1000  # 07:45 local = 00:45Z
    assert rows[1]["ts"] == (T0 + 5) * 1000  # an offset written wins
    assert rows[2]["ts"] == "25/11/2025 07:45"  # not a time: passed on as it is


def test_bad_maps_and_files_are_named_before_anything_is_read(tmp_path) -> None:
    with pytest.raises(ValueError, match="'latt' is no gps contract field"):
        ColumnMap.parse("latt=Latitude")
    with pytest.raises(ValueError, match="not field=Column"):
        ColumnMap.parse("vehicle_id")
    with pytest.raises(ValueError, match="mapped twice"):
        ColumnMap.parse("lat=A,lat=B")
    with pytest.raises(ValueError, match="IANA"):
        ColumnMap.parse("lat=A", tz="Hai Phong")
    f = tmp_path / "tracker.csv"
    f.write_text(TRACKER_CSV)
    with pytest.raises(ValueError, match=r"no column 'Lat'.*VehID, Latitude"):
        open_feed(f, columns=ColumnMap.parse("lat=Lat"))
    pb = tmp_path / "feed.pb"
    pb.write_bytes(encoded(vehicle_feed(3, t0_s=T0)))
    with pytest.raises(ValueError, match="CSV files, not GTFS-Realtime"):
        open_feed(pb, columns=ColumnMap.parse("lat=Lat"))
    with pytest.raises(ValueError, match="holds vehicle positions"):
        open_feed(pb, kind="detectors")
    pb.write_bytes(encoded(vehicle_feed(3, t0_s=T0))[:-9])
    with pytest.raises(FeedDecodeError, match=r"truncated at byte \d+"):
        open_feed(pb)


def test_feed_convert_accounts_for_every_entity(tmp_path, capsys) -> None:
    feed = vehicle_feed(300, t0_s=T0)
    add_odd_entities(feed)
    pb = tmp_path / "snapshot.pb.gz"
    pb.write_bytes(encoded(feed, gzipped=True))
    out = tmp_path / "fixes.jsonl"
    assert main(["feed", "convert", str(pb), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "303 entities: 300 positions converted" in said
    assert "1 the entity is marked deleted" in said and "1 a vehicle without a position" in said
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 300 and lines[0]["vehicle_type"] == "bus"
    # as CSV in the contract's columns
    csv_out = tmp_path / "fixes.csv"
    assert main(["feed", "convert", str(pb), "--out", str(csv_out), "--vehicle-type",
                 "other"]) == 0  # fmt: skip
    header = csv_out.read_text().splitlines()[0]
    assert header.startswith("vehicle_id,ts,lat,lon,speed_kmh,heading_deg,vehicle_type")
    assert "route_id,trip_id" in header and ",other," in csv_out.read_text().splitlines()[1]
    # a tracker's CSV, with its map
    tracker = tmp_path / "tracker.csv"
    tracker.write_text(TRACKER_CSV)
    mapped = tmp_path / "mapped.jsonl"
    assert main(["feed", "convert", str(tracker), "--out", str(mapped), "--map",
                 "vehicle_id=VehID,lat=Latitude,lon=Longitude,ts=GPSTime", "--ts-unit",
                 "s"]) == 0  # fmt: skip
    assert json.loads(mapped.read_text().splitlines()[0])["ts"] == T0 * 1000
    # bad input: a clear error, exit 2
    assert main(["feed", "convert", str(tracker), "--out", str(mapped), "--map",
                 "lat=Lat"]) == 2  # fmt: skip
    assert "no column 'Lat'" in capsys.readouterr().err
    assert main(["feed", "convert", str(pb), "--out", str(tmp_path / "x.txt")]) == 2
