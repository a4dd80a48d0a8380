"""Replay of recorded feeds into Kafka, keeping the recorded timing.

Each record is published to the feed's topic, keyed by vehicle or detector id, or, with a
:class:`~ingest.batching.PartitionBatcher`, gathered into batches per partition: a batch is
sent when full and whenever the replay waits for the recorded timing, and records due within
``BATCH_LINGER_S`` go early, with the batch.
With ``speedup`` the gaps between record timestamps are slept ``1/speedup`` of
their length; ``speedup=None`` publishes as fast as possible. With a
:class:`~ingest.time_shift.TimeShift` every timestamp is moved by the same amount: a fixed
duration, or so that the first record is stamped at a given time or "now" (handy to watch an
old recording live).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from ingest.batching import PartitionBatcher, encode
from ingest.records import KEY_FIELD, record_ts_ms
from ingest.time_shift import TimeShift

BATCH_LINGER_S = 0.2  # batching: records due this soon (wall seconds) are not waited for


@dataclass
class ReplayStats:
    """What a replay published."""

    published: int = 0
    without_time: int = 0
    elapsed_s: float = 0.0


def _shifted(record: dict[str, Any], shift_ms: int) -> dict[str, Any]:
    ts = record_ts_ms(record)
    if ts is None:
        return record
    new = ts + shift_ms
    out = dict(record)
    if isinstance(record.get("ts"), str):
        out["ts"] = datetime.fromtimestamp(new / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
    else:
        out["ts"] = new
    return out


def replay(
    records: Iterable[dict[str, Any] | str],
    send: Callable[[bytes | None, bytes], Any],
    *,
    kind: str,
    speedup: float | None = 1.0,
    shift_to_now: bool = False,
    shift: TimeShift | None = None,
    progress: TextIO | None = sys.stderr,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    batcher: PartitionBatcher | None = None,
) -> ReplayStats:
    """Publish ``records`` through ``send(key, value)`` (or ``batcher``) with the recorded
    pacing, restamped by ``shift`` (``shift_to_now=True`` is ``TimeShift(to_now=True)``)."""
    if shift_to_now:
        shift = TimeShift(to_now=True)
    key_field = KEY_FIELD[kind]
    stats = ReplayStats()
    wall0 = clock()
    first_ts: int | None = None
    shift_ms = 0
    last_report = wall0
    for record in records:
        ts = record_ts_ms(record)
        if ts is None:
            stats.without_time += 1
        else:
            if first_ts is None:
                first_ts = ts
                if shift is not None:
                    shift_ms = shift.shift_ms(ts, int(time.time() * 1000))
            if speedup:
                due = wall0 + (ts - first_ts) / 1000.0 / speedup
                delay = due - clock()
                if delay > 0 and batcher is None:
                    sleep(delay)
                elif delay >= BATCH_LINGER_S and batcher is not None:
                    batcher.flush()  # records due within the linger go early, in the batch
                    sleep(delay)
        if shift_ms and isinstance(record, dict):
            record = _shifted(record, shift_ms)
        if batcher is not None:
            batcher.add(record)
        else:
            key = record.get(key_field) if isinstance(record, dict) else None
            send(str(key).encode("utf-8") if key is not None else None, encode(record))
        stats.published += 1
        now = clock()
        if progress is not None and now - last_report >= 2.0:
            rate = stats.published / max(now - wall0, 1e-9)
            progress.write(f"\rreplayed {stats.published:,} records ({rate:,.0f}/s)")
            progress.flush()
            last_report = now
    if batcher is not None:
        batcher.flush()
    stats.elapsed_s = clock() - wall0
    if progress is not None:
        progress.write(
            f"\rreplayed {stats.published:,} records in {stats.elapsed_s:.1f} s"
            f" ({stats.without_time} without a usable ts)\n"
        )
    return stats
