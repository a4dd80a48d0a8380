"""The transactional consume → validate → process → store loop shared by all workers.

Guarantees, per partition:

* every message is either stored (through the processor) or dead-lettered with
  its reason; dead letters are acknowledged by the broker before the
  checkpoint that covers them is written;
* the checkpoint (next offset, plus the processor's serialized state for
  stateful processors) is written in the same database transaction as the
  results, so after a crash or a rebalance the worker resumes exactly after the
  last stored message with the state it had there: nothing is lost and nothing
  counts twice;
* results are buffered between checkpoints (every ``checkpoint_every_s`` seconds,
  sooner when ``max_pending`` results wait or a poll finds nothing new); partitions
  being revoked are checkpointed first;
* Kafka offsets are committed only after that transaction commits (they serve
  monitoring and consumers without a stored checkpoint);
* a database outage makes the worker retry the same checkpoint until it succeeds;
* a detachable processor (the probe worker) has its periodic checkpoints written by a
  writer thread while it goes on processing (:mod:`analytics.workers.checkpointing`);
* a message the processor or the store fails on alone is dead-lettered, found by replaying
  its partition message by message (:mod:`analytics.workers.poison`).

Event time. Given ``event_time`` (a message's event time, epoch milliseconds), the worker
keeps each partition's **watermark** — the newest event time among the messages it processed
— and stores it with the checkpoint (``consumer_checkpoint.watermark``), so the stored
watermark always describes exactly the stored results. A processor that ``stamps_known_at``
(the probe worker) stamps every result with the time it became known
(:mod:`analytics.workers.event_time`), the same in every run, whatever the polls, restarts
and rebalances. The incident worker uses both to decide a minute only
once its inputs are stored (see :mod:`analytics.workers.incident_worker`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from kafka import KafkaConsumer
from kafka.errors import KafkaError

from analytics.workers.checkpointing import CheckpointingMixin
from analytics.workers.event_time import KNOWN_GRID_MS, known_at, process_in_event_time
from analytics.workers.observability import WorkerProbe
from analytics.workers.poison import PoisonMixin, ProcessingHalted
from analytics.workers.processors import Part, Processor, ProcessorBase
from analytics.workers.rebalance import RebalanceMixin
from analytics.workers.worker_metrics import WorkerStats, report
from ingest.deadletter import DeadLetterPublisher
from ingest.validation import FeedValidator

__all__ = [
    "KNOWN_GRID_MS", "Part", "ProcessingHalted", "Processor", "ProcessorBase",
    "TransactionalWorker", "WorkerStats", "known_at", "process_in_event_time",
]  # fmt: skip

log = logging.getLogger(__name__)


class TransactionalWorker(RebalanceMixin, PoisonMixin, CheckpointingMixin):
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
    checkpoint_every_s, max_pending
        Checkpoint cadence: 0 s checkpoints after every poll.
    event_time
        A message's event time (epoch ms) for the partition watermarks; results of a
        processor that ``stamps_known_at`` get the time they became known (see the module
        docstring).
    """

    def __init__(
        self,
        *,
        consumer: KafkaConsumer,
        topic: str,
        group: str,
        validator: FeedValidator,
        processor: Processor,
        deadletters: DeadLetterPublisher,
        connect: Callable[[], psycopg.Connection],
        stage: str,
        max_records: int = 5000,
        retry_backoff_s: float = 1.0,
        maintain_every_s: float = 10.0,
        checkpoint_every_s: float = 0.0,
        max_pending: int = 200_000,
        event_time: Callable[[Any], int] | None = None,
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
        self.checkpoint_every_s = checkpoint_every_s
        self.max_pending = max_pending
        self.event_time = event_time
        self.stamp_rows = processor.stamps_known_at
        self.watermark = {}
        self._last_maintain = 0.0
        self._last_checkpoint = time.monotonic()
        self.expected = {}
        self.uncommitted = {}
        self.suspect = {}
        self.poison = {}
        self.idle_poll_ms = 100  # poll timeout while results wait to be stored
        # processors that can hand their pending results over write checkpoints in a thread
        self.background_checkpoints = processor.detachable
        self._writer = None
        self._inflight = None
        self._broken = None  # set when a background checkpoint failed
        self.stats = WorkerStats()
        self.probe = WorkerProbe(stage)  # health, readiness and metrics (observability.py)
        self._lag_at = 0.0
        self._in_rebalance = False
        self._poison_streak = 0  # consecutive messages that failed alone
        self.max_poison_streak = 20
        self._conn = None
        self.subscribe()

    # -- one cycle -----------------------------------------------------------------------
    def step(self, timeout_ms: int = 500) -> int:
        """Poll once and handle what came (checkpointing when due); returns messages handled."""
        try:
            return self._step(timeout_ms)
        finally:
            self._lag_at = report(self.probe, self.stats, self.consumer, self._lag_at)

    def _step(self, timeout_ms: int) -> int:
        if self._broken is not None:
            raise RuntimeError("the worker stopped: a checkpoint failed") from self._broken
        started = time.perf_counter()
        if self.uncommitted or self._inflight is not None:
            # results wait to be stored: a short poll finds a pause in the stream sooner
            timeout_ms = min(timeout_ms, self.idle_poll_ms)
        try:
            polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.max_records)
        except KafkaError as exc:
            # the broker is unreachable (kafka-python 3 raises from poll when it cannot find
            # the group coordinator): nothing was handed over, positions are unchanged, and
            # the next poll tries again; what waits is stored as after an empty poll
            log.warning("poll failed (broker unavailable?), retrying: %s", exc)
            self.stats.poll_errors += 1
            time.sleep(min(timeout_ms / 1000.0, self.retry_backoff_s))
            polled = {}
        self.probe.poll_seconds.observe(time.perf_counter() - started)
        started = time.perf_counter()
        n = 0
        for tp, records in polled.items():
            part = (tp.topic, tp.partition)
            n += len(records)
            self.stats.consumed += len(records)
            if part in self.suspect:
                # store the other partitions' work first, so a failure is pinned on the
                # suspect partition's own message
                if not (self._store_or_suspect() and self._step_carefully(part, records)):
                    return n  # positions were reset: the rest of the poll is read again
                continue
            valid = [m for rec in records for m in self._validate(rec)]
            try:
                self._process(part, valid)
            except Exception as exc:  # a bug or a poison message: find it, don't crash-loop
                self._failed(exc, {part: records[-1].offset})
                return n
            self.uncommitted[part] = records[-1].offset + 1
        if n:
            self.stats.batches += 1
            self.stats.last_batch_at = time.time()
            self.probe.batch_seconds.observe(time.perf_counter() - started)
        if self._inflight is not None and self._inflight[0].done():
            self._settle()
        # due, too much pending, or the stream paused (an idle poll): store what waits now
        due = time.monotonic() - self._last_checkpoint >= self.checkpoint_every_s
        if self.uncommitted and (due or not n or self.processor.pending() >= self.max_pending):
            if self.background_checkpoints and not self.suspect:
                self._checkpoint_in_background()
            else:
                self._store_or_suspect()
        return n

    def _process(self, part: Part, messages: Sequence[Any]) -> None:
        """Hand valid messages to the processor, advancing the partition's watermark."""
        if self.event_time is None:
            self.processor.process(part, messages)
            return
        self.watermark[part] = process_in_event_time(
            self.processor, part, messages, self.watermark.get(part), self.event_time,
            stamp_rows=self.stamp_rows,
        )  # fmt: skip

    # -- main loop -----------------------------------------------------------------------
    def run(self, stop: threading.Event, *, on_idle: Callable[[], None] | None = None) -> None:
        """Loop until ``stop`` is set; ``on_idle`` runs after every poll (periodic work)."""
        try:
            while not stop.is_set():
                self.step()
                self.maintain()
                if on_idle is not None:
                    on_idle()
            self.checkpoint()
        finally:
            self.close()

    def maintain(self, *, force: bool = False) -> None:
        """Run the processor's periodic ``maintain(conn)`` (rollups, partitions) when due."""
        now = time.monotonic()
        if not self.processor.maintains or (
            not force and now - self._last_maintain < self.maintain_every_s
        ):
            return
        self._last_maintain = now
        self._settle()  # the writer thread holds the connection while it writes
        try:
            self.processor.maintain(self._db())
        except psycopg.OperationalError as exc:
            log.warning("maintenance skipped, database unavailable: %s", exc)
            self._drop_db()
        finally:
            self.probe.maintain_seconds.observe(time.monotonic() - now)

    def close(self) -> None:
        """Leave the group and close connections (after a checkpoint being written)."""
        with contextlib.suppress(psycopg.Error, KafkaError):
            self._settle()
        if self._writer is not None:
            self._writer.shutdown()
        with contextlib.suppress(KafkaError):
            self.consumer.close(autocommit=False)
        self._drop_db()
