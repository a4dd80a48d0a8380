"""A worker's counters, and copying them (with the consumer lag) into its
:class:`~analytics.workers.observability.WorkerProbe` for the metrics thread."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from kafka import KafkaConsumer
from kafka.errors import KafkaError

from analytics.workers.observability import WorkerProbe


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


def report(probe: WorkerProbe, stats: WorkerStats, consumer: KafkaConsumer, lag_at: float) -> float:
    """Copy the counters into ``probe``, and the consumer lag (messages per partition) when
    2 s passed since ``lag_at`` (monotonic seconds) or it is not known yet; returns when the
    lag was last read."""
    now = time.monotonic()
    probe.last_loop = now
    probe.counters = {"messages_consumed": stats.consumed, "messages_valid": stats.valid,
                      "processing_errors": stats.processing_errors,
                      "checkpoints": stats.checkpoints, "db_retries": stats.db_retries,
                      "poll_errors": stats.poll_errors}  # fmt: skip
    probe.dead_lettered = dict(stats.by_code)
    if now - lag_at >= 2.0 or not probe.lag:
        lag_at = now
        lag: dict[int, int] = {}
        with contextlib.suppress(KafkaError, AssertionError, ValueError):
            for tp in consumer.assignment():
                high = consumer.highwater(tp)
                if high is not None:
                    lag[tp.partition] = max(high - consumer.position(tp), 0)
        probe.lag = lag
    return lag_at
