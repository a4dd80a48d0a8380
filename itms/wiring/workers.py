"""The feed workers wired to Kafka and the database described by the settings: the consumer,
the dead-letter producer, the validator and the database connection are built here and
handed to :class:`analytics.workers.runner.TransactionalWorker`."""

from __future__ import annotations

from typing import Any

import psycopg

from analytics.workers.detector_worker import DETECTOR_GROUP, DetectorProcessor
from analytics.workers.probe_worker import PROBE_GROUP, ProbeProcessor, tune_gc
from analytics.workers.processors import Processor
from analytics.workers.runner import TransactionalWorker
from ingest.deadletter import DeadLetterPublisher
from ingest.kafka.clients import make_consumer, make_producer
from ingest.validation import FeedKind, FeedValidator
from itms.settings import Settings
from roadnet.model import RoadNetwork

__all__ = ["build_detector_worker", "build_probe_worker", "build_worker", "tune_gc"]


def build_worker(
    settings: Settings, *, feed: FeedKind, group: str, processor: Processor, stage: str
) -> TransactionalWorker:
    """A transactional worker consuming ``feed`` in consumer group ``group``.

    Partition watermarks follow the messages' ``ts`` (fix time, reading interval end); a
    processor that ``stamps_known_at`` (the probe worker) stamps its results with the time
    they became known."""
    producer = make_producer(settings.kafka, client_id=f"{group}-deadletters")
    return TransactionalWorker(
        consumer=make_consumer(settings.kafka, group),
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
    )


def _event_ms(message: Any) -> int:
    """A message's event time (epoch ms): a fix's time, a reading's interval end."""
    return message.ts_ms


def build_probe_worker(
    settings: Settings, network: RoadNetwork, *, group: str = PROBE_GROUP,
    checkpoint_every_s: float = 5.0,
) -> TransactionalWorker:  # fmt: skip
    """Wire the probe worker to Kafka and the database described by ``settings``."""
    worker = build_worker(
        settings, feed="gps", group=group, processor=ProbeProcessor(network), stage="probe-worker"
    )
    worker.checkpoint_every_s = checkpoint_every_s
    return worker


def build_detector_worker(
    settings: Settings, *, group: str = DETECTOR_GROUP
) -> TransactionalWorker:
    """Wire the detector worker to Kafka and the database described by ``settings``."""
    return build_worker(
        settings, feed="detectors", group=group, processor=DetectorProcessor(),
        stage="detector-worker",
    )  # fmt: skip
