"""Incident worker against the real PostgreSQL and Kafka: a queue in the probe data becomes
one incident, suspected → confirmed → cleared, stored with its history, published on the
incidents topic, and neither a restart nor a re-run duplicates anything. Minutes are decided
as the probe worker's stored progress (its checkpoint watermark) passes them."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest

from analytics.workers.incident_worker import IncidentService, relay
from analytics.workers.probe_worker import PROBE_GROUP
from ingest.kafka.clients import make_producer
from itms.settings import Settings
from roadnet import load_network
from roadnet.model import RoadNetwork
from simulators.synthetic_grid import write_grid
from store import incidents as store
from store.checkpoints import advance_checkpoints, load_checkpoints
from store.network_writer import sync_network
from store.queries import incident_history
from store.state_writer import StoreWriter
from store.traversal_writer import TraversalRow, write_presence, write_traversals
from tests.integration.test_probe_pipeline import _read_topic

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 10:00 local
STREET = [f"h1:{k}:f" for k in range(7)]  # one street, eastbound, 7 blocks
QUEUE = {"h1:2:f", "h1:3:f"}  # the queue: head on h1:3:f, h1:4:f downstream is free
INCIDENT = range(10, 20)  # minutes with the queue


@pytest.fixture
def network(tmp_path: Path) -> RoadNetwork:
    return load_network(write_grid(tmp_path / "grid.geojson", rows=3, cols=8, jitter_m=0.0))


def _traversals(minute: int) -> list[tuple]:
    """Three probes per block and minute: 40 km/h, or 6 km/h in the queue."""
    rows = []
    start = T0 + timedelta(minutes=minute)
    for seg in STREET:
        slow = seg in QUEUE and minute in INCIDENT
        for v in range(3):
            exit_ts = start + timedelta(seconds=10 + 15 * v)
            dur = 240.0 if slow else 36.0
            speed = 6.0 if slow else 40.0
            mid = exit_ts - timedelta(seconds=dur / 2)
            rows.append(TraversalRow(seg, mid.replace(second=0, microsecond=0), f"veh-{minute}-{v}",
                                     exit_ts - timedelta(seconds=dur), exit_ts, speed, 0.0,
                                     "car"))  # fmt: skip
    return rows


def _load(dsn: str, minutes: range, network: RoadNetwork, *, before_min: int = 20) -> None:
    """Probe traversals of ``minutes`` and of the ``before_min`` minutes before them (normal
    traffic: the recent baseline a database without speed profiles judges probes by), and
    two detector stations on the street reading normal traffic (today and, for their
    occupancy profile, yesterday)."""
    rows = [r for k in range(minutes.start - before_min, minutes.stop) for r in _traversals(k)]
    readings = [
        (det, T0 + timedelta(days=-day, minutes=k + 1), -1, 60, 20, occ, 38.0)
        for day in (0, 1) for k in minutes
        for det, occ in (("det-a", 0.10 + 0.01 * (k % 3)), ("det-b", 0.09 + 0.01 * (k % 2)))
    ]  # fmt: skip
    writer = StoreWriter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        with conn.transaction():
            sync_network(conn, network)
        writer.prepare(conn, "probe_traversal", {r[1] for r in rows})
        writer.prepare(conn, "detector_reading", {r[1] for r in readings})
        with conn.transaction():
            write_traversals(conn, rows)
            writer.write_readings(conn, readings)
            conn.execute(
                "INSERT INTO detector (detector_id, segment_id, position_m) VALUES"
                " ('det-a', 'h1:0:f', 150), ('det-b', 'h1:5:f', 150)"
            )


HISTORY_DAYS = (1, 2, 5, 6)  # Tuesday, Monday, last Friday and Thursday: four weekdays


def _history(dsn: str, *, slow_days: tuple[int, ...] = ()) -> None:
    """The street's published speeds on four previous weekdays around this time: 40 km/h, or
    6 km/h on the queue's blocks during the incident's minutes of ``slow_days`` (the profile
    and the previous days' slowest speeds a system with history judges by)."""
    from store.rollups import refresh_rollups

    rows = [(seg, T0 - timedelta(days=d) + timedelta(minutes=k),
             6.0 if seg in QUEUE and d in slow_days and k in INCIDENT else 40.0,
             36.0, 50.0, 3, 3, 0, 1.0, 0.9, "probe")
            for d in HISTORY_DAYS for k in range(-15, 45) for seg in STREET]  # fmt: skip
    writer = StoreWriter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        writer.prepare(conn, "segment_state", {r[1] for r in rows})
        with conn.transaction():
            writer.write_states(conn, rows)
            for d in HISTORY_DAYS:
                day = T0 - timedelta(days=d)
                refresh_rollups(conn, day - timedelta(minutes=15), day + timedelta(minutes=45))


def _progress(conn: psycopg.Connection, watermark: datetime, topic: str = "gps") -> None:
    """The probe worker stores a checkpoint of its partition whose newest fix is ``watermark``."""
    part = (topic, 0)
    before = load_checkpoints(conn, PROBE_GROUP, [part]).get(part)
    with conn.transaction():
        advance_checkpoints(conn, PROBE_GROUP, {part: before}, {part: (before or 0) + 10},
                            watermarks={part: watermark})  # fmt: skip


def _run(service: IncidentService, conn: psycopg.Connection, minutes: range) -> list:
    """Let the stored probe progress pass each minute's need (its end)."""
    actions = []
    for k in minutes:
        _progress(conn, service.need(T0 + timedelta(minutes=k)) + timedelta(seconds=1))
        actions.extend(service.step(conn, datetime.now(UTC)))
    return actions


def _events(settings: Settings, expected: int, timeout_s: float = 30.0) -> list:
    return _read_topic(settings, "incidents", expected, timeout_s)


def test_queue_becomes_one_incident_through_its_lifecycle(
    itms_settings: Settings, network: RoadNetwork
) -> None:
    dsn = itms_settings.dsn
    _load(dsn, range(0, 30), network)
    _history(dsn)  # four weekdays of free-flowing traffic at this time
    producer = make_producer(itms_settings.kafka)
    topic = itms_settings.topic("incidents")

    def send(key: str, value: bytes) -> None:
        producer.send(topic, key=key.encode(), value=value)

    with psycopg.connect(dsn, autocommit=True) as conn:
        first = IncidentService(network)
        assert first.load(conn) is None
        before = _run(first, conn, range(0, 14))
        assert [a.action for a in before] == ["create"]
        # the worker restarts mid-incident: the new one continues from the stored state
        second = IncidentService(network)
        assert second.load(conn) == T0 + timedelta(minutes=13)
        after = _run(second, conn, range(14, 30))
        assert [a.action for a in after] == ["confirm", "clear"]
        # judged against four days' profile, unlike any of them: announced at once
        assert before[0].track.announced and before[0].track.confidence >= 0.5
        published = relay(conn, send, producer.flush)

        rows = store_incidents(conn)
        assert len(rows) == 1
        inc = rows[0]
        assert inc["status"] == "cleared" and inc["segment_id"] == "h1:3:f"
        assert inc["direction"] == "eastbound" and inc["road_name"] == "Street 2"
        # slow traversals from minute 10 are known 45 s after they end; two slow decisions in a
        # row raise it (13:00), three alarm minutes confirm it, three quiet minutes clear it
        assert inc["started_at"] == T0 + timedelta(minutes=13)
        # raised when minute 12 was decided, at its end (as the evaluation times detection)
        assert inc["detected_at"] == T0 + timedelta(minutes=13)
        assert inc["confirmed_at"] == inc["started_at"] + timedelta(minutes=2)
        assert T0 + timedelta(minutes=20) < inc["ended_at"] <= T0 + timedelta(minutes=27)
        assert inc["queue_m"] > 400 and inc["est_delay_s"] > 0 and inc["severity"] >= 2
        assert inc["evidence"]["methods"] == ["probe_drop"]
        assert inc["evidence"]["reference"] == "profile" and inc["evidence"]["reference_days"] == 4
        past = inc["evidence"]["history"]
        assert past["slow_days"] == 0 and past["of"] == 4 and not past["recurs"]
        assert len(first.detector.pairs) == 1  # the two stations were paired and watched
        assert first.detector.station_ids == ["det-a", "det-b"]
        hist = incident_history(conn, inc["incident_id"])
        assert [h["action"] for h in hist] == ["create", "confirm", "clear"]
        assert [h["status"] for h in hist] == ["suspected", "confirmed", "cleared"]
        assert all(h["actor"] == "incident-worker" for h in hist)

        # a re-run of processed minutes, or of the whole period by a fresh worker, does nothing
        assert second.process_minute(conn, T0 + timedelta(minutes=12)) == []
        third = IncidentService(network)
        third.load(conn)
        assert _run(third, conn, range(0, 30)) == []
        assert len(store_incidents(conn)) == 1
        assert relay(conn, send, producer.flush) == 0
    producer.close()

    assert published == 3
    events = _events(itms_settings, 3)
    assert len(events) == 3
    values = sorted((json.loads(e.value) for e in events), key=lambda v: v["seq"])
    assert {e.key.decode() for e in events} == {inc["incident_id"]}
    assert [v["action"] for v in values] == ["create", "confirm", "clear"]
    assert values[0]["incident"]["announced"] is True
    assert values[-1]["incident"]["status"] == values[-1]["status"]


def test_a_queue_that_recurs_at_this_time_is_kept_for_review_with_the_reason(
    itms_settings: Settings, network: RoadNetwork
) -> None:
    """The same queue on two of the four previous weekdays at this time: raised (the profile
    averages it away) but kept for review, its history and the reason stored, nothing
    published; a system without history keeps it for review as well."""
    dsn = itms_settings.dsn
    _load(dsn, range(0, 30), network)
    _history(dsn, slow_days=(2, 5))
    with psycopg.connect(dsn, autocommit=True) as conn:
        actions = _run(IncidentService(network), conn, range(0, 30))
        assert [a.action for a in actions] == ["create", "confirm", "clear"]
        (inc,) = store_incidents(conn)
        assert not inc["announced"] and inc["confidence"] < 0.5
        past = inc["evidence"]["history"]
        assert past["recurs"] and past["slow_days"] == 2 and past["of"] == 4
        note = incident_history(conn, inc["incident_id"])[0]["change"]["note"]
        assert note.startswith("kept for review: slow here at this time on 2 of 4 previous days")
        sent: list[tuple[str, bytes]] = []
        assert relay(conn, lambda k, v: sent.append((k, v)), lambda: None) == 0 and sent == []


def test_without_history_a_queue_is_judged_against_the_recent_baseline(
    itms_settings: Settings, network: RoadNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No speed profiles anywhere (a fresh installation): a queue that has always been there
    is no incident; the same queue after normal traffic is (the lifecycle test); without
    any recent baseline the probes are not judged at all."""
    # the queue is always there
    monkeypatch.setattr(sys.modules[__name__], "INCIDENT", range(-60, 60))
    dsn = itms_settings.dsn
    _load(dsn, range(0, 30), network)
    with psycopg.connect(dsn, autocommit=True) as conn:
        service = IncidentService(network)
        assert _run(service, conn, range(0, 30)) == []
        ref, judged = service._reference(conn, T0 + timedelta(minutes=10))
        k = network.index_of("h1:3:f")
        assert judged is not None and judged[k] and ref[k] == pytest.approx(6.0)
        # a segment nobody drove in the baseline window is not judged
        assert not judged[network.index_of("h1:0:r")] and np.isnan(ref[network.index_of("h1:0:r")])


def test_the_recent_baseline_needs_history_before_the_queue(
    itms_settings: Settings, network: RoadNetwork
) -> None:
    """Data only from the queue's start minus 10 minutes: the baseline (ending 15 minutes
    before each decision) does not exist before the queue, so nothing is raised at once."""
    dsn = itms_settings.dsn
    _load(dsn, range(0, 30), network, before_min=0)
    with psycopg.connect(dsn, autocommit=True) as conn:
        service = IncidentService(network)
        _, judged = service._reference(conn, T0 + timedelta(minutes=12))
        assert judged is not None and not judged.any()
        assert _run(service, conn, range(0, 14)) == []


def test_operator_dismissal_is_respected(itms_settings: Settings, network: RoadNetwork) -> None:
    dsn = itms_settings.dsn
    _load(dsn, range(0, 30), network)
    with psycopg.connect(dsn, autocommit=True) as conn:
        service = IncidentService(network)
        created = _run(service, conn, range(0, 13))
        assert [a.action for a in created] == ["create"]
        iid = created[0].track.incident_id
        store.apply_action(conn, iid, action="dismiss", actor="operator-7", note="roadworks")
        # the queue persists: no new incident, no automatic action on the dismissed one
        assert _run(service, conn, range(13, 30)) == []
        rows = store_incidents(conn)
        assert [(r["incident_id"], r["status"]) for r in rows] == [(iid, "dismissed")]
        assert [h["actor"] for h in incident_history(conn, iid)] == [
            "incident-worker",
            "operator-7",
        ]


def store_incidents(conn: psycopg.Connection) -> list[dict]:
    from store.queries import incidents

    return [store.get_incident(conn, r["incident_id"])
            for r in incidents(conn, limit=50, announced=None)]  # also those kept for review


def test_worker_loop_leads_detects_and_publishes(
    itms_settings: Settings, network: RoadNetwork
) -> None:
    """The process loop (leader lock, minute steps, relay to Kafka) on a clock that runs a
    minute per iteration."""
    import threading

    from itms.wiring.incidents import run_incident_worker

    _load(itms_settings.dsn, range(0, 30), network)
    _history(itms_settings.dsn)
    stop = threading.Event()
    worker = threading.Thread(target=run_incident_worker, args=(itms_settings, network, stop),
                              kwargs={"interval_s": 0.05})  # fmt: skip
    worker.start()
    try:
        with psycopg.connect(itms_settings.dsn, autocommit=True) as conn:
            # the probe worker of this environment (its topic) stores progress minute by minute
            for k in range(3, 31, 3):
                _progress(conn, T0 + timedelta(minutes=k), itms_settings.topic("gps"))
                time.sleep(0.2)
            last = T0 + timedelta(minutes=28)  # need(28) = 29:00 < watermark 30:00 = need(29)
            deadline = time.monotonic() + 60
            while _processed(conn) != last and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _processed(conn) == last
    finally:
        stop.set()
        worker.join(timeout=60)
    assert not worker.is_alive()
    events = [json.loads(e.value) for e in _events(itms_settings, 3)]
    assert sorted(v["action"] for v in events) == ["clear", "confirm", "create"]
    with psycopg.connect(itms_settings.dsn) as conn:
        assert [r["status"] for r in store_incidents(conn)] == ["cleared"]
        assert store.relay_position(conn, "kafka-incidents") == max(v["seq"] for v in events)


def _processed(conn: psycopg.Connection) -> datetime | None:
    row = conn.execute("SELECT minute FROM incident_progress").fetchone()
    return row and row[0]


def test_operator_reported_incident_is_not_duplicated(
    itms_settings: Settings, network: RoadNetwork
) -> None:
    dsn = itms_settings.dsn
    _load(dsn, range(0, 30), network)
    point = network.segments.geometry.iloc[network.index_of("h1:3:f")].interpolate(
        0.5, normalized=True
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        store.create_incident(
            conn, kind="crash", severity=3, segment_id="h1:3:f", lon=point.x, lat=point.y,
            road_name="Street 2", direction="eastbound", started_at=T0 + timedelta(minutes=9),
            source="operator", evidence={"call": "hotline"}, est_delay_s=None,
            actor="operator-7", incident_id="op-1",
        )  # fmt: skip
        assert _run(IncidentService(network), conn, range(0, 30)) == []
        rows = store_incidents(conn)
        assert [(r["incident_id"], r["status"]) for r in rows] == [("op-1", "suspected")]


def test_minutes_wait_for_the_slowest_input_but_not_for_a_silent_one(
    itms_settings: Settings, network: RoadNetwork
) -> None:
    from analytics.workers.detector_worker import DETECTOR_GROUP
    from analytics.workers.incident_worker import IncidentWorkerParams

    dsn = itms_settings.dsn
    _load(dsn, range(0, 30), network)
    service = IncidentService(network, IncidentWorkerParams(max_wait_s=180.0))
    wall = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def minute(k: int) -> datetime:
        return T0 + timedelta(minutes=k)

    def det_need(k: int) -> datetime:
        """Detector readings are read a minute behind (those ending at the decision time are
        complete only once the next minute's arrive): their partitions need one minute less."""
        return service.need(minute(k)) - timedelta(seconds=service.p.detector_lag_s)

    def detectors(watermark: datetime | None, partition: int = 0) -> None:
        part = ("detectors", partition)
        before = load_checkpoints(conn, DETECTOR_GROUP, [part]).get(part)
        with conn.transaction():
            advance_checkpoints(conn, DETECTOR_GROUP, {part: before}, {part: (before or 0) + 1},
                                watermarks={part: watermark})  # fmt: skip

    with psycopg.connect(dsn, autocommit=True) as conn:
        assert service.step(conn, wall) == [] and _processed(conn) is None  # no data yet
        _progress(conn, service.need(minute(12)) + timedelta(seconds=1))
        detectors(det_need(4) + timedelta(seconds=1))
        detectors(None, partition=1)  # a partition without stored data does not count
        service.step(conn, wall)
        assert _processed(conn) == minute(4)  # the detectors' stored progress holds it back
        service.step(conn, wall + timedelta(seconds=179))
        assert _processed(conn) == minute(4)
        # the detector partition has not moved for max_wait_s: it is no longer waited for
        actions = service.step(conn, wall + timedelta(seconds=181))
        assert _processed(conn) == minute(12)
        assert [a.action for a in actions] == ["create"]  # the queue of minutes 10–19
        # it moves again: waited for again (minute 13 needs the probes past 14:00, the
        # detectors past 13:00)
        _progress(conn, service.need(minute(20)) + timedelta(seconds=1))
        detectors(det_need(13))
        service.step(conn, wall + timedelta(seconds=200))
        assert _processed(conn) == minute(12)
        detectors(det_need(13) + timedelta(milliseconds=1))
        service.step(conn, wall + timedelta(seconds=201))
        assert _processed(conn) == minute(13)


def test_vehicles_crawling_in_a_queue_raise_it_before_they_leave(
    itms_settings: Settings, network: RoadNetwork
) -> None:
    """The probe workers' presence records: two vehicles crawling at the head of the queue
    raise the incident at the first decision that sees them (minute 10, decided at 10:11),
    two minutes before the slow traversals; a taxi standing on the next block does not."""
    dsn = itms_settings.dsn
    _load(dsn, range(0, 16), network)
    rows = []
    for k in INCIDENT:
        at = T0 + timedelta(minutes=k + 1)
        for v, off in ((0, 300.0), (1, 240.0)):
            rows.append((at, "h1:3:f", f"crawl-{k}-{v}", "car", at - timedelta(seconds=90), True,
                         at - timedelta(seconds=40), off, off, 0.0, 0.0, 40.0, 50.0))  # fmt: skip
        standing = (120.0, 120.0, 250.0, 250.0, 10.0, 270.0)
        rows.append((at, "h1:5:f", "taxi-1", "taxi", at - timedelta(seconds=300), True,
                     at - timedelta(seconds=30), *standing))  # fmt: skip
    writer = StoreWriter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        writer.prepare(conn, "probe_presence", {r[0] for r in rows})
        with conn.transaction():
            assert write_presence(conn, rows) == len(rows)
            assert write_presence(conn, rows) == 0  # a replay stores nothing twice
        service = IncidentService(network)
        actions = _run(service, conn, range(0, 12))
        # two crawling probes, judged against the recent baseline (no profiles): raised at
        # once, kept for review (a higher bar to announce without history)
        assert [a.action for a in actions] == ["create"]
        assert not actions[0].track.announced
        (inc,) = store_incidents(conn)
        assert inc["started_at"] == T0 + timedelta(minutes=11) and not inc["announced"]
        assert inc["segment_id"] == "h1:3:f"
        assert "probe_overdue" in inc["evidence"]["methods"]


def test_segment_spread_is_learned_from_the_same_slot_on_previous_days(
    itms_settings: Settings, network: RoadNetwork
) -> None:
    """Travel-time spread per segment for the overdue-probe test: robust cv of the traversal
    durations of the slot on previous days; unknown (NaN) with too few traversals."""
    rows = []
    for day in (1, 2):
        for v in range(20):
            at = T0 - timedelta(days=day) + timedelta(minutes=v % 15, seconds=30)
            steady = 36.0 + (v % 3)  # 36–38 s
            erratic = 30.0 + 3.0 * v  # 30–87 s
            for seg, dur in (("h1:2:f", steady), ("h1:3:f", erratic)):
                rows.append(TraversalRow(seg, at.replace(second=0), f"h{day}-{v}",
                                         at - timedelta(seconds=dur), at, 40.0, 0.0, "car"))
        rows.append(TraversalRow("h1:4:f", T0 - timedelta(days=day, minutes=-3), f"few-{day}",
                     T0 - timedelta(days=day, minutes=-2), T0 - timedelta(days=day, minutes=-3),
                     40.0, 0.0, "car"))  # fmt: skip
    writer = StoreWriter()
    with psycopg.connect(itms_settings.dsn, autocommit=True) as conn:
        writer.prepare(conn, "probe_traversal", {r[1] for r in rows})
        with conn.transaction():
            write_traversals(conn, rows)
        service = IncidentService(network)
        cv = service._segment_cv(conn, T0)
        i = service.index
        assert 0.0 < cv[i["h1:2:f"]] < 0.06
        assert 0.3 < cv[i["h1:3:f"]] < 0.6
        assert np.isnan(cv[i["h1:4:f"]]) and np.isnan(cv[i["h1:1:f"]])
        assert np.array_equal(service.inputs(conn, T0).segment_cv, cv, equal_nan=True)
