"""Validation, dead letters and poison messages.

Invalid records (or a batch record's invalid items) are dead-lettered with their reason. A
partition whose batch made the processor or the store fail becomes **suspect**: it is
replayed one message at a time, with a checkpoint after each, up to the last offset of the
failed batch; the message that fails alone is dead-lettered (``poison``) and never retried.
Many messages failing alone in a row is a fault of the worker or the database, not of the
input: the worker stops (:class:`ProcessingHalted`) instead of dead-lettering the feed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg

from analytics.workers.processors import Part
from analytics.workers.worker_core import WorkerCore
from ingest.deadletter import DeadLetter
from ingest.errors import InvalidMessage
from ingest.validation import Rejected

log = logging.getLogger(__name__)


class ProcessingHalted(RuntimeError):
    """Many messages in a row failed on their own: a fault of the worker or the database,
    not of the input. The worker stops instead of dead-lettering the whole feed."""


class PoisonMixin(WorkerCore):
    """Validating records, dead-lettering, and replaying suspect partitions carefully."""

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

    def _store_or_suspect(self) -> bool:
        """Checkpoint; if the database refuses the data (not an outage, which is retried),
        the partitions concerned become suspect. ``True`` when stored."""
        try:
            return self.checkpoint()
        except psycopg.Error as exc:
            self._failed(exc, {part: o - 1 for part, o in self.uncommitted.items()})
            return False

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
