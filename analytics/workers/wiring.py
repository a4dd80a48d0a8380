"""Wiring a processor to Kafka and the database described by the settings."""

from __future__ import annotations

from typing import Any

import psycopg

from analytics.workers.runner import TransactionalWorker
from ingest.deadletter import DeadLetterPublisher
from ingest.kafka.clients import make_consumer, make_producer
from ingest.validation import FeedKind, FeedValidator
from itms.settings import Settings


def build_worker(
    settings: Settings, *, feed: FeedKind, group: str, processor: Any, stage: str
) -> TransactionalWorker:
    """A transactional worker consuming ``feed`` in consumer group ``group``."""
    producer = make_producer(settings, client_id=f"{group}-deadletters")
    return TransactionalWorker(
        consumer=make_consumer(settings, group),
        topic=settings.topic(feed),
        group=group,
        validator=FeedValidator(
            feed,
            max_future_s=settings.max_future_s,
            max_age_s=settings.max_age_s,
            strict=settings.unknown_fields == "reject",
            max_bytes=settings.max_message_bytes,
        ),
        processor=processor,
        deadletters=DeadLetterPublisher(producer, settings.topic("deadletter")),
        connect=lambda: psycopg.connect(settings.dsn),
        stage=stage,
    )
