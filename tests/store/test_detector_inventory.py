"""Detector inventories on two-way roads and per-lane loops forming stations (issue 22,
item 3). The placement tests need no database; the station tests use the real PostgreSQL."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from analytics.incidents.inputs import station_minute
from roadnet import load_network
from roadnet.model import RoadNetwork
from roadnet.placement import bearing_at, direction_deg
from store.detectors import read_inventory, sync_detectors
from store.incident_inputs import occupancy_profile, station_inventory, station_readings
from store.network_writer import sync_network
from store.partitions import PartitionManager
from store.segment_measurements import read_window


@pytest.fixture(scope="module")
def net() -> RoadNetwork:
    return load_network()


def _two_way(net: RoadNetwork) -> tuple[int, int, float, float, float]:
    """A long two-way segment, its twin, and the lon/lat and bearing of its midpoint."""
    rev = net.reverse
    lengths = net.segments["length_m"].to_numpy()
    k = int(np.flatnonzero((rev >= 0) & (lengths > 200))[0])
    lon, lat = net.segments.geometry.iloc[k].interpolate(0.5, normalized=True).coords[0]
    bearing = float(bearing_at(net.geom_m[[k]], np.array([lengths[k] / 2]))[0])
    return k, int(rev[k]), lon, lat, bearing


def _ids(net: RoadNetwork, *k: int) -> list[str]:
    return [str(net.segments["segment_id"].iloc[i]) for i in k]


def test_bearing_chooses_the_direction_on_a_shared_centre_line(net, tmp_path, caplog) -> None:
    k, twin, lon, lat, bearing = _two_way(net)
    inv = tmp_path / "inv.csv"
    inv.write_text("detector_id,lon,lat,bearing_deg,direction\n"
                   f"with,{lon},{lat},{bearing + 10},\n"
                   f"against,{lon},{lat},{bearing + 190},\n"
                   f"compass,{lon},{lat},,{_compass(bearing + 180)}\n")  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="store.detectors"):
        sites = {s.detector_id: s.segment_id for s in read_inventory(inv, net)}
    assert sites == dict(zip(["with", "against", "compass"], _ids(net, k, twin, twin),
                             strict=True))  # fmt: skip
    assert caplog.records == []


def _compass(bearing: float) -> str:
    names = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"]
    return names[int(((bearing % 360) + 22.5) // 45) % 8] + "B"


def test_equally_close_twins_are_warned_about(net, tmp_path, caplog) -> None:
    k, twin, lon, lat, _ = _two_way(net)
    inv = tmp_path / "inv.csv"
    inv.write_text(f"detector_id,lon,lat\nmid,{lon},{lat}\n")
    with caplog.at_level(logging.WARNING, logger="store.detectors"):
        (site,) = read_inventory(inv, net)
    assert site.segment_id in _ids(net, k, twin)
    (rec,) = caplog.records
    msg = rec.getMessage()
    assert "inv.csv:2: detector mid is as close to" in msg
    assert all(seg in msg for seg in _ids(net, k, twin))
    assert "give bearing_deg or direction" in msg


def test_a_bearing_no_road_runs_is_an_error(net, tmp_path) -> None:
    _, _, lon, lat, bearing = _two_way(net)
    inv = tmp_path / "inv.csv"
    inv.write_text(f"detector_id,lon,lat,bearing_deg\nx,{lon},{lat},{bearing + 90}\n")
    with pytest.raises(ValueError, match=r"inv\.csv:2: no road running .* within 30 m"):
        read_inventory(inv, net)
    inv.write_text(f"detector_id,lon,lat,direction\nx,{lon},{lat},up\n")
    with pytest.raises(ValueError, match="direction 'up' is not one of"):
        read_inventory(inv, net)


def test_compass_words() -> None:
    assert [direction_deg(w) for w in ("N", "nb", "Eastbound", "SW", "west")] == [
        0.0, 0.0, 90.0, 225.0, 270.0]  # fmt: skip
    with pytest.raises(ValueError):
        direction_deg("B")


def test_a_station_is_on_one_segment(net, tmp_path) -> None:
    k, twin, _, _, _ = _two_way(net)
    a, b = _ids(net, k, twin)
    inv = tmp_path / "inv.csv"
    inv.write_text("detector_id,segment_id,position_m,station_id\n"
                   f"S1__l0,{a},50,S1\nS1__l1,{b},50,S1\n")  # fmt: skip
    with pytest.raises(ValueError, match="station S1 has detectors on two segments"):
        read_inventory(inv, net)


@pytest.mark.integration
def test_per_lane_loops_with_a_station_id_are_one_station(net, itms_settings, tmp_path) -> None:
    k, twin, _, _, _ = _two_way(net)
    a, b = _ids(net, k, twin)
    inv = tmp_path / "inv.csv"
    inv.write_text("detector_id,segment_id,position_m,lanes,station_id\n"
                   f"S1__l0,{a},100,1,S1\nS1__l1,{a},100,1,S1\nS1__l2,{a},104,1,S1\n"
                   f"S2,{b},80,2,\n")  # fmt: skip
    sites = read_inventory(inv, net)
    minute = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    # lanes: 10, 20, 30 vehicles; occupancy 0.1, 0.2, 0.3 (a day earlier 0.2, 0.3, 0.4);
    # speeds 30, 20, 10 km/h
    rows = []
    for day in (0, 1):
        t = minute - timedelta(days=day) + timedelta(minutes=1)
        for lane, (vol, occ, kmh) in enumerate([(10, 0.1, 30.0), (20, 0.2, 20.0),
                                                (30, 0.3, 10.0)]):  # fmt: skip
            rows.append((f"S1__l{lane}", t, 60, vol, occ + 0.1 * day, kmh))
        rows.append(("S2", t, 60, 15, 0.05 + 0.1 * day, 40.0))
    with psycopg.connect(itms_settings.dsn) as conn:
        sync_network(conn, net)
        sync_detectors(conn, sites, net)
        PartitionManager().ensure(conn, "detector_reading", [r[1] for r in rows])
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO detector_reading (detector_id, ts, interval_s, volume, occupancy,"
                " speed_kmh) VALUES (%s, %s, %s, %s, %s, %s)", rows,
            )  # fmt: skip
        stations = station_inventory(conn)
        assert [(s.station_id, s.segment_id) for s in stations] == [("S1", a), ("S2", b)]
        assert stations[0].position_m == pytest.approx(101.333, abs=1e-3)
        ids = [s.station_id for s in stations]
        got = station_readings(conn, minute, minute + timedelta(minutes=1), ids)
        assert sorted(got.station.tolist()) == [0, 0, 0, 1]
        # as the incident worker sees them: one station, lanes averaged / summed
        occ, vol, kmh = station_minute(got.station, got.volume, got.occupancy, got.speed_kmh, 2)
        assert occ.tolist() == pytest.approx([0.2, 0.05])
        assert vol.tolist() == [60, 15]
        assert kmh.tolist() == pytest.approx([60 / (10 / 30 + 20 / 20 + 30 / 10), 40.0])
        # the profile is of the station's occupancy (lanes averaged per reading time): S1
        # 0.2 and 0.3, not the six lanes' readings (whose spread would be 0.10)
        mean, std = occupancy_profile(conn, minute + timedelta(days=1), 2, ids)
        assert mean.tolist() == pytest.approx([0.25, 0.1])
        assert std.tolist() == pytest.approx([0.1 / 2**0.5, 0.1 / 2**0.5])
        index = {s: i for i, s in enumerate(net.segments["segment_id"])}
        window = read_window(conn, index, minute, 1)
    # the segment's traffic is the station's: lanes summed, harmonic speed weighted by volume
    assert window.detector_volume[0, index[a]] == 60
    assert window.detector_kmh[0, index[a]] == pytest.approx(60 / (10 / 30 + 20 / 20 + 30 / 10))
    assert window.detector_volume[0, index[b]] == 15
