"""GPS fixes → Kafka → probe worker (validation, dead letters, online map matching,
traversals) → PostgreSQL → state builder → API; plus exactly-once behaviour of the
stateful worker across crashes and different poll sizes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import psycopg
import pytest
from fastapi.testclient import TestClient
from kafka.structs import TopicPartition

from analytics.workers.probe_worker import ProbeResults
from analytics.workers.state_builder import StateBuilder
from ingest.deadletter import parse_headers
from ingest.kafka.clients import make_consumer, make_producer
from itms.settings import Settings
from itms.wiring.api import build_app
from itms.wiring.workers import build_probe_worker
from roadnet import load_network
from roadnet import model as m
from roadnet.model import RoadNetwork
from store.network_writer import sync_network
from tests.integration.probe_feed import drive, route_from

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def network() -> RoadNetwork:
    return load_network()


def _publish(settings: Settings, values: list[tuple[bytes | None, bytes]]) -> None:
    producer = make_producer(settings.kafka)
    for key, value in values:
        producer.send(settings.topic("gps"), key=key, value=value)
    producer.flush()
    producer.close()


def _drain(worker, until: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        worker.step(timeout_ms=300)
        if until():
            worker.checkpoint()
            return
    raise AssertionError(f"condition not met in {timeout_s} s; stats {worker.stats}")


def _dead_letters(settings: Settings, expected: int, timeout_s: float = 30.0) -> list:
    return _read_topic(settings, "deadletter", expected, timeout_s)


def _read_topic(settings: Settings, name: str, expected: int, timeout_s: float = 30.0) -> list:
    """Records of topic ``name`` (logical name) from the beginning, until ``expected`` came."""
    consumer = make_consumer(settings.kafka, None, consumer_timeout_ms=1000)
    topic = settings.topic(name)
    consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])
    consumer.seek_to_beginning()
    out: list = []
    deadline = time.monotonic() + timeout_s
    while len(out) < expected and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            out.extend(records)
    consumer.close()
    return out


def _traversals(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT segment_id, minute, vehicle_id, entry_ts, exit_ts, speed_kmh, dwell_s,"
            " vehicle_type FROM probe_traversal ORDER BY vehicle_id, entry_ts, segment_id"
        ).fetchall()


def _cells(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT * FROM probe_cell ORDER BY segment_id, minute, source, seq"
        ).fetchall()


def _cell_sums(dsn: str) -> list[tuple]:
    """Per segment-minute (the key the state builder reads): the summed distance, time and
    vehicles (the rows' grouping follows the checkpoints; the sums must not)."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT segment_id, minute, sum(distance_cm), sum(time_ms), sum(vehicles)"
            " FROM probe_cell GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()


def _presence(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT * FROM probe_presence ORDER BY as_of, vehicle_id").fetchall()


def _stored_offsets(dsn: str, group: str) -> int:
    """Messages covered by the stored checkpoints of consumer group ``group``."""
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT coalesce(sum(next_offset), 0) FROM consumer_checkpoint"
                            " WHERE consumer_group = %s", (group,)).fetchone()[0]  # fmt: skip


def _undisturbed_reference(
    settings: Settings, db_factory, network: RoadNetwork, values: list, **worker_attrs
) -> Settings:
    """Publish ``values``, store the network in ``settings``' database and in a fresh
    reference database, and run one undisturbed worker (big polls, one checkpoint at the end,
    ``worker_attrs`` set on it) into the reference; returns the reference's settings."""
    _publish(settings, values)
    reference = settings.model_copy(update={"database_url": db_factory()})
    for s in (settings, reference):
        with psycopg.connect(s.dsn) as conn:
            sync_network(conn, network)
    ref = build_probe_worker(reference, network, group="g-ref", checkpoint_every_s=3600)
    for name, value in worker_attrs.items():
        setattr(ref, name, value)
    try:
        _drain(ref, lambda: ref.stats.consumed >= len(values))
    finally:
        ref.close()
    return reference


def _start_ms() -> int:
    return (int(time.time()) // 60 - 20) * 60_000


def test_fixes_become_traversals_states_and_api_rows(itms_settings, network) -> None:
    settings = itms_settings
    with psycopg.connect(settings.dsn) as conn:
        sync_network(conn, network)
    seg = network.segments
    start = int(seg.index[(seg[m.NAME] == "Lạch Tray") & (seg[m.LENGTH] > 200)][0])
    route = route_from(network, start, 6)
    assert len(route) == 6
    t0 = _start_ms()
    speeds = {"car-20": 20.0, "car-30": 30.0, "car-45": 45.0, "car-60": 60.0}
    values: list[tuple[bytes | None, bytes]] = []
    for vid, v in speeds.items():
        values += drive(network, route, vid, t0, v, 5.0)
    values.insert(7, (b"car-20", b"\xff\x00 not json"))
    values.insert(11, (b"car-30", b'{"vehicle_id": "car-30", "ts": 1, "lon": 106.6, "lat": 95}'))
    _publish(settings, values)

    worker = build_probe_worker(settings, network, group="g-slice", checkpoint_every_s=0)
    try:
        _drain(worker, lambda: worker.stats.consumed >= len(values))
    finally:
        worker.close()
    stored = _traversals(settings.dsn)
    ids = network.segments[m.SEGMENT_ID].to_numpy()
    inner = {ids[i] for i in route[1:4]}  # fully driven, decided well before the feed ends
    for vid, v in speeds.items():
        mine = {r[0]: r for r in stored if r[2] == vid}
        assert inner <= set(mine), f"{vid} misses traversals of {inner - set(mine)}"
        for sid in inner:
            assert mine[sid][5] == pytest.approx(v, rel=0.02)  # the driven speed
            assert mine[sid][7] == "car"

    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        built = StateBuilder(network).step(conn)
        states = conn.execute(
            "SELECT s.segment_id, s.minute, s.speed_kmh, s.n_vehicles, s.source,"
            " (SELECT count(*) / sum(1.0 / t.speed_kmh) FROM probe_traversal t"
            "   WHERE t.segment_id = s.segment_id AND t.minute = s.minute),"
            " (SELECT count(DISTINCT t.vehicle_id) FROM probe_traversal t"
            "   WHERE t.segment_id = s.segment_id AND t.minute = s.minute),"
            " (SELECT sum(c.distance_cm)::float8 / sum(c.time_ms) * 36 FROM probe_cell c"
            "   WHERE c.segment_id = s.segment_id AND c.minute = s.minute"
            "   HAVING sum(c.time_ms) >= 10000),"
            " (SELECT sum(c.vehicles) FROM probe_cell c"
            "   WHERE c.segment_id = s.segment_id AND c.minute = s.minute)"
            " FROM segment_state s WHERE s.source = 'probe'"
        ).fetchall()
        kpis = conn.execute("SELECT count(*), max(vehicle_km) FROM network_kpi").fetchone()
    assert built and states
    # a minute is measured by the probes' space-time cells where they were there 10 s or
    # more (Edie's space-mean speed), else by the traversals timed in it
    for _, _, speed, n_veh, _, hm, distinct, edie, in_cells in states:
        assert speed == pytest.approx(float(edie if edie is not None else hm), rel=1e-3)
        assert n_veh == max(distinct, in_cells if edie is not None else 0)
    cells = [c for c in _cells(settings.dsn) if c[0] in inner]
    lengths = dict(zip(ids, network.segments[m.LENGTH], strict=True))
    for sid in inner:  # every vehicle drove all of it: the cells hold its length 4 times
        got = sum(c[4] for c in cells if c[0] == sid) / 100.0
        assert got == pytest.approx(4 * lengths[sid], rel=0.02)
    alone = [c for c in cells if c[6] == 1 and c[5] >= 5000]
    assert alone
    for seg_id, _, _, _, cm, ms, _ in alone:  # one vehicle's cell: its driven speed
        kmh = cm / ms * 36.0
        assert min(abs(kmh / v - 1.0) for v in speeds.values()) < 0.05, (seg_id, kmh)
    assert kpis[0] == len(built) and kpis[1] > 0

    letters = _dead_letters(settings, 2)
    meta = [parse_headers(r.headers) for r in letters]
    assert sorted(d["code"] for d in meta) == ["decode", "schema"]
    assert any("lat" in d["reason"] for d in meta)
    assert b"\xff\x00 not json" in {r.value for r in letters}  # original bytes kept

    # every probe speed published, however few vehicles (the privacy rule has its own tests)
    with TestClient(build_app(settings.model_copy(update={"privacy_min_vehicles": 1}))) as client:
        body = client.get("/v1/segments/current").json()
    by_id = {s["segment_id"]: s for s in body}
    assert inner <= set(by_id)
    assert all(0 < by_id[s]["speed_kmh"] < 70 for s in inner)


def _fleet_feed(network: RoadNetwork, crawlers: int = 0) -> list[tuple[bytes, bytes]]:
    """24 vehicles driving 12 segments each at 18–64 km/h, and ``crawlers`` crawling at 5 km/h
    over two segments (presence records). The whole feed lies in the past, minute-aligned: the
    worker refuses fixes from the future, and which of them it refused would depend on when
    it read them."""

    def build(t0: int) -> list[tuple[bytes, bytes]]:
        values = []
        n = len(network.segments)
        for k in range(24):
            route = route_from(network, (k * 37) % n, 12)
            values += drive(network, route, f"v{k:02d}", t0 + k * 1500, 18.0 + 2 * k, 4.0)
        for k in range(crawlers):
            route = route_from(network, (k * 53 + 11) % n, 2)
            values += drive(network, route, f"c{k:02d}", t0 + k * 2500, 5.0, 5.0)
        values.sort(key=lambda kv: kv[1][kv[1].index(b'"ts"') :])  # interleave by time
        return values

    span_min = max(json.loads(v)["ts"] for _, v in build(0)) // 60_000 + 1
    return build((int(time.time()) // 60 - span_min - 2) * 60_000)


def test_crashes_and_poll_sizes_never_change_the_stored_traversals(
    itms_settings, db_factory, network, monkeypatch
) -> None:
    values = _fleet_feed(network, crawlers=3)
    reference = _undisturbed_reference(itms_settings, db_factory, network, values)
    expected = _traversals(reference.dsn)
    assert len(expected) > 100
    presence = _presence(reference.dsn)
    # the crawlers are recorded at minute boundaries; vehicles at 40 km/h or more never
    recorded = {r[2] for r in presence}
    assert {"c00", "c01", "c02"} <= recorded
    assert not {f"v{k:02d}" for k in range(11, 24)} & recorded
    assert len(presence) > 9 and all(r[0].second == 0 for r in presence)

    # Runs that die inside their checkpoint transaction (written in the background) after a
    # few small polls.
    consumed = 0
    real_store = ProbeResults.store
    for crash_at in (2, 3, 5):
        worker = build_probe_worker(itms_settings, network, group="g-crash", checkpoint_every_s=0)
        worker.max_records = 97
        assert worker.background_checkpoints
        calls: list[int] = []

        def store_then_die(results, conn, calls=calls, crash_at=crash_at):
            real_store(results, conn)
            calls.append(1)
            if len(calls) == crash_at:
                raise KeyboardInterrupt("simulated crash before commit")

        monkeypatch.setattr(ProbeResults, "store", store_then_die)
        with pytest.raises(KeyboardInterrupt):
            _drain(worker, lambda: False, timeout_s=60)
        consumed += worker.stats.consumed
        worker.close()
    monkeypatch.setattr(ProbeResults, "store", real_store)
    # One more dies after its database commit, before telling Kafka; the last one finishes.
    worker = build_probe_worker(itms_settings, network, group="g-crash", checkpoint_every_s=0)
    worker.max_records = 211
    worker._commit_kafka = lambda offsets: None
    _drain(worker, lambda: worker.stats.checkpoints >= 4, timeout_s=60)
    worker.close()
    last = build_probe_worker(itms_settings, network, group="g-crash", checkpoint_every_s=0)
    last.max_records = 500
    done_before = _stored_offsets(itms_settings.dsn, "g-crash")
    try:
        _drain(last, lambda: done_before + last.stats.consumed >= len(values))
    finally:
        last.close()
    assert _traversals(itms_settings.dsn) == expected
    assert _presence(itms_settings.dsn) == presence
    assert _cell_sums(itms_settings.dsn) == _cell_sums(reference.dsn) != []


def test_a_pause_in_the_stream_stores_the_waiting_results_at_once(itms_settings, network) -> None:
    """Results wait for the next checkpoint (here an hour away) only while messages keep
    coming: the first poll that finds nothing new, after a short timeout, stores them."""
    values = _fleet_feed(network)[:400]
    _publish(itms_settings, values)
    with psycopg.connect(itms_settings.dsn) as conn:
        sync_network(conn, network)
    worker = build_probe_worker(itms_settings, network, group="g-pause", checkpoint_every_s=3600)
    try:
        deadline = time.monotonic() + 60
        while worker.stats.consumed < len(values) and time.monotonic() < deadline:
            worker.step(timeout_ms=300)
        assert worker.stats.consumed == len(values)
        began = time.monotonic()
        while (_stored_offsets(itms_settings.dsn, "g-pause") < len(values)
               and time.monotonic() - began < 2.5):  # fmt: skip
            worker.step(timeout_ms=5000)  # nothing new: short polls while results wait
        # within 2.5 s, not after the 5-s poll
        assert _stored_offsets(itms_settings.dsn, "g-pause") == len(values)
        assert _traversals(itms_settings.dsn)
    finally:
        worker.close()


def test_a_refused_background_checkpoint_is_redone_without_loss(
    itms_settings, db_factory, network, monkeypatch
) -> None:
    """The database refuses one checkpoint written in the background: the worker drops it
    and everything processed since, replays the partitions message by message from the stored
    checkpoints, and ends with exactly the traversals of an undisturbed run."""
    values = _fleet_feed(network)
    reference = _undisturbed_reference(itms_settings, db_factory, network, values,
                                       background_checkpoints=False)  # fmt: skip
    expected = _traversals(reference.dsn)

    real_store, calls = ProbeResults.store, []

    def refuse_once(results, conn):
        calls.append(1)
        if len(calls) == 3:
            raise psycopg.errors.DataError("simulated refusal of the third checkpoint")
        real_store(results, conn)

    monkeypatch.setattr(ProbeResults, "store", refuse_once)
    worker = build_probe_worker(itms_settings, network, group="g-refuse", checkpoint_every_s=0)
    worker.max_records = 150

    try:
        _drain(worker, lambda: _stored_offsets(itms_settings.dsn, "g-refuse") >= len(values),
               timeout_s=120)  # fmt: skip
    finally:
        worker.close()
    assert worker.stats.processing_errors == 1 and worker.stats.dead_lettered == 0
    assert len(calls) > 3
    assert _traversals(itms_settings.dsn) == expected
