"""The state a :class:`~analytics.workers.runner.TransactionalWorker` shares between its
concerns (checkpointing, rebalance, poison replay, dead letters, metrics), and its database
connection. Each concern is a mixin in its own module; this base declares what they share."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import psycopg
from kafka import KafkaConsumer

from analytics.workers.observability import WorkerProbe
from analytics.workers.processors import Part, Processor
from analytics.workers.worker_metrics import WorkerStats
from ingest.deadletter import DeadLetterPublisher
from ingest.validation import FeedValidator

if TYPE_CHECKING:
    from analytics.workers.checkpointing import Checkpoint


class WorkerCore:
    """Attributes shared by the worker's concerns (set by ``TransactionalWorker.__init__``)
    and the database connection, opened on demand and dropped after a failure."""

    consumer: KafkaConsumer
    topic: str
    group: str
    validator: FeedValidator
    processor: Processor
    deadletters: DeadLetterPublisher
    connect: Callable[[], psycopg.Connection]
    stage: str
    max_records: int
    retry_backoff_s: float
    maintain_every_s: float
    checkpoint_every_s: float
    max_pending: int
    event_time: Callable[[Any], int] | None
    stamp_rows: bool
    watermark: dict[Part, int | None]  # newest event time processed (epoch ms)
    expected: dict[Part, int | None]  # stored next offsets (the checkpoint fences)
    uncommitted: dict[Part, int]  # next offsets processed but not yet stored
    suspect: dict[Part, int]  # partition → last offset of a failed batch
    poison: dict[tuple[Part, int], str]  # (partition, offset) → reason
    background_checkpoints: bool
    stats: WorkerStats
    probe: WorkerProbe
    max_poison_streak: int
    _last_checkpoint: float
    _writer: ThreadPoolExecutor | None
    _inflight: tuple[Future[None], Checkpoint] | None
    _broken: BaseException | None
    _in_rebalance: bool
    _poison_streak: int
    _lag_at: float
    _conn: psycopg.Connection | None

    # -- database connection -------------------------------------------------------------
    def _db(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = self.connect()
            # Statements outside ``conn.transaction()`` commit at once, so each
            # ``with conn.transaction()`` is a real transaction, never a savepoint.
            conn.autocommit = True
            self._conn = conn
        return self._conn

    def _drop_db(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None

    # -- implemented by the concerns' mixins ---------------------------------------------
    def checkpoint(self, *, retry: bool = True, commit_kafka: bool = True) -> bool:
        raise NotImplementedError

    def _settle(self, *, commit_kafka: bool = True) -> bool:
        raise NotImplementedError

    def _settle_quietly(self) -> None:
        raise NotImplementedError

    def _abandon(self) -> None:
        raise NotImplementedError

    def _failed(self, exc: BaseException, suspect: dict[Part, int]) -> None:
        raise NotImplementedError

    def _validate(self, rec: Any) -> list[Any]:
        raise NotImplementedError

    def _process(self, part: Part, messages: Sequence[Any]) -> None:
        raise NotImplementedError

    def resume_from_checkpoints(self, assigned: Sequence[Any], *, rewind: bool = False) -> None:
        raise NotImplementedError
