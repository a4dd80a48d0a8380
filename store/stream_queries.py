"""Reads for the API's live streams: where a new stream starts, and what changed since."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from store.network_queries import STATE_COLUMNS


def database_now(conn: psycopg.Connection) -> datetime:
    """The database's clock (``clock_timestamp()``, aware UTC)."""
    row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]


def segments_updated_after(conn: psycopg.Connection, after: datetime) -> list[tuple[Any, ...]]:
    """Current states written after ``after``, in :data:`~store.network_queries.STATE_COLUMNS`
    order, oldest batch first (then by segment id)."""
    return conn.execute(
        f"SELECT {', '.join(STATE_COLUMNS)} FROM segment_current WHERE updated_at > %s"
        " ORDER BY updated_at, segment_id",
        (after,),
    ).fetchall()


def latest_incident_seq(conn: psycopg.Connection) -> int:
    """The newest ``incident_update.seq`` (0 when there is none)."""
    row = conn.execute("SELECT coalesce(max(seq), 0) FROM incident_update").fetchone()
    assert row is not None
    return row[0]
