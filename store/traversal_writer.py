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
    stage(conn, "_trav_in", "probe_traversal", list(COLUMNS), _TYPES, rows)
    cols = ", ".join(COLUMNS)
    return conn.execute(
        f"INSERT INTO probe_traversal ({cols}) SELECT {cols} FROM _trav_in"
        " ORDER BY segment_id, minute, vehicle_id, entry_ts ON CONFLICT DO NOTHING"
    ).rowcount


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
    stage(conn, "_presence_in", "probe_presence", list(PRESENCE_COLUMNS), _PRESENCE_TYPES, rows)
    cols = ", ".join(PRESENCE_COLUMNS)
    return conn.execute(
        f"INSERT INTO probe_presence ({cols}) SELECT {cols} FROM _presence_in"
        " ORDER BY as_of, vehicle_id ON CONFLICT DO NOTHING"
    ).rowcount
