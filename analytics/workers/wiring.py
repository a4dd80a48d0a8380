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
    """A transactional worker consuming ``feed`` in consumer group ``group``.

    Partition watermarks follow the messages' ``ts`` (fix time, reading interval end); the
    probe worker's results (traversals) are stamped with the time they became known."""
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
        event_time=_event_ms,
        stamp_rows=_stamps(processor),
    )


def _event_ms(message: Any) -> int:
    return message.ts_ms


def _stamps(processor: Any) -> bool:
    """The probe worker's traversals carry when they became known (``known_at``)."""
    from analytics.workers.probe_worker import ProbeProcessor  # imports this module

    return isinstance(processor, ProbeProcessor)
