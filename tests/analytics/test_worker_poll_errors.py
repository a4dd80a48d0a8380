"""A poll the broker does not answer (kafka-python 3 raises from ``poll`` while the group
coordinator cannot be reached) is retried; the worker does not stop."""

from __future__ import annotations

from kafka.errors import KafkaConnectionError

from analytics.workers.processors import ProcessorBase
from analytics.workers.runner import TransactionalWorker
from ingest.validation import FeedValidator


class _BrokerDownOnce:
    """A consumer whose first poll fails as during a broker restart."""

    def __init__(self) -> None:
        self.polls = 0

    def poll(self, timeout_ms: int, max_records: int) -> dict:
        self.polls += 1
        if self.polls == 1:
            raise KafkaConnectionError("111 ECONNREFUSED")
        return {}

    def subscribe(self, topics: list[str], listener: object = None) -> None:
        self.topics = topics

    def assignment(self) -> set:
        return set()


def _no_database():
    raise AssertionError("nothing to store: the database is not used")


def test_a_failed_poll_is_retried_and_counted() -> None:
    consumer = _BrokerDownOnce()
    worker = TransactionalWorker(
        consumer=consumer, topic="gps", group="g", validator=FeedValidator("gps"),
        processor=ProcessorBase(), deadletters=None, connect=_no_database, stage="probe",
        retry_backoff_s=0.01,
    )  # fmt: skip
    assert worker.step(timeout_ms=10) == 0
    assert worker.step(timeout_ms=10) == 0
    assert consumer.polls == 2
    assert worker.stats.poll_errors == 1
    assert worker.probe.counters["poll_errors"] == 1
