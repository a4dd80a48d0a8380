"""Partition assignment: resuming assigned partitions from their stored checkpoints, and
checkpointing then forgetting revoked ones (inside the consumer's rebalance callbacks)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import psycopg
from kafka import ConsumerRebalanceListener
from kafka.structs import TopicPartition

from analytics.workers.worker_core import WorkerCore
from store.checkpoints import load_stored

log = logging.getLogger(__name__)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, worker: RebalanceMixin) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.worker.on_revoked(revoked)

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self.worker.resume_from_checkpoints(assigned)


class RebalanceMixin(WorkerCore):
    """Subscription and the rebalance callbacks."""

    def subscribe(self) -> None:
        """Subscribe to the feed topic, with this worker's rebalance callbacks."""
        self.consumer.subscribe([self.topic], listener=_Rebalance(self))

    def resubscribe(self) -> None:
        """Subscribe again, so the consumer rejoins its group: for one left without partitions
        because its join completed before its metadata listed the topic (the assignor then
        logs "No partition metadata" and kafka-python may not notice the topic later)."""
        self.subscribe()

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
