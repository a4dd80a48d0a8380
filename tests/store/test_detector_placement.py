"""Placing an inventory given by lon/lat on a tiny network with a two-way road: the two
directions (``ew:k:f`` east, ``ew:k:r`` west) share one centre line, so only the direction
of travel tells them apart (issue 22, item 3). The last test runs ``itms detectors load``
against the real PostgreSQL."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import psycopg
import pytest

from itms.cli import main
from itms.settings import Settings
from roadnet._builder import build_network
from roadnet.geojson_loader import ways_from_geojson
from roadnet.model import RoadNetwork
from store.detectors import read_inventory
from store.incident_inputs import station_inventory
from store.network_writer import sync_network

# an east-west two-way road crossed at 106.685 by a one-way road running north
NETWORK = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"id": "ew", "road_class": "primary", "lanes": 4},
     "geometry": {"type": "LineString",
                  "coordinates": [[106.680, 20.850], [106.685, 20.850], [106.690, 20.850]]}},
    {"type": "Feature", "properties": {"id": "ns", "road_class": "secondary", "oneway": True},
     "geometry": {"type": "LineString",
                  "coordinates": [[106.685, 20.845], [106.685, 20.850], [106.685, 20.855]]}},
]}  # fmt: skip
BESIDE = "106.6825,20.85003"  # 3 m north of the two-way road's centre line, 260 m from ns


@pytest.fixture(scope="module")
def net() -> RoadNetwork:
    return build_network(ways_from_geojson(NETWORK))


def _inventory(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inv.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_bearing_chooses_the_direction_of_travel(net, tmp_path, caplog) -> None:
    inv = _inventory(tmp_path, "detector_id,lon,lat,bearing_deg,direction\n"
                     f"east,{BESIDE},90,\neast-ish,{BESIDE},125,\nwest,{BESIDE},270,\n"
                     f"west-ish,{BESIDE},235.5,\neb,{BESIDE},,EB\nwb,{BESIDE},,westbound\n"
                     # the bearing outranks distance: ns is 21 m away, ew 10 m
                     "north,106.6848,20.85009,,N\n")  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="store.detectors"):
        sites = {s.detector_id: s for s in read_inventory(inv, net)}
    assert {d: s.segment_id for d, s in sites.items()} == {
        "east": "ew:0:f", "east-ish": "ew:0:f", "west": "ew:0:r", "west-ish": "ew:0:r",
        "eb": "ew:0:f", "wb": "ew:0:r", "north": "ns:1:f"}  # fmt: skip
    # offsets from each direction's own start: 260 m along either way
    assert sites["east"].position_m == pytest.approx(260.2, abs=1.0)
    assert sites["west"].position_m == pytest.approx(260.2, abs=1.0)
    assert caplog.records == []


def test_equally_close_twins_without_a_bearing_are_warned_about(net, tmp_path, caplog) -> None:
    inv = _inventory(tmp_path, f"detector_id,lon,lat\nL1,{BESIDE}\nN1,106.68503,20.852\n")
    warnings: list[str] = []
    with caplog.at_level(logging.WARNING, logger="store.detectors"):
        sites = read_inventory(inv, net, warnings=warnings)
    assert [s.segment_id for s in sites] == ["ew:0:f", "ns:1:f"]  # N1: a one-way road, no twin
    (rec,) = caplog.records
    assert rec.levelno == logging.WARNING
    assert rec.getMessage() == (
        f"{inv}:2: detector L1 is as close to ew:0:f as to ew:0:r (the two directions of one"
        " road); placed on ew:0:f: give bearing_deg or direction to choose"
    )
    assert warnings == [rec.getMessage()]


@pytest.mark.parametrize(("columns", "value", "error"), [
    ("bearing_deg", "0", r"inv\.csv:3: no road running 0° \(±45°\) within 30 m"),
    ("bearing_deg", "north", r"inv\.csv:3: bearing_deg 'north' is not a number"),
    ("direction", "up", r"inv\.csv:3: direction 'up' is not one of N, NE"),
])  # fmt: skip
def test_a_bad_bearing_is_an_error_naming_the_line(net, tmp_path, columns, value, error) -> None:
    inv = _inventory(tmp_path, f"detector_id,lon,lat,{columns}\n"
                     f"ok,{BESIDE},{'E' if columns == 'direction' else 90}\n"
                     f"bad,{BESIDE},{value}\n")  # fmt: skip
    with pytest.raises(ValueError, match=error):
        read_inventory(inv, net)


def test_a_station_id_must_not_merge_a_detector_of_its_own(net, tmp_path) -> None:
    # a station's all-lane total beside its per-lane loops would count its traffic twice
    inv = _inventory(tmp_path, "detector_id,segment_id,position_m,station_id\n"
                     "LT7,ew:0:f,100,\nLT7__l0,ew:0:f,100,LT7\nLT7__l1,ew:0:f,100,LT7\n")
    with pytest.raises(ValueError, match="detector LT7 has no station_id but is the station"):
        read_inventory(inv, net)
    inv.write_text("detector_id,segment_id,position_m,station_id\n"
                   "LT7__l0,ew:0:f,100,LT7\nLT7__l1,ew:0:f,100,LT7\n")  # fmt: skip
    assert {s.station_id for s in read_inventory(inv, net)} == {"LT7"}


@pytest.mark.integration
def test_detectors_load_shows_twin_warnings_and_stores_stations(
    net, tmp_path, itms_settings: Settings, monkeypatch, capsys
) -> None:
    network = tmp_path / "net.geojson"
    network.write_text(json.dumps(NETWORK), encoding="utf-8")
    inv = _inventory(tmp_path, "detector_id,lon,lat,direction,station_id\n"
                     f"LT7__l0,{BESIDE},WB,LT7\nLT7__l1,{BESIDE},WB,LT7\n"
                     f"LT8,{BESIDE},EB,\nL1,{BESIDE},,\n")  # fmt: skip
    monkeypatch.setenv("ITMS_DATABASE_URL", itms_settings.dsn)
    with psycopg.connect(itms_settings.dsn) as conn:
        sync_network(conn, net)
    assert main(["detectors", "load", str(inv), "--network", str(network)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "stored 4 detectors"
    assert out[1:] == [f"warning: {inv}:5: detector L1 is as close to ew:0:f as to ew:0:r (the"
                       " two directions of one road); placed on ew:0:f: give bearing_deg or"
                       " direction to choose"]  # fmt: skip
    with psycopg.connect(itms_settings.dsn) as conn:
        stored = conn.execute(
            "SELECT detector_id, segment_id, station_id FROM detector ORDER BY detector_id"
        ).fetchall()
        stations = station_inventory(conn)
    assert stored == [("L1", "ew:0:f", None), ("LT7__l0", "ew:0:r", "LT7"),
                      ("LT7__l1", "ew:0:r", "LT7"), ("LT8", "ew:0:f", None)]  # fmt: skip
    assert [(s.station_id, s.segment_id) for s in stations] == [
        ("L1", "ew:0:f"), ("LT7", "ew:0:r"), ("LT8", "ew:0:f")]  # fmt: skip
