"""The state builder's work queue: minutes whose inputs changed (``state_dirty``).

Workers mark the minutes of what they store inside their checkpoint
transaction; the state builder takes them and recomputes those minutes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import psycopg


def minute_of(ts: datetime) -> datetime:
    """The UTC minute containing ``ts``."""
    return ts.astimezone(UTC).replace(second=0, microsecond=0)


def mark_minutes(conn: psycopg.Connection, times: Iterable[datetime]) -> None:
    """Mark the minutes containing ``times`` as needing a rebuild."""
    minutes = sorted({minute_of(t) for t in times})
    if minutes:
        conn.execute(
            "INSERT INTO state_dirty (minute) SELECT unnest(%s::timestamptz[])"
            " ON CONFLICT DO NOTHING",
            (minutes,),
        )


def queued_minutes(conn: psycopg.Connection, *, limit: int = 1440) -> list[datetime]:
    """Up to ``limit`` of the oldest dirty minutes, left in the queue."""
    rows = conn.execute(
        "SELECT minute FROM state_dirty ORDER BY minute LIMIT %s", (limit,)
    ).fetchall()
    return [r[0] for r in rows]


def take_minute(conn: psycopg.Connection, minute: datetime) -> bool:
    """Remove ``minute`` from the queue in the caller's transaction (so the minute stays
    queued unless its rebuild commits); ``False`` when it was no longer queued."""
    return conn.execute("DELETE FROM state_dirty WHERE minute = %s", (minute,)).rowcount > 0
