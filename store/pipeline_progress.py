"""How far the pipeline got, as stored: checkpointed offsets, minutes still queued for the
state builder, minutes the incident worker decided, freshness of the current state."""

from __future__ import annotations

from datetime import datetime

import psycopg


def checkpointed_offsets(conn: psycopg.Connection, group: str, topic: str) -> dict[int, int]:
    """Checkpointed next offset per partition of ``topic`` for consumer ``group``."""
    rows = conn.execute(
        "SELECT partition, next_offset FROM consumer_checkpoint"
        " WHERE consumer_group = %s AND topic = %s",
        (group, topic),
    ).fetchall()
    return dict(rows)


def queued_minute_count(conn: psycopg.Connection) -> int:
    """Minutes waiting for the state builder (``state_dirty``)."""
    row = conn.execute("SELECT count(*) FROM state_dirty").fetchone()
    assert row is not None
    return int(row[0])


def last_decided_minute(conn: psycopg.Connection) -> datetime | None:
    """The last minute the incident worker decided (``None`` before the first)."""
    row = conn.execute("SELECT max(minute) FROM incident_progress").fetchone()
    return None if row is None else row[0]


def incident_progress_minute(conn: psycopg.Connection) -> datetime | None:
    """The minute stored in ``incident_progress`` (``None`` while it holds no row)."""
    row = conn.execute("SELECT minute FROM incident_progress").fetchone()
    return row[0] if row else None


def traversal_count(conn: psycopg.Connection) -> int:
    """Stored probe traversals."""
    row = conn.execute("SELECT count(*) FROM probe_traversal").fetchone()
    assert row is not None
    return int(row[0])


def measured_state_age_s(conn: psycopg.Connection) -> float | None:
    """Seconds since the newest update of a measured (not profile) current state."""
    row = conn.execute(
        "SELECT extract(epoch FROM clock_timestamp() - max(updated_at))::float"
        " FROM segment_current WHERE source <> 'profile'"
    ).fetchone()
    return None if row is None else row[0]


def traversal_completion(
    conn: psycopg.Connection,
) -> dict[tuple[str, datetime], tuple[datetime, int]]:
    """Per (segment, minute) with traversals: the newest exit time and distinct vehicles."""
    return {
        (sid, m): (exit_ts, nv)
        for sid, m, exit_ts, nv in conn.execute(
            "SELECT segment_id, minute, max(exit_ts), count(DISTINCT vehicle_id)"
            " FROM probe_traversal GROUP BY segment_id, minute"
        )
    }
