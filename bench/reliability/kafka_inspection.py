"""What the Kafka broker holds: end offsets, committed offsets, group members, the messages
of a feed topic (partition by partition, or as a multiset)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.structs import TopicPartition

from analytics.workers.detector_worker import DETECTOR_GROUP
from analytics.workers.probe_worker import PROBE_GROUP
from itms.settings import Settings

GROUPS = {"gps": PROBE_GROUP, "detectors": DETECTOR_GROUP}


def end_offsets(settings: Settings, kind: str) -> dict[int, int]:
    """Next offset per partition of the feed topic ``kind`` (what the broker holds)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                             client_id="fault-suite-offsets")  # fmt: skip
    try:
        topic = settings.topic(kind)
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        return {tp.partition: o for tp, o in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()


def kafka_committed(settings: Settings, kind: str) -> dict[int, int]:
    """Offsets the worker group of ``kind`` committed to Kafka for the feed topic."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers,
                             client_id="fault-suite-admin")  # fmt: skip
    try:
        got = admin.list_group_offsets(GROUPS[kind]).get(GROUPS[kind], {})
    finally:
        admin.close()
    topic = settings.topic(kind)
    return {tp.partition: om.offset for tp, om in got.items() if tp.topic == topic}


def group_members(settings: Settings, group: str) -> int:
    """Members of a stable consumer group (-1 while it rebalances or is empty)."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers,
                             client_id="fault-suite-admin")  # fmt: skip
    try:
        desc = admin.describe_groups([group])[group]
        return len(desc["members"]) if desc["group_state"] == "Stable" else -1
    finally:
        admin.close()


def read_partitions(
    settings: Settings, kind: str, *, chunk: int = 5000
) -> Iterator[tuple[int, list[bytes]]]:
    """(partition, values) chunks of the feed topic ``kind``, each partition in offset order,
    up to the end offsets at the time of the call."""
    ends = end_offsets(settings, kind)
    topic = settings.topic(kind)
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, group_id=None,
                             enable_auto_commit=False, client_id="fault-suite-reference",
                             max_partition_fetch_bytes=8 * 1024 * 1024)  # fmt: skip
    try:
        for p, end in sorted(ends.items()):
            tp = TopicPartition(topic, p)
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            pos, buf = consumer.position(tp), []
            deadline = time.monotonic() + 600
            while pos < end:
                assert time.monotonic() < deadline, f"partition {p} not read in time"
                for records in consumer.poll(timeout_ms=1000, max_records=chunk).values():
                    for rec in records:
                        if rec.offset < end:
                            buf.append(rec.value)
                        pos = rec.offset + 1
                if len(buf) >= chunk or (pos >= end and buf):
                    yield p, buf
                    buf = []
    finally:
        consumer.close()


def topic_multiset(settings: Settings, kind: str) -> Counter:
    """Every message value of the feed topic ``kind`` (a multiset)."""
    out: Counter = Counter()
    for _, values in read_partitions(settings, kind):
        out.update(values)
    return out
