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
* a processor that can hand its pending results over (``detach``, the probe worker) has its
  periodic checkpoints written by a writer thread while it goes on processing: one at a time
  (the next waits for it), captured (offsets, states, results) when started, acknowledged to
  Kafka by the main thread once stored. If one fails, everything processed after it was
  captured is dropped with it and redone from the stored checkpoint (a failure other than
  the database's ends the worker, and nothing of its pending work is stored any more).

Event time. Given ``event_time`` (a message's event time, epoch milliseconds), the worker
keeps each partition's **watermark** — the newest event time among the messages it processed
— and stores it with the checkpoint (``consumer_checkpoint.watermark``), so the stored
watermark always describes exactly the stored results. With ``stamp_rows`` (the probe
worker: results are tuples in ``processor.rows``), every result gets the time it became
known appended: the partition's watermark when the message that produced it was handled,
rounded up to a ``KNOWN_GRID_MS`` grid (:func:`process_in_event_time`). Messages are handed
to the processor in pieces that never straddle a grid point, and since the processor's
results do not depend on how the stream is cut, the stamp is the same in every run, whatever
the polls, restarts and rebalances. The incident worker uses both to decide a minute only
once its inputs are stored (see :mod:`analytics.workers.incident_worker`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
import psycopg
from kafka import ConsumerRebalanceListener, KafkaConsumer
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from analytics.workers.observability import WorkerProbe
from ingest.deadletter import DeadLetter, DeadLetterPublisher
from ingest.errors import InvalidMessage
from ingest.validation import FeedValidator, Rejected
from store.checkpoints import (
    advance_checkpoints,
    load_stored,
)
from store.errors import CheckpointConflict

log = logging.getLogger(__name__)
M = TypeVar("M")
Part = tuple[str, int]
KNOWN_GRID_MS = 15_000  # results are stamped known at the watermark rounded up to this grid


def known_at(watermark_ms: int) -> datetime:
    """When a result produced at partition watermark ``watermark_ms`` counts as known: the
    watermark rounded up to the ``KNOWN_GRID_MS`` grid (UTC)."""
    return datetime.fromtimestamp(-(-watermark_ms // KNOWN_GRID_MS) * KNOWN_GRID_MS / 1000, UTC)


def process_in_event_time(
    processor: Any, part: Part, messages: Sequence[Any], watermark_ms: int | None,
    event_time: Callable[[Any], int], *, stamp_rows: bool = False,
) -> int | None:  # fmt: skip
    """Hand ``messages`` (one partition, offset order) to ``processor``; returns the
    partition's new watermark (newest event time, epoch ms; ``watermark_ms`` is the one before).

    With ``stamp_rows`` the messages go in pieces within which the watermark stays in one
    ``KNOWN_GRID_MS`` step, and each row a piece adds to ``processor.rows`` gets
    :func:`known_at` of that step appended. Used by the worker and by the fault suite's
    reference, so both stamp alike."""
    if not messages:
        return watermark_ms
    times = np.fromiter((event_time(m) for m in messages), np.int64, len(messages))
    if watermark_ms is not None:
        times = np.maximum(times, watermark_ms)
    running = np.maximum.accumulate(times)
    if not stamp_rows:
        processor.process(part, messages)
        return int(running[-1])
    step = -(-running // KNOWN_GRID_MS)
    cuts = np.flatnonzero(step[1:] != step[:-1]) + 1
    for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), len(messages)], strict=True):
        n0 = len(processor.rows)
        processor.process(part, messages[lo:hi])
        rows = processor.rows
        if len(rows) > n0:
            at = known_at(int(running[hi - 1]))
            rows[n0:] = [(*r, at) for r in rows[n0:]]
    return int(running[-1])


class Processor(Protocol, Generic[M]):
    """A worker's logic. ``process`` adds a partition's valid messages (in offset order) to
    the pending results, ``store`` writes them inside the checkpoint transaction and
    ``clear`` forgets them once committed (or abandoned); ``pending`` counts them.

    Optional hooks: ``prepare(conn)`` runs before the write transaction (e.g. to
    create time partitions); ``maintain(conn)`` runs every ``maintain_every_s``
    seconds; a stateful processor defines ``snapshot(part) -> bytes``,
    ``restore(part, blob | None)`` and ``release(part)`` to save its state with the
    checkpoint, reload it when a partition is assigned and drop it when revoked.
    """

    def process(self, part: Part, messages: Sequence[M]) -> None: ...

    def store(self, conn: psycopg.Connection) -> None: ...

    def clear(self) -> None: ...

    def pending(self) -> int: ...


@dataclass
class WorkerStats:
    """Counters of one worker since start."""

    consumed: int = 0
    valid: int = 0
    dead_lettered: int = 0
    batches: int = 0
    checkpoints: int = 0
    conflicts: int = 0
    db_retries: int = 0
    last_batch_at: float = 0.0
    processing_errors: int = 0  # batches or messages the processor or the store failed on
    poll_errors: int = 0  # polls the broker did not answer (retried)
    by_code: dict[str, int] = field(default_factory=dict)


@dataclass
class _Checkpoint:
    """One checkpoint's content: next offsets, the fences they advance from, serialized
    states, watermarks and the results (the processor, or what it detached)."""

    offsets: dict[Part, int]
    expected: dict[Part, int | None]
    states: dict[Part, bytes] | None
    marks: dict[Part, datetime]
    results: Any
    detached: bool
    retry: bool = True  # cleared to stop retrying through an outage


class ProcessingHalted(RuntimeError):
    """Many messages in a row failed on their own: a fault of the worker or the database,
    not of the input. The worker stops instead of dead-lettering the whole feed."""


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, worker: TransactionalWorker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.worker.on_revoked(revoked)

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
    checkpoint_every_s, max_pending
        Checkpoint cadence: 0 s checkpoints after every poll.
    event_time, stamp_rows
        A message's event time (epoch ms) for the partition watermarks, and whether results
        get the time they became known (see the module docstring).
    """

    def __init__(
        self,
        *,
        consumer: KafkaConsumer,
        topic: str,
        group: str,
        validator: FeedValidator,
        processor: Any,
        deadletters: DeadLetterPublisher,
        connect: Callable[[], psycopg.Connection],
        stage: str,
        max_records: int = 5000,
        retry_backoff_s: float = 1.0,
        maintain_every_s: float = 10.0,
        checkpoint_every_s: float = 0.0,
        max_pending: int = 200_000,
        event_time: Callable[[Any], int] | None = None,
        stamp_rows: bool = False,
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
        self.stamp_rows = stamp_rows
        self.watermark: dict[Part, int | None] = {}  # newest event time processed (epoch ms)
        self.stateful = hasattr(processor, "snapshot")
        self._last_maintain = 0.0
        self._last_checkpoint = time.monotonic()
        self.expected: dict[Part, int | None] = {}
        self.uncommitted: dict[Part, int] = {}  # next offsets processed but not yet stored
        # Poison handling: a partition whose batch made the processor or the store fail is
        # replayed one message at a time, with a checkpoint after each, up to ``suspect``;
        # the message that fails alone is dead-lettered (``poison``) and never retried.
        self.suspect: dict[Part, int] = {}  # partition → last offset of the failed batch
        self.poison: dict[tuple[Part, int], str] = {}  # (partition, offset) → reason
        self.idle_poll_ms = 100  # poll timeout while results wait to be stored
        # processors that can hand their pending results over write checkpoints in a thread
        self.background_checkpoints = hasattr(processor, "detach")
        self._writer: ThreadPoolExecutor | None = None
        self._inflight: tuple[Future[None], _Checkpoint] | None = None
        self._broken: BaseException | None = None  # set when a background checkpoint failed
        self.stats = WorkerStats()
        self.probe = WorkerProbe(stage)  # health, readiness and metrics (observability.py)
        self._lag_at = 0.0
        self._in_rebalance = False
        self._poison_streak = 0  # consecutive messages that failed alone
        self.max_poison_streak = 20
        self._conn: psycopg.Connection | None = None
        self.topic = topic
        self.consumer.subscribe([topic], listener=_Rebalance(self))

    def resubscribe(self) -> None:
        """Subscribe again, so the consumer rejoins its group: for one left without partitions
        because its join completed before its metadata listed the topic (the assignor then
        logs "No partition metadata" and kafka-python may not notice the topic later)."""
        self.consumer.subscribe([self.topic], listener=_Rebalance(self))

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

    # -- assignment ----------------------------------------------------------------------
    def resume_from_checkpoints(
        self, assigned: Sequence[TopicPartition], *, rewind: bool = False
    ) -> None:
        """Seek assigned partitions to their stored checkpoints and restore their state.

        With ``rewind`` (dropping work already read), a partition without a stored
        checkpoint goes back to where the group started it: its committed Kafka offset, or
        the beginning."""
        parts = [(tp.topic, tp.partition) for tp in assigned]
        self._settle_quietly()
        while True:
            try:
                conn = self._db()
                with conn.transaction():
                    rows = load_stored(conn, self.group, parts)
                break
            except psycopg.OperationalError as exc:
                log.warning("database unavailable while loading checkpoints: %s", exc)
                self._drop_db()
                time.sleep(self.retry_backoff_s)
        stored = {part: row.next_offset for part, row in rows.items()}
        for tp in assigned:
            part = (tp.topic, tp.partition)
            row = rows.get(part)
            offset = None if row is None else row.next_offset
            self.expected[part] = offset
            self.uncommitted.pop(part, None)
            mark = None if row is None else row.watermark
            self.watermark[part] = None if mark is None else round(mark.timestamp() * 1000)
            if self.stateful:
                self.processor.restore(part, None if row is None else row.state)
            if offset is not None:
                self.consumer.seek(tp, offset)
            elif rewind:
                committed = self.consumer.committed(tp)
                if committed is None:
                    self.consumer.seek_to_beginning(tp)
                else:
                    self.consumer.seek(tp, committed)
        self.probe.partitions |= {tp.partition for tp in assigned}
        log.info("%s assigned %s (stored checkpoints %s)", self.group, parts, stored)

    def on_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        """Checkpoint what was processed, then forget the revoked partitions."""
        self.probe.partitions -= {tp.partition for tp in revoked}
        self._settle_quietly()
        if self.uncommitted:
            self._in_rebalance = True
            try:
                # we are inside the consumer's rebalance callback (its IO thread), where a
                # blocking commit raises: the Kafka offsets wait for the next checkpoint
                self.checkpoint(retry=False, commit_kafka=False)
            except psycopg.Error as exc:
                log.warning("checkpoint before revocation failed, work will be redone: %s", exc)
                self._drop_db()
                self._abandon()
            finally:
                self._in_rebalance = False
        for tp in revoked:
            part = (tp.topic, tp.partition)
            self.expected.pop(part, None)
            self.watermark.pop(part, None)
            if self.stateful:
                self.processor.release(part)

    def _abandon(self) -> None:
        """Forget everything not checkpointed; assigned partitions restart from the database."""
        self.processor.clear()
        self.uncommitted.clear()
        if self._in_rebalance:
            # Inside the rebalance callback no blocking consumer call may run; the (eager)
            # rebalance revokes every partition and the assignment that follows seeks and
            # restores them all from the stored checkpoints.
            return
        self.resume_from_checkpoints(list(self.consumer.assignment()), rewind=True)

    # -- one cycle -----------------------------------------------------------------------
    def step(self, timeout_ms: int = 500) -> int:
        """Poll once and handle what came (checkpointing when due); returns messages handled."""
        try:
            return self._step(timeout_ms)
        finally:
            self._report()

    def _report(self) -> None:
        """Copy the counters (and the consumer lag: every 2 s, or until known) for the metrics
        thread."""
        p, st = self.probe, self.stats
        now = time.monotonic()
        p.last_loop = now
        p.counters = {"messages_consumed": st.consumed, "messages_valid": st.valid,
                      "processing_errors": st.processing_errors,
                      "checkpoints": st.checkpoints, "db_retries": st.db_retries,
                      "poll_errors": st.poll_errors}  # fmt: skip
        p.dead_lettered = dict(st.by_code)
        if now - self._lag_at >= 2.0 or not p.lag:
            self._lag_at = now
            lag: dict[int, int] = {}
            with contextlib.suppress(KafkaError, AssertionError, ValueError):
                for tp in self.consumer.assignment():
                    high = self.consumer.highwater(tp)
                    if high is not None:
                        lag[tp.partition] = max(high - self.consumer.position(tp), 0)
            p.lag = lag

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

    def _store_or_suspect(self) -> bool:
        """Checkpoint; if the database refuses the data (not an outage, which is retried),
        the partitions concerned become suspect. ``True`` when stored."""
        try:
            return self.checkpoint()
        except psycopg.Error as exc:
            self._failed(exc, {part: o - 1 for part, o in self.uncommitted.items()})
            return False

    def _validate(self, rec: Any) -> list[Any]:
        """The record's valid contract messages (one, or a batch's valid items); the record,
        or a batch's bad items, are dead-lettered."""
        try:
            got = self.validator.validate_many(rec.value)
        except InvalidMessage as exc:
            self._dead_letter(rec, exc)
            return []
        for bad in got.rejected:
            self._dead_letter(rec, bad.error, item=bad)
        self.stats.valid += len(got.messages)
        return got.messages

    def _failed(self, exc: BaseException, suspect: dict[Part, int]) -> None:
        """Processing or storing failed: drop the pending work, replay the partitions
        concerned one message at a time up to the offsets in ``suspect``."""
        log.error("%s failed on %s, replaying them message by message", self.stage,
                  sorted(suspect), exc_info=exc)  # fmt: skip
        self.stats.processing_errors += 1
        for part, last in suspect.items():
            self.suspect[part] = max(last, self.suspect.get(part, last))
        self._abandon()

    def _step_carefully(self, part: Part, records: Sequence[Any]) -> bool:
        """Handle a suspect partition's records one by one, checkpointing after each;
        ``False`` when one failed (it is marked poison and the partition is re-read)."""
        for rec in records:
            reason = self.poison.pop((part, rec.offset), None)
            if reason is not None:
                self._dead_letter(rec, InvalidMessage(reason, code="processing"))
            elif msgs := self._validate(rec):
                try:
                    self._process(part, msgs)
                    self.uncommitted[part] = rec.offset + 1
                    stored = self.checkpoint()
                except Exception as exc:
                    self._poison_streak += 1
                    if self._poison_streak > self.max_poison_streak:
                        # message after message fails alone: the fault is ours (a bad
                        # deployment, a missing column), not the input's; stop without
                        # dead-lettering the feed (nothing is committed past the checkpoint)
                        raise ProcessingHalted(
                            f"{self._poison_streak} messages in a row failed alone; last:"
                            f" {type(exc).__name__}: {exc}"
                        ) from exc
                    self.poison[(part, rec.offset)] = (
                        f"processing failed: {type(exc).__name__}: {exc}"[:1000]
                    )
                    log.error("poison message %s@%d: %s", part, rec.offset, exc)
                    self.stats.processing_errors += 1
                    self._abandon()
                    return False
                self._poison_streak = 0
                if not stored:
                    return False  # the partition moved to another worker
            self.uncommitted[part] = rec.offset + 1
            if not self.checkpoint():
                return False
            if rec.offset >= self.suspect.get(part, -1):
                self.suspect.pop(part, None)
        return True

    def _dead_letter(self, rec: Any, exc: InvalidMessage, *, item: Rejected | None = None) -> None:
        """Dead-letter a record, or one bad ``item`` of a batch record."""
        self.deadletters.publish(
            DeadLetter(
                value=rec.value if item is None else item.value,
                key=rec.key if item is None else item.key,
                reason=exc.reason,
                code=exc.code,
                source_topic=rec.topic,
                source_partition=rec.partition,
                source_offset=rec.offset,
                stage=self.stage,
                source_index=None if item is None else item.index,
            )
        )
        self.stats.dead_lettered += 1
        self.stats.by_code[exc.code] = self.stats.by_code.get(exc.code, 0) + 1

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
        """Start writing a checkpoint in the writer thread and go on processing (processors
        with ``detach``; one checkpoint at a time: a previous one is finished first)."""
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
        :meth:`_abandon`)."""
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

    def _capture(self, *, detach: bool) -> _Checkpoint:
        """What the next checkpoint stores, as of now (dead letters acknowledged first).
        With ``detach`` the processor hands its pending results over and starts afresh."""
        self.deadletters.flush()
        offsets = dict(self.uncommitted)
        states = (
            {part: self.processor.snapshot(part) for part in offsets} if self.stateful else None
        )
        marks = {
            part: datetime.fromtimestamp(w / 1000, UTC)
            for part in offsets
            if (w := self.watermark.get(part)) is not None
        }
        results = self.processor
        if detach:
            results = self.processor.detach()
            self.uncommitted.clear()
            self._last_checkpoint = time.monotonic()
        return _Checkpoint(offsets, dict(self.expected), states, marks, results, detach)

    def _write(self, job: _Checkpoint, *, retry: bool) -> None:
        """Write ``job`` in one transaction (retrying through database outages while
        ``retry`` and ``job.retry``); raises ``CheckpointConflict`` when another consumer
        owns the partitions now. Runs in the writer thread for background checkpoints."""
        while True:
            try:
                conn = self._db()
                prepare = getattr(job.results, "prepare", None)
                if prepare is not None:
                    prepare(conn)
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

    def _stored(self, job: _Checkpoint, *, commit_kafka: bool) -> None:
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
        fn = getattr(self.processor, "maintain", None)
        now = time.monotonic()
        if fn is None or (not force and now - self._last_maintain < self.maintain_every_s):
            return
        self._last_maintain = now
        self._settle()  # the writer thread holds the connection while it writes
        try:
            fn(self._db())
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
