"""Checkpoints: the pending results, the processor's states, the next offsets and the
watermarks, stored in one database transaction, then acknowledged to Kafka.

A detachable processor (the probe worker) has its periodic checkpoints written by a writer
thread while it goes on processing: one at a time (the next waits for it), captured
(offsets, states, results) when started, acknowledged to Kafka by the main thread once
stored (:meth:`CheckpointingMixin._settle`). If one fails, everything processed after it was
captured is dropped with it and redone from the stored checkpoint (a failure other than the
database's ends the worker, and nothing of its pending work is stored any more).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from analytics.workers.processors import Part, Results
from analytics.workers.worker_core import WorkerCore
from store.checkpoints import advance_checkpoints
from store.errors import CheckpointConflict

log = logging.getLogger(__name__)


@dataclass
class Checkpoint:
    """One checkpoint's content: next offsets, the fences they advance from, serialized
    states (``None``: stateless), watermarks and the results (the processor, or what it
    detached)."""

    offsets: dict[Part, int]
    expected: dict[Part, int | None]
    states: dict[Part, bytes | None]
    marks: dict[Part, datetime]
    results: Results
    detached: bool
    retry: bool = True  # cleared to stop retrying through an outage


class CheckpointingMixin(WorkerCore):
    """Capturing, writing (in the foreground or the writer thread) and settling checkpoints."""

    def checkpoint(self, *, retry: bool = True, commit_kafka: bool = True) -> bool:
        """Store the pending results, states and offsets in one transaction, then tell Kafka;
        ``False`` when another consumer owns the partitions now (the work was dropped). A
        checkpoint being written in the background is finished first."""
        if not self._settle(commit_kafka=commit_kafka):
            return False
        if not self.uncommitted:
            return True
        began = time.perf_counter()
        try:
            job = self._capture(detach=False)
            try:
                self._write(job, retry=retry)
            except CheckpointConflict as exc:
                self._conflict(exc)
                return False
            self._stored(job, commit_kafka=commit_kafka)
            return True
        finally:
            self.probe.checkpoint_seconds.observe(time.perf_counter() - began)

    def _checkpoint_in_background(self) -> None:
        """Start writing a checkpoint in the writer thread and go on processing (detachable
        processors; one checkpoint at a time: a previous one is finished first)."""
        if not self._settle() or not self.uncommitted:
            return
        began = time.perf_counter()
        job = self._capture(detach=True)
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix=f"{self.stage}-checkpoint")
        self._inflight = (self._writer.submit(self._write, job, retry=True), job)
        self.probe.checkpoint_seconds.observe(time.perf_counter() - began)

    def _settle(self, *, commit_kafka: bool = True) -> bool:
        """Wait for the checkpoint being written in the background, if any, and apply its
        outcome; ``False`` when it failed (everything not stored was dropped, see
        ``_abandon``)."""
        if self._inflight is None:
            return True
        future, job = self._inflight
        self._inflight = None  # settled from here on, whatever the outcome
        if self._in_rebalance:
            job.retry = False  # no endless retries inside a rebalance callback
        began = time.perf_counter()
        error = future.exception()  # waits for the writer
        self.probe.checkpoint_seconds.observe(time.perf_counter() - began)
        if error is None:
            self._stored(job, commit_kafka=commit_kafka)
            return True
        if isinstance(error, CheckpointConflict):
            self._conflict(error)
        elif isinstance(error, psycopg.OperationalError):  # gave up retrying (rebalance)
            log.warning("checkpoint failed, work will be redone: %s", error)
            self._abandon()
        elif isinstance(error, psycopg.Error):  # the database refused the data: find the message
            self._failed(error, {part: o - 1 for part, o in job.offsets.items()})
        else:
            # Anything else ends the worker. The work processed since this checkpoint was
            # captured builds on results that were not stored: none of it may be stored now
            # (not even by the checkpoint of a rebalance while closing).
            self._broken = error
            self.processor.clear()
            self.uncommitted.clear()
            raise error
        return False

    def _settle_quietly(self) -> None:
        """:meth:`_settle` where no consumer call may block (rebalance callbacks): no Kafka
        commit, no endless retries, and a failure only drops the work."""
        if self._inflight is None:
            return
        was, self._in_rebalance = self._in_rebalance, True
        try:
            self._settle(commit_kafka=False)
        finally:
            self._in_rebalance = was

    def _capture(self, *, detach: bool) -> Checkpoint:
        """What the next checkpoint stores, as of now (dead letters acknowledged first).
        With ``detach`` the processor hands its pending results over and starts afresh."""
        self.deadletters.flush()
        offsets = dict(self.uncommitted)
        states = {part: self.processor.snapshot(part) for part in offsets}
        marks = {
            part: datetime.fromtimestamp(w / 1000, UTC)
            for part in offsets
            if (w := self.watermark.get(part)) is not None
        }
        results: Results = self.processor
        if detach:
            results = self.processor.detach()
            self.uncommitted.clear()
            self._last_checkpoint = time.monotonic()
        return Checkpoint(offsets, dict(self.expected), states, marks, results, detach)

    def _write(self, job: Checkpoint, *, retry: bool) -> None:
        """Write ``job`` in one transaction (retrying through database outages while
        ``retry`` and ``job.retry``); raises ``CheckpointConflict`` when another consumer
        owns the partitions now. Runs in the writer thread for background checkpoints."""
        while True:
            try:
                conn = self._db()
                job.results.prepare(conn)
                started = time.perf_counter()
                with conn.transaction():
                    job.results.store(conn)
                    advance_checkpoints(conn, self.group, job.expected, job.offsets, job.states,
                                        job.marks)  # fmt: skip
                self.probe.db_write_seconds.observe(time.perf_counter() - started)
                self.probe.db_ok = True
                self.probe.last_progress = time.time()
                return
            except psycopg.OperationalError as exc:
                self.stats.db_retries += 1
                self.probe.db_ok = False
                self.probe.last_loop = time.monotonic()  # waiting for the database is alive
                self._drop_db()
                if not (retry and job.retry):
                    raise
                log.warning("database write failed, retrying the same checkpoint: %s", exc)
                time.sleep(self.retry_backoff_s)

    def _conflict(self, exc: CheckpointConflict) -> None:
        """Another consumer owns these partitions now: forget the pending work and re-read
        our assignment from the stored checkpoints."""
        log.warning("%s", exc)
        self.stats.conflicts += 1
        self._abandon()

    def _stored(self, job: Checkpoint, *, commit_kafka: bool) -> None:
        """``job`` is stored: advance the fences, forget its results, tell Kafka."""
        self.expected.update(job.offsets)
        if not job.detached:
            self.processor.clear()
            self.uncommitted.clear()
            self._last_checkpoint = time.monotonic()
        self.stats.checkpoints += 1
        if commit_kafka:
            self._commit_kafka(job.offsets)

    def _commit_kafka(self, next_offsets: dict[Part, int]) -> None:
        offsets = {
            TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in next_offsets.items()
        }
        try:
            self.consumer.commit(offsets=offsets)
        except (CommitFailedError, KafkaError) as exc:
            # Harmless: the database checkpoint is the source of truth.
            log.info("Kafka offset commit skipped: %s", exc)
