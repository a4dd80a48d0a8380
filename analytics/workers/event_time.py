"""Event time: partition watermarks and when results became known.

A partition's **watermark** is the newest event time (epoch milliseconds) among the messages
processed. A processor that ``stamps_known_at`` (the probe worker) gets each result stamped
with the time it became known: the partition's watermark when the message that produced it
was handled, rounded up to a ``KNOWN_GRID_MS`` grid. Messages are handed over in pieces that
never straddle a grid point, and since the processor's results do not depend on how the
stream is cut, the stamp is the same in every run, whatever the polls, restarts and
rebalances.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from analytics.workers.processors import Part, Processor

KNOWN_GRID_MS = 15_000  # results are stamped known at the watermark rounded up to this grid


def known_at(watermark_ms: int) -> datetime:
    """When a result produced at partition watermark ``watermark_ms`` counts as known: the
    watermark rounded up to the ``KNOWN_GRID_MS`` grid (UTC)."""
    return datetime.fromtimestamp(-(-watermark_ms // KNOWN_GRID_MS) * KNOWN_GRID_MS / 1000, UTC)


def process_in_event_time(
    processor: Processor, part: Part, messages: Sequence[Any], watermark_ms: int | None,
    event_time: Callable[[Any], int], *, stamp_rows: bool = False,
) -> int | None:  # fmt: skip
    """Hand ``messages`` (one partition, offset order) to ``processor``; returns the
    partition's new watermark (newest event time, epoch ms; ``watermark_ms`` is the one before).

    With ``stamp_rows`` the messages go in pieces within which the watermark stays in one
    ``KNOWN_GRID_MS`` step, each through ``processor.process_known`` with :func:`known_at`
    of that step. Used by the worker and by the fault suite's reference, so both stamp
    alike."""
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
        processor.process_known(part, messages[lo:hi], known_at(int(running[hi - 1])))
    return int(running[-1])
