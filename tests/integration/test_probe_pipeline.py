"""The thin end-to-end slice against the real broker and database.

GPS fixes → Kafka → probe worker (validation, dead letters, nearest segment,
per-minute aggregation) → PostgreSQL → API; plus exactly-once behaviour when a
worker dies before or after its database commit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from kafka.structs import TopicPartition

from analytics.network import load_network
from analytics.network import model as m
from analytics.network.model import RoadNetwork
from analytics.workers.probe_worker import build_probe_worker
from api.app import create_app
from ingest.deadletter import parse_headers
from ingest.kafka.clients import make_consumer, make_producer
from itms.settings import Settings
from store.network_writer import sync_network

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def network() -> RoadNetwork:
    return load_network()


def _segment_point(network: RoadNetwork, segment_id: str) -> tuple[float, float]:
    """A point (lon, lat) 30 % along a segment."""
    import shapely

    i = network.index_of(segment_id)
    p = shapely.line_interpolate_point(network.geom_m[i], 0.3, normalized=True)
    lon, lat = network.projector.to_wgs84(np.array([p.x]), np.array([p.y]))
    return float(lon[0]), float(lat[0])


def _fix(vehicle: str, ts_ms: int, lonlat: tuple[float, float], speed: float) -> bytes:
    return json.dumps(
        {
            "vehicle_id": vehicle,
            "ts": ts_ms,
            "lon": lonlat[0],
            "lat": lonlat[1],
            "speed_kmh": speed,
            "vehicle_type": "motorbike",
        }
    ).encode()


def _publish(settings: Settings, values: list[tuple[bytes | None, bytes]]) -> None:
    producer = make_producer(settings)
    for key, value in values:
        producer.send(settings.topic("gps"), key=key, value=value)
    producer.flush()
    producer.close()


def _drain(worker, until: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        worker.step(timeout_ms=300)
        if until():
            return
    raise AssertionError(f"condition not met in {timeout_s} s; stats {worker.stats}")


def _stored(settings: Settings, segment_id: str) -> tuple | None:
    with psycopg.connect(settings.dsn) as conn:
        return conn.execute(
            "SELECT n_samples, n_vehicles, speed_kmh FROM segment_state WHERE segment_id = %s",
            (segment_id,),
        ).fetchone()


def _dead_letters(settings: Settings, expected: int, timeout_s: float = 30.0) -> list:
    consumer = make_consumer(settings, None, consumer_timeout_ms=1000)
    topic = settings.topic("deadletter")
    consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])
    consumer.seek_to_beginning()
    out: list = []
    deadline = time.monotonic() + timeout_s
    while len(out) < expected and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            out.extend(records)
    consumer.close()
    return out


@pytest.fixture
def slice_setup(itms_settings: Settings, network: RoadNetwork):
    with psycopg.connect(itms_settings.dsn) as conn:
        sync_network(conn, network)
    seg = network.segments
    seg_id = seg["segment_id"][(seg["name"] == "Lạch Tray") & (seg["length_m"] > 200)].iloc[0]
    minute0 = (int(time.time()) // 60 - 1) * 60 * 1000  # start of the previous minute
    point = _segment_point(network, seg_id)
    return itms_settings, seg_id, minute0, point


def test_fixes_flow_to_segment_state_and_bad_ones_to_dead_letter(slice_setup, network) -> None:
    settings, seg_id, minute0, point = slice_setup
    speeds = [20.0, 30.0, 40.0, 60.0]
    values: list[tuple[bytes | None, bytes]] = []
    for k in range(5):  # 5 fixes per vehicle, 4 vehicles, inside one minute
        for v, speed in enumerate(speeds):
            values.append(
                (f"veh-{v}".encode(), _fix(f"veh-{v}", minute0 + k * 10_000, point, speed))
            )
        if k == 2:  # malformed messages mixed into valid traffic
            values.append((b"veh-0", b"\xff\x00 not json"))
            values.append((b"veh-1", _fix("veh-1", minute0, (106.68, 95.0), 10.0)))
    _publish(settings, values)

    worker = build_probe_worker(settings, network, group="g-slice")
    try:
        _drain(worker, lambda: worker.stats.consumed >= len(values))
    finally:
        worker.close()
    n_fixes, n_vehicles, speed = _stored(settings, seg_id)
    assert (n_fixes, n_vehicles) == (20, 4)
    harmonic = len(speeds) / sum(1 / s for s in speeds)
    assert speed == pytest.approx(harmonic, rel=1e-4)

    letters = _dead_letters(settings, 2)
    assert len(letters) == 2
    meta = [parse_headers(r.headers) for r in letters]
    assert {d["code"] for d in meta} == {"decode", "schema"}
    assert any("lat" in d["reason"] for d in meta)
    assert all(d["source.topic"] == settings.topic("gps") for d in meta)
    raw = {r.value for r in letters}
    assert b"\xff\x00 not json" in raw  # original bytes kept

    client = TestClient(create_app(settings))
    with client:
        body = client.get("/v1/segments/current").json()
    mine = [s for s in body if s["segment_id"] == seg_id]
    assert len(mine) == 1
    assert mine[0]["speed_kmh"] == pytest.approx(harmonic, rel=1e-4)
    assert mine[0]["name"] == "Lạch Tray"
    assert mine[0]["travel_time_s"] == pytest.approx(
        float(network.segments.loc[network.index_of(seg_id), m.LENGTH]) / (harmonic / 3.6), rel=1e-3
    )


def test_worker_dying_before_or_after_commit_never_loses_or_double_counts(slice_setup, network):
    settings, seg_id, minute0, point = slice_setup
    values = [
        (f"v{v}".encode(), _fix(f"v{v}", minute0 + k * 5_000, point, 30.0))
        for k in range(6)
        for v in range(10)
    ]
    _publish(settings, values)

    # 1. The worker dies inside its transaction: nothing is stored, nothing committed.
    crashing = build_probe_worker(settings, network, group="g-crash")
    original_store = crashing.processor.store

    def store_then_die(conn, result):
        original_store(conn, result)
        raise KeyboardInterrupt("simulated crash before commit")

    crashing.processor.store = store_then_die
    with pytest.raises(KeyboardInterrupt):
        _drain(crashing, lambda: False, timeout_s=30)
    crashing.close()
    assert _stored(settings, seg_id) is None

    # 2. A worker stores everything but dies before committing to Kafka.
    second = build_probe_worker(settings, network, group="g-crash")
    second._commit_kafka = lambda offsets: None
    try:
        _drain(second, lambda: second.stats.consumed >= len(values))
    finally:
        second.close()
    assert _stored(settings, seg_id)[:2] == (60, 10)

    # 3. The restarted worker resumes from the database checkpoint: no double count.
    third = build_probe_worker(settings, network, group="g-crash")
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            third.step(timeout_ms=300)
        assert third.expected  # it was assigned partitions and loaded their checkpoints
        assert third.stats.consumed == 0
    finally:
        third.close()
    assert _stored(settings, seg_id)[:2] == (60, 10)


def test_replay_of_a_csv_shows_in_segment_speeds(slice_setup, network, tmp_path, monkeypatch):
    from itms.cli import main

    settings, seg_id, minute0, point = slice_setup
    lines = ["vehicle_id,ts,lat,lon,speed_kmh,vehicle_type"]
    for k in range(3):
        for v in range(3):
            lines.append(f"car-{v},{minute0 + k * 15_000},{point[1]},{point[0]},{45.0},car")
    path = tmp_path / "recorded.csv"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("ITMS_KAFKA_BOOTSTRAP", settings.bootstrap_servers)
    monkeypatch.setenv("ITMS_DATABASE_URL", settings.dsn)
    monkeypatch.setenv("ITMS_TOPIC_PREFIX", settings.topic_prefix)
    assert main(["replay", "gps", str(path), "--fast"]) == 0

    worker = build_probe_worker(settings, network, group="g-replay")
    try:
        _drain(worker, lambda: worker.stats.consumed >= 9)
    finally:
        worker.close()
    n_fixes, n_vehicles, speed = _stored(settings, seg_id)
    assert (n_fixes, n_vehicles) == (9, 3)
    assert speed == pytest.approx(45.0)
