"""Batched GPS messages (JSON arrays, one per partition) on the real broker and database: the
probe worker stores exactly the traversals of the same fixes sent one per message, and each
bad item of a batch is dead-lettered alone, with its index, while the rest flows."""

from __future__ import annotations

import json
import time
import uuid

import psycopg
import pytest
from kafka.structs import TopicPartition

from ingest.batching import PartitionBatcher, partition_of
from ingest.deadletter import parse_headers
from ingest.kafka.clients import ensure_topics, make_consumer, make_producer
from itms.settings import Settings
from itms.wiring.workers import build_probe_worker
from store.network_writer import sync_network
from tests.integration.test_probe_pipeline import (
    _dead_letters,
    _drain,
    _fleet_feed,
    _publish,
    _traversals,
    network,  # noqa: F401 (module fixture)
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _placement(settings: Settings) -> dict[int, set[bytes]]:
    """Partition → keys of the GPS topic's messages, as the broker stored them."""
    consumer = make_consumer(settings.kafka, None, consumer_timeout_ms=1000)
    topic = settings.topic("gps")
    consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])
    consumer.seek_to_beginning()
    out: dict[int, set[bytes]] = {}
    idle_until = time.monotonic() + 5
    while time.monotonic() < idle_until:
        got = consumer.poll(timeout_ms=500)
        for tp, records in got.items():
            out.setdefault(tp.partition, set()).update(r.key for r in records)
            idle_until = time.monotonic() + 2
    consumer.close()
    return out


def test_batches_give_the_traversals_of_single_messages_and_reject_bad_items_alone(
    itms_settings: Settings, db_factory, network  # noqa: F811
) -> None:
    now_ms = int(time.time() * 1000)
    clean = [kv for kv in _fleet_feed(network) if json.loads(kv[1])["ts"] < now_ms]
    batched = itms_settings.model_copy(
        update={"database_url": db_factory(), "topic_prefix": f"b{uuid.uuid4().hex[:8]}."}
    )
    ensure_topics(batched.kafka)
    for s in (itms_settings, batched):
        with psycopg.connect(s.dsn) as conn:
            sync_network(conn, network)
    _publish(itms_settings, clean)

    # the batcher's partitions are those the producer's default partitioner chose for the keys
    placement = _placement(itms_settings)
    n_parts = itms_settings.topic_partitions
    assert len(placement) > 1
    assert all(partition_of(k, n_parts) == p for p, keys in placement.items() for k in keys)

    producer = make_producer(batched.kafka)
    topic = batched.topic("gps")
    batcher = PartitionBatcher(lambda p, k, v: producer.send(topic, key=k, value=v, partition=p),
                               len(producer.partitions_for(topic)), kind="gps",
                               max_items=25)  # fmt: skip
    bad: list[dict] = []
    for i, (_, value) in enumerate(clean):
        record = json.loads(value)
        batcher.add(record)
        if i % 40 == 7:  # a bad fix of the same vehicle, inside its partition's batch
            wrong = [{"lat": 95.0}, {"ts": now_ms + 3_600_000}, {"speed_kmh": -3}][len(bad) % 3]
            bad.append({**record, **wrong})
            batcher.add(bad[-1])
    batcher.flush()
    producer.flush()
    producer.close()
    assert batcher.messages < len(clean) / 5

    consumed = {}
    for s, n in ((itms_settings, len(clean)), (batched, batcher.messages)):
        worker = build_probe_worker(s, network, group="g-batches", checkpoint_every_s=0)
        try:
            _drain(worker, lambda w=worker, n=n: w.stats.consumed >= n)
        finally:
            worker.close()
        consumed[s.topic_prefix] = (worker.stats.valid, worker.stats.dead_lettered)
    assert consumed == {itms_settings.topic_prefix: (len(clean), 0),
                        batched.topic_prefix: (len(clean), len(bad))}  # fmt: skip

    expected = _traversals(itms_settings.dsn)
    assert len(expected) > 100
    assert _traversals(batched.dsn) == expected

    letters = _dead_letters(batched, len(bad))
    assert len(letters) == len(bad)
    order = lambda d: (d["ts"], str(d))  # noqa: E731
    assert sorted((json.loads(r.value) for r in letters), key=order) == sorted(bad, key=order)
    for r in letters:
        h = parse_headers(r.headers)
        assert r.key == json.loads(r.value)["vehicle_id"].encode()
        assert h["code"] in {"schema", "future"} and h["reason"]
        assert int(h["source.index"]) >= 0 and h["source.topic"] == topic
