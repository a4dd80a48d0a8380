"""Writes probe traversals (``probe_traversal``), idempotently."""

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
