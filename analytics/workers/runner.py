"""The transactional consume → validate → process → store loop shared by all workers.

Guarantees, per partition:

* every message is either stored (through the processor) or dead-lettered with
  its reason; dead letters are acknowledged by the broker before the batch's
  checkpoint is written;
* the checkpoint (next offset) is written in the same database transaction as
  the results, so after a crash the worker resumes exactly after the last stored
  message: nothing is lost and nothing counts twice;
* Kafka offsets are committed only after that transaction commits (they serve
  monitoring and consumers without a stored checkpoint);
* a database outage makes the worker retry the same batch until it succeeds.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import psycopg
from kafka import ConsumerRebalanceListener, KafkaConsumer
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from ingest.deadletter import DeadLetter, DeadLetterPublisher
from ingest.errors import InvalidMessage
from ingest.validation import FeedValidator
from store.checkpoints import advance_checkpoints, load_checkpoints
from store.errors import CheckpointConflict

log = logging.getLogger(__name__)
M = TypeVar("M")
R = TypeVar("R")


class Processor(Protocol, Generic[M, R]):
    """A worker's logic: pure ``process`` over a batch of valid messages, then ``store``.

    A processor may also define ``prepare(conn, result)``, run before the write
    transaction (e.g. to create time partitions), and ``maintain(conn)``, run
    every ``maintain_every_s`` seconds (e.g. to refresh rollups).
    """

    def process(self, messages: Sequence[M]) -> R: ...

    def store(self, conn: psycopg.Connection, result: R) -> None: ...


@dataclass
class WorkerStats:
    """Counters of one worker since start."""

    consumed: int = 0
    valid: int = 0
    dead_lettered: int = 0
    batches: int = 0
    conflicts: int = 0
    db_retries: int = 0
    last_batch_at: float = 0.0
    by_code: dict[str, int] = field(default_factory=dict)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, worker: TransactionalWorker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        for tp in revoked:
            self.worker.expected.pop((tp.topic, tp.partition), None)

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self.worker.resume_from_checkpoints(assigned)


class TransactionalWorker:
    """Runs one processor over one feed topic in a consumer group.

    Parameters
    ----------
    consumer
        A kafka-python consumer with auto-commit off, not yet subscribed.
    topic, group
        Feed topic to consume and the consumer group (also the checkpoint owner).
    validator
        Turns raw bytes into contract messages or raises ``InvalidMessage``.
    processor
        The worker's logic.
    deadletters
        Publisher of rejected messages.
    connect
        Opens a database connection (called again after a connection loss).
    stage
        Name written into dead letters (e.g. ``probe-worker``).
    """

    def __init__(
        self,
        *,
        consumer: KafkaConsumer,
        topic: str,
        group: str,
        validator: FeedValidator,
        processor: Processor[Any, Any],
        deadletters: DeadLetterPublisher,
        connect: Callable[[], psycopg.Connection],
        stage: str,
        max_records: int = 5000,
        retry_backoff_s: float = 1.0,
        maintain_every_s: float = 10.0,
    ) -> None:
        self.consumer = consumer
        self.topic = topic
        self.group = group
        self.validator = validator
        self.processor = processor
        self.deadletters = deadletters
        self.connect = connect
        self.stage = stage
        self.max_records = max_records
        self.retry_backoff_s = retry_backoff_s
        self.maintain_every_s = maintain_every_s
        self._last_maintain = 0.0
        self.expected: dict[tuple[str, int], int | None] = {}
        self.stats = WorkerStats()
        self._conn: psycopg.Connection | None = None
        self.consumer.subscribe([topic], listener=_Rebalance(self))

    # -- database connection -------------------------------------------------------------
    def _db(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = self.connect()
            # Statements outside ``conn.transaction()`` commit at once, so each
            # ``with conn.transaction()`` below is a real transaction, never a savepoint.
            conn.autocommit = True
            self._conn = conn
        return self._conn

    def _drop_db(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None

    def resume_from_checkpoints(self, assigned: Sequence[TopicPartition]) -> None:
        """Seek newly assigned partitions to their stored checkpoints."""
        parts = [(tp.topic, tp.partition) for tp in assigned]
        while True:
            try:
                conn = self._db()
                with conn.transaction():
                    stored = load_checkpoints(conn, self.group, parts)
                break
            except psycopg.OperationalError as exc:
                log.warning("database unavailable while loading checkpoints: %s", exc)
                self._drop_db()
                time.sleep(self.retry_backoff_s)
        for tp in assigned:
            offset = stored.get((tp.topic, tp.partition))
            self.expected[(tp.topic, tp.partition)] = offset
            if offset is not None:
                self.consumer.seek(tp, offset)
        log.info("%s assigned %s (stored checkpoints %s)", self.group, parts, stored)

    # -- one cycle -----------------------------------------------------------------------
    def step(self, timeout_ms: int = 500) -> int:
        """Poll once and handle what came; returns the number of messages handled."""
        polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.max_records)
        if not polled:
            return 0
        valid: list[Any] = []
        next_offsets: dict[tuple[str, int], int] = {}
        n = 0
        for tp, records in polled.items():
            for rec in records:
                n += 1
                try:
                    valid.append(self.validator.validate(rec.value))
                except InvalidMessage as exc:
                    self._dead_letter(rec, exc)
            next_offsets[(tp.topic, tp.partition)] = records[-1].offset + 1
        self.stats.consumed += n
        self.stats.valid += len(valid)
        result = self.processor.process(valid)
        self.deadletters.flush()
        self._store(result, next_offsets)
        self._commit_kafka(next_offsets)
        self.stats.batches += 1
        self.stats.last_batch_at = time.time()
        return n

    def _dead_letter(self, rec: Any, exc: InvalidMessage) -> None:
        self.deadletters.publish(
            DeadLetter(
                value=rec.value,
                key=rec.key,
                reason=exc.reason,
                code=exc.code,
                source_topic=rec.topic,
                source_partition=rec.partition,
                source_offset=rec.offset,
                stage=self.stage,
            )
        )
        self.stats.dead_lettered += 1
        self.stats.by_code[exc.code] = self.stats.by_code.get(exc.code, 0) + 1

    def _store(self, result: Any, next_offsets: dict[tuple[str, int], int]) -> None:
        while True:
            try:
                conn = self._db()
                prepare = getattr(self.processor, "prepare", None)
                if prepare is not None:
                    prepare(conn, result)
                with conn.transaction():
                    self.processor.store(conn, result)
                    advance_checkpoints(conn, self.group, self.expected, next_offsets)
                self.expected.update(next_offsets)
                return
            except CheckpointConflict as exc:
                # Another consumer owns these partitions now: forget the batch and
                # re-read our assignment from the stored checkpoints.
                log.warning("%s", exc)
                self.stats.conflicts += 1
                self.resume_from_checkpoints(list(self.consumer.assignment()))
                return
            except psycopg.OperationalError as exc:
                self.stats.db_retries += 1
                log.warning("database write failed, retrying the same batch: %s", exc)
                self._drop_db()
                time.sleep(self.retry_backoff_s)

    def _commit_kafka(self, next_offsets: dict[tuple[str, int], int]) -> None:
        offsets = {
            TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in next_offsets.items()
        }
        try:
            self.consumer.commit(offsets=offsets)
        except (CommitFailedError, KafkaError) as exc:
            # Harmless: the database checkpoint is the source of truth.
            log.info("Kafka offset commit skipped: %s", exc)

    # -- main loop -----------------------------------------------------------------------
    def run(self, stop: threading.Event, *, on_idle: Callable[[], None] | None = None) -> None:
        """Loop until ``stop`` is set; ``on_idle`` runs after every poll (periodic work)."""
        try:
            while not stop.is_set():
                self.step()
                self.maintain()
                if on_idle is not None:
                    on_idle()
        finally:
            self.close()

    def maintain(self, *, force: bool = False) -> None:
        """Run the processor's periodic ``maintain(conn)`` (rollups, partitions) when due."""
        fn = getattr(self.processor, "maintain", None)
        now = time.monotonic()
        if fn is None or (not force and now - self._last_maintain < self.maintain_every_s):
            return
        self._last_maintain = now
        try:
            fn(self._db())
        except psycopg.OperationalError as exc:
            log.warning("maintenance skipped, database unavailable: %s", exc)
            self._drop_db()

    def close(self) -> None:
        """Leave the group and close connections."""
        with contextlib.suppress(KafkaError):
            self.consumer.close(autocommit=False)
        self._drop_db()
