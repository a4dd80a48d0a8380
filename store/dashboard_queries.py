"""Reads for the operator dashboard: data freshness, worker checkpoints, time–space speeds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import psycopg


def state_freshness(conn: psycopg.Connection) -> tuple[datetime | None, int]:
    """Newest ``segment_current.updated_at`` (UTC; ``None`` when empty) and the number of
    minutes the state builder still has to (re)build (rows of ``state_dirty``)."""
    row = conn.execute(
        "SELECT (SELECT max(updated_at) FROM segment_current), (SELECT count(*) FROM state_dirty)"
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def latest_kpi_minute(conn: psycopg.Connection) -> datetime | None:
    """The newest minute (UTC) of ``network_kpi``; ``None`` when none is stored."""
    row = conn.execute("SELECT max(minute) FROM network_kpi").fetchone()
    return None if row is None else row[0]


def consumer_checkpoints(conn: psycopg.Connection) -> list[tuple[str, str, int, int, datetime]]:
    """Every stored worker checkpoint: ``(consumer_group, topic, partition, next_offset,
    updated_at)``."""
    return conn.execute(
        "SELECT consumer_group, topic, partition, next_offset, updated_at FROM consumer_checkpoint"
    ).fetchall()


def segment_speed_buckets(
    conn: psycopg.Connection,
    segment_ids: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    step: timedelta,
    origin: datetime,
    min_vehicles: int,
) -> list[tuple[str, datetime, float]]:
    """Harmonic-mean speed (km/h) of ``segment_state`` per segment and time bucket in
    ``[start, end)``: ``(segment_id, bucket start, speed)``, buckets of ``step`` aligned to
    ``origin``; minutes without speed or from fewer than ``min_vehicles`` probe vehicles
    (detector-only minutes, ``n_vehicles = 0``, count) are left out."""
    return conn.execute(
        "SELECT segment_id, date_bin(%s, minute, %s) AS b, count(*) / sum(1.0 / speed_kmh)"
        " FROM segment_state WHERE segment_id = ANY(%s) AND minute >= %s AND minute < %s"
        " AND speed_kmh > 0 AND (n_vehicles = 0 OR n_vehicles >= %s) GROUP BY 1, 2",
        (step, origin, list(segment_ids), start, end, min_vehicles),
    ).fetchall()
