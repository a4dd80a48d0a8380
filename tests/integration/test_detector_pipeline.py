"""Detector readings through Kafka into the store, with the inventory and health queries."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from analytics.workers.state_builder import StateBuilder
from ingest.deadletter import parse_headers
from ingest.kafka.clients import make_producer
from itms.wiring.workers import build_detector_worker
from roadnet import load_network
from store import queries
from store.detectors import read_inventory, sync_detectors
from store.network_writer import sync_network
from tests.integration.test_probe_pipeline import _dead_letters

pytestmark = pytest.mark.integration


def test_readings_are_stored_once_and_bad_ones_dead_lettered(itms_settings, tmp_path) -> None:
    net = load_network()
    seg = net.segments["segment_id"][net.segments["name"] == "Lạch Tray"].iloc[0]
    inv = tmp_path / "detectors.csv"
    inv.write_text(f"detector_id,segment_id,position_m,lanes,kind\nLT-01,{seg},120,2,loop\n"
                   "LT-02,,,,camera\n")  # fmt: skip
    with pytest.raises(ValueError, match="give segment_id or lon and lat"):
        read_inventory(inv, net)
    lon, lat = net.segments.geometry.iloc[0].interpolate(0.5, normalized=True).coords[0]
    inv.write_text("detector_id,segment_id,position_m,lon,lat,kind\n"
                   f"LT-01,{seg},120,,,loop\nLT-02,,,{lon},{lat},camera\n")  # fmt: skip
    sites = read_inventory(inv, net)
    with psycopg.connect(itms_settings.dsn) as conn:
        sync_network(conn, net)
        assert sync_detectors(conn, sites, net) == 2
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    values = []
    for k in range(10):
        ts = int((end - timedelta(minutes=9 - k)).timestamp() * 1000)
        values.append({"detector_id": "LT-01", "ts": ts, "interval_s": 60, "volume": 20 + k,
                       "occupancy": 0.1 + k / 100, "speed_kmh": 40.0 - k})  # fmt: skip
    bad = [{"detector_id": "LT-01", "ts": values[0]["ts"], "interval_s": 60, "volume": 5,
            "occupancy": 1.7}, "not json at all"]  # fmt: skip
    producer = make_producer(itms_settings.kafka)
    for v in [*values, *bad, *values[:3]]:  # the last three are re-deliveries
        raw = v if isinstance(v, str) else json.dumps(v)
        producer.send(itms_settings.topic("detectors"), key=b"LT-01", value=raw.encode())
    producer.flush()
    worker = build_detector_worker(itms_settings, group="g-det")
    try:
        deadline = time.monotonic() + 60
        while worker.stats.consumed < 15 and time.monotonic() < deadline:
            worker.step(timeout_ms=300)
    finally:
        worker.close()
    assert worker.stats.consumed == 15 and worker.stats.dead_lettered == 2
    with psycopg.connect(itms_settings.dsn) as conn:
        got = queries.detector_readings(
            conn, "LT-01", end - timedelta(hours=1), end + timedelta(minutes=1)
        )
        health = {h["detector_id"]: h for h in queries.detector_health(
            conn, now=end, window=timedelta(minutes=10))}  # fmt: skip
        placed = conn.execute(
            "SELECT segment_id FROM detector WHERE detector_id = 'LT-02'"
        ).fetchone()[0]
    assert [g["volume"] for g in got] == [20 + k for k in range(10)]
    assert health["LT-01"]["completeness"] == pytest.approx(1.0)
    assert health["LT-02"]["readings"] == 0
    # placed on the road it stands on, in either direction
    assert placed.rsplit(":", 1)[0] == net.segments["segment_id"].iloc[0].rsplit(":", 1)[0]
    letters = [parse_headers(r.headers) for r in _dead_letters(itms_settings, 2)]
    assert sorted(d["code"] for d in letters) == ["decode", "schema"]
    assert any("occupancy" in d["reason"] for d in letters)

    # the state builder turns the readings into detector-sourced segment states
    with psycopg.connect(itms_settings.dsn, autocommit=True) as conn:
        StateBuilder(net).step(conn)
        rows = dict(conn.execute(
            "SELECT minute, speed_kmh FROM segment_state"
            " WHERE segment_id = %s AND source = 'detector'", (seg,)).fetchall())  # fmt: skip
    for k in range(10):  # a reading ending at minute m + 1 describes minute m
        assert rows[end - timedelta(minutes=10 - k)] == pytest.approx(40.0 - k)
