"""Writes probe traversals (``probe_traversal``) and presence records (``probe_presence``),
idempotently."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg

from store.state_writer import stage

TraversalRow = tuple[str, datetime, str, datetime, datetime, float, float, str]
"""(segment_id, minute, vehicle_id, entry_ts, exit_ts, speed_kmh, dwell_s, vehicle_type), and
optionally ``known_at`` (when the worker knew it, see :mod:`analytics.workers.runner`)."""

COLUMNS = (
    "segment_id", "minute", "vehicle_id", "entry_ts", "exit_ts", "speed_kmh", "dwell_s",
    "vehicle_type", "known_at",
)  # fmt: skip
_TYPES = ("text", "timestamptz", "text", "timestamptz", "timestamptz", "float4", "float4", "text",
          "timestamptz")  # fmt: skip


def write_traversals(conn: psycopg.Connection, rows: Sequence[TraversalRow]) -> int:
    """Insert traversals inside the caller's transaction; a stored one is left unchanged.
    Rows without ``known_at`` store NULL there.

    Returns the number of new rows."""
    if not rows:
        return 0
    rows = [r if len(r) == len(COLUMNS) else (*r, None) for r in rows]
    return _insert_new(conn, "probe_traversal", COLUMNS, _TYPES, rows,
                       "segment_id, minute, vehicle_id, entry_ts")  # fmt: skip


PRESENCE_COLUMNS = (
    "as_of", "segment_id", "vehicle_id", "vehicle_type", "entry_ts", "entry_seen", "last_ts",
    "offset_m", "progress_m", "still_s", "dwell_s", "crawl_s", "on_segment_s",
)  # fmt: skip
_PRESENCE_TYPES = ("timestamptz", "text", "text", "text", "timestamptz", "bool", "timestamptz",
                   "float4", "float4", "float4", "float4", "float4", "float4")  # fmt: skip


def write_presence(conn: psycopg.Connection, rows: Sequence[tuple]) -> int:
    """Insert presence records (:data:`analytics.presence.PresenceRow`, columns
    :data:`PRESENCE_COLUMNS`) inside the caller's transaction; a stored one (same record time
    and vehicle) is left unchanged. Returns the number of new rows."""
    if not rows:
        return 0
    return _insert_new(conn, "probe_presence", PRESENCE_COLUMNS, _PRESENCE_TYPES, rows,
                       "as_of, vehicle_id")  # fmt: skip


def _insert_new(
    conn: psycopg.Connection, table: str, columns: Sequence[str], types: Sequence[str],
    rows: Sequence[tuple], order: str,
) -> int:  # fmt: skip
    """COPY ``rows`` into a staging table, then insert those ``table`` does not hold yet (in
    ``order``, its key, so concurrent writers lock alike); returns how many were new."""
    stage(conn, f"_{table}_in", table, list(columns), types, rows)
    cols = ", ".join(columns)
    return conn.execute(
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _{table}_in"
        f" ORDER BY {order} ON CONFLICT DO NOTHING"
    ).rowcount
