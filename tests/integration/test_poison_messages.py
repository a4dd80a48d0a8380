"""A message the worker cannot process or store is dead-lettered once; it never crash-loops
the worker, and everything around it is stored exactly once (real Kafka and PostgreSQL)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import psycopg
import pytest
from kafka.structs import TopicPartition

from analytics.workers.processors import ProcessorBase
from analytics.workers.runner import Part, ProcessingHalted
from ingest.contracts import GpsFix
from ingest.deadletter import parse_headers
from itms.settings import Settings
from itms.wiring.workers import build_worker
from tests.integration.test_probe_pipeline import _dead_letters, _drain, _publish

pytestmark = pytest.mark.integration


class Recorder(ProcessorBase):
    """Stores (vehicle, ts) of each fix; fails on vehicle ``bug`` (a processing bug)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, int]] = []

    def process(self, part: Part, fixes: Sequence[GpsFix]) -> None:
        for f in fixes:
            if f.vehicle_id == "bug":
                raise ValueError("cannot handle this fix")
            self.rows.append((f.vehicle_id, f.ts_ms))

    def store(self, conn: psycopg.Connection) -> None:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO rec (vehicle_id, ts) VALUES (%s, %s)", self.rows)

    def clear(self) -> None:
        self.rows = []

    def pending(self) -> int:
        return len(self.rows)


def _fix(vehicle: str, ts_ms: int) -> tuple[bytes, bytes]:
    body = {"vehicle_id": vehicle, "ts": ts_ms, "lat": 20.85, "lon": 106.68}
    return vehicle.encode(), json.dumps(body).encode()


def test_poison_messages_are_dead_lettered_once_and_the_rest_is_stored_once(
    itms_settings: Settings,
) -> None:
    with psycopg.connect(itms_settings.dsn, autocommit=True) as conn:
        # the database refuses vehicle "refused": a poison that fails at store time
        conn.execute("CREATE TABLE rec (vehicle_id text CHECK (vehicle_id <> 'refused'),"
                     " ts bigint, UNIQUE (vehicle_id, ts))")  # fmt: skip
    t0 = (int(time.time()) - 600) * 1000
    good = [_fix(f"v{k % 7}", t0 + k * 1000) for k in range(300)]
    feed = [*good[:100], _fix("bug", t0), *good[100:200], _fix("refused", t0), *good[200:]]
    _publish(itms_settings, feed)

    worker = build_worker(itms_settings, feed="gps", group="poison-test", processor=Recorder(),
                          stage="test-worker")  # fmt: skip
    worker.checkpoint_every_s = 0.0
    topic = itms_settings.topic("gps")
    ends = worker.consumer.end_offsets(
        [TopicPartition(topic, p) for p in worker.consumer.partitions_for_topic(topic)]
    )

    def stored_to_the_end() -> bool:
        stored = {tp: worker.expected.get((tp.topic, tp.partition)) for tp in ends}
        return all((stored[tp] or 0) >= end for tp, end in ends.items() if end)

    try:
        _drain(worker, lambda: stored_to_the_end() and not worker.suspect)
    finally:
        worker.close()

    with psycopg.connect(itms_settings.dsn) as conn:
        stored = conn.execute("SELECT vehicle_id, ts FROM rec").fetchall()
    assert sorted(stored) == sorted((v.decode(), json.loads(b)["ts"]) for v, b in good)
    assert worker.stats.processing_errors >= 2
    letters = _dead_letters(itms_settings, 2)
    meta = {r.key: parse_headers(r.headers) for r in letters}
    assert set(meta) == {b"bug", b"refused"}  # each dead-lettered exactly once
    assert len(letters) == 2
    assert all(d["code"] == "processing" for d in meta.values())
    assert "ValueError: cannot handle this fix" in meta[b"bug"]["reason"]
    assert "CheckViolation" in meta[b"refused"]["reason"]


class Broken(Recorder):
    """Fails on every fix: a fault of the worker, not of the input."""

    def process(self, part: Part, fixes: Sequence[GpsFix]) -> None:
        if fixes:
            raise KeyError("column 'speed' missing")


def test_a_systematic_failure_stops_the_worker_instead_of_dead_lettering_the_feed(
    itms_settings: Settings,
) -> None:
    t0 = (int(time.time()) - 600) * 1000
    feed = [_fix("v1", t0 + k * 1000) for k in range(30)]  # one key: one partition
    _publish(itms_settings, feed)
    worker = build_worker(itms_settings, feed="gps", group="halt-test", processor=Broken(),
                          stage="test-worker")  # fmt: skip
    worker.checkpoint_every_s = 0.0
    worker.max_poison_streak = 3
    try:
        with pytest.raises(ProcessingHalted, match="4 messages in a row"):
            _drain(worker, lambda: False, timeout_s=90)
    finally:
        worker.close()
    letters = _dead_letters(itms_settings, 3, timeout_s=10)
    assert len(letters) == 3  # the first three, before the pattern showed; the rest wait
    with psycopg.connect(itms_settings.dsn) as conn:
        stored = conn.execute(
            "SELECT next_offset FROM consumer_checkpoint WHERE consumer_group = 'halt-test'"
        ).fetchall()
    assert stored == [(3,)]  # the feed after the dead letters stays unread for a fixed worker
