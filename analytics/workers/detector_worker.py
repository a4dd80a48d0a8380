"""Detector worker: detector readings → validated → stored (``itms worker detectors``).

Readings are stored per detector, lane (−1 = all lanes) and interval end; a
replayed or re-delivered reading leaves the stored row unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg

from analytics.workers.processors import Part, ProcessorBase
from ingest.contracts import DetectorReading
from store.state_dirty import mark_minutes
from store.state_writer import ReadingRow, StoreWriter

DETECTOR_GROUP = "itms-detectors"


class DetectorProcessor(ProcessorBase):
    """Turns readings into rows of ``detector_reading`` and marks their minutes for the
    state builder (stateless; maintains partitions)."""

    maintains = True

    def __init__(self) -> None:
        self.writer = StoreWriter()
        self.rows: list[ReadingRow] = []

    def process(self, part: Part, readings: Sequence[DetectorReading]) -> None:
        """Rows (detector, interval end, lane, interval, volume, occupancy, speed)."""
        self.rows.extend(
            (r.detector_id, r.ts, -1 if r.lane is None else r.lane, r.interval_s, r.volume,
             r.occupancy, r.speed_kmh)
            for r in readings
        )  # fmt: skip

    def pending(self) -> int:
        return len(self.rows)

    def clear(self) -> None:
        self.rows = []

    def prepare(self, conn: psycopg.Connection) -> None:
        """Partitions for the pending rows (before the transaction)."""
        self.writer.prepare(conn, "detector_reading", {r[1] for r in self.rows})

    def store(self, conn: psycopg.Connection) -> None:
        """Write the rows (inside the checkpoint transaction)."""
        self.writer.write_readings(conn, self.rows)
        mark_minutes(conn, {r[1] - timedelta(seconds=r[3] / 2) for r in self.rows})

    def maintain(self, conn: psycopg.Connection) -> None:
        """Keep partitions two days ahead."""
        self.writer.partitions.create_ahead(conn, datetime.now(UTC), ahead=timedelta(days=2))
