"""Kafka producers, consumers and topic administration (kafka-python).

Producers are durable by default (``acks=all``, idempotent, retried); consumers
never auto-commit: workers commit offsets after their results are stored.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ingest.kafka.config import KafkaConfig
from ingest.topics import TOPICS

log = logging.getLogger(__name__)


def make_producer(config: KafkaConfig, **overrides: Any) -> KafkaProducer:
    """A durable producer: values and keys are bytes (callers encode)."""
    options: dict[str, Any] = {
        "bootstrap_servers": config.bootstrap_servers,
        "acks": "all",
        "enable_idempotence": True,
        "retries": 2_147_483_647,
        "max_in_flight_requests_per_connection": 5,
        "linger_ms": 20,
        "batch_size": 256 * 1024,
        "delivery_timeout_ms": 300_000,
        "request_timeout_ms": 30_000,
        "retry_backoff_ms": 200,
        "client_id": "itms-producer",
    }
    options.update(overrides)
    return KafkaProducer(**options)


def make_consumer(
    config: KafkaConfig, group_id: str | None, *topics: str, **overrides: Any
) -> KafkaConsumer:
    """A consumer in ``group_id`` with manual commits, starting from the earliest offset."""
    options: dict[str, Any] = {
        "bootstrap_servers": config.bootstrap_servers,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": 5000,
        "max_poll_interval_ms": 300_000,
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 3_000,
        # A topic created moments ago may come without partitions in the first metadata; a
        # short refresh lets the group see them (and partitions added later) within seconds.
        "metadata_max_age_ms": 5_000,
        "fetch_max_bytes": 32 * 1024 * 1024,
        "max_partition_fetch_bytes": 4 * 1024 * 1024,
        "client_id": f"itms-{group_id or 'reader'}",
    }
    options.update(overrides)
    consumer = KafkaConsumer(**options)
    if topics:
        consumer.subscribe(list(topics))
    return consumer


def ensure_topics(
    config: KafkaConfig, names: list[str] | None = None, *, timeout_s: float = 60.0
) -> list[str]:
    """Create the system's topics (all by default) if missing; returns their full names."""
    names = names or list(TOPICS)
    wanted = {config.topic(n): TOPICS[n] for n in names}
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=config.bootstrap_servers, client_id="itms-admin"
            )
            break
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
    try:
        existing = set(admin.list_topics())
        new = [
            NewTopic(
                name=full,
                num_partitions=config.partitions,
                replication_factor=config.replication,
                topic_configs={"retention.ms": str(spec.retention_ms)},
            )
            for full, spec in wanted.items()
            if full not in existing
        ]
        if new:
            try:
                admin.create_topics(new, timeout_ms=int(timeout_s * 1000))
                log.info("created topics %s", [t.name for t in new])
            except TopicAlreadyExistsError:
                pass
        _wait_for_metadata(admin, list(wanted), deadline)
    finally:
        admin.close()
    return list(wanted)


def _wait_for_metadata(admin: KafkaAdminClient, topics: list[str], deadline: float) -> None:
    while True:
        try:
            described = admin.describe_topics(topics)
            if all(t.get("partitions") and not t.get("error_code") for t in described):
                return
        except KafkaError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics {topics} not ready in time")
        time.sleep(0.5)
