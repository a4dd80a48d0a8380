"""Writes probe traversals (``probe_traversal``), space-time cells (``probe_cell``) and
presence records (``probe_presence``), idempotently."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import psycopg

from store.state_writer import copy_new, stage


class TraversalRow(NamedTuple):
    """One vehicle's traversal of one segment (a ``probe_traversal`` row, in column order).
    Times are UTC; ``minute`` is the minute of the traversal's midpoint."""

    segment_id: str
    minute: datetime
    vehicle_id: str
    entry_ts: datetime
    exit_ts: datetime
    speed_kmh: float
    dwell_s: float
    vehicle_type: str
    known_at: datetime | None = None
    """When the worker knew it (:mod:`analytics.workers.event_time`); ``None`` stores NULL."""


class CellRow(NamedTuple):
    """The distance (cm) and time (ms) probes spent on a segment within a minute, summed over
    the vehicles of one partition (``source``, e.g. ``gps.fixes/3``) whose cells closed
    between two of its minute cuts (``seq``); ``vehicles`` counts their cells (a vehicle once,
    unless its chain restarted there). A ``probe_cell`` row, in column order (UTC)."""

    segment_id: str
    minute: datetime
    source: str
    seq: int
    distance_cm: int
    time_ms: int
    vehicles: int


class PresenceRow(NamedTuple):
    """One vehicle abnormally slow on its segment at a minute boundary ``as_of`` (a
    ``probe_presence`` row, in column order; times UTC, distances metres, durations seconds).
    ``entry_ts`` is the entry time when ``entry_seen``, else the vehicle's first fix on the
    segment; ``offset_m`` the position of its last fix (``last_ts``) along the segment."""

    as_of: datetime
    segment_id: str
    vehicle_id: str
    vehicle_type: str
    entry_ts: datetime
    entry_seen: bool
    last_ts: datetime
    offset_m: float
    progress_m: float
    still_s: float
    dwell_s: float
    crawl_s: float
    on_segment_s: float


COLUMNS = TraversalRow._fields
_TYPES = ("text", "timestamptz", "text", "timestamptz", "timestamptz", "float4", "float4", "text",
          "timestamptz")  # fmt: skip


def write_traversals(conn: psycopg.Connection, rows: Sequence[TraversalRow]) -> int:
    """Insert traversals inside the caller's transaction; a stored one is left unchanged.
    Rows without ``known_at`` store NULL there.

    Returns the number of new rows."""
    if not rows:
        return 0
    return _insert_new(conn, "probe_traversal", COLUMNS, _TYPES, rows,
                       "segment_id, minute, vehicle_id, entry_ts")  # fmt: skip


def write_cells(conn: psycopg.Connection, rows: Sequence[CellRow]) -> int:
    """Insert space-time cell sums inside the caller's transaction; a stored one is left
    unchanged (a replay from the same checkpoint numbers its cuts alike). Returns the number
    of new rows."""
    if not rows:
        return 0
    return _insert_new(conn, "probe_cell", CellRow._fields, _CELL_TYPES, rows,
                       "segment_id, minute, source, seq")  # fmt: skip


_CELL_TYPES = ("text", "timestamptz", "text", "int8", "int8", "int8", "int4")


PRESENCE_COLUMNS = PresenceRow._fields
_PRESENCE_TYPES = ("timestamptz", "text", "text", "text", "timestamptz", "bool", "timestamptz",
                   "float4", "float4", "float4", "float4", "float4", "float4")  # fmt: skip


def write_presence(conn: psycopg.Connection, rows: Sequence[PresenceRow]) -> int:
    """Insert presence records (columns :data:`PRESENCE_COLUMNS`) inside the caller's
    transaction; a stored one (same record time and vehicle) is left unchanged. Returns the
    number of new rows."""
    if not rows:
        return 0
    return _insert_new(conn, "probe_presence", PRESENCE_COLUMNS, _PRESENCE_TYPES, rows,
                       "as_of, vehicle_id")  # fmt: skip


def _insert_new(
    conn: psycopg.Connection, table: str, columns: Sequence[str], types: Sequence[str],
    rows: Sequence[tuple], order: str,
) -> int:  # fmt: skip
    """Insert the ``rows`` ``table`` does not hold yet; returns how many were new. Usually
    none is stored yet (the checkpoint transaction stores each result once) and one COPY
    straight into the table does; if some are, they go through a staging table and are
    inserted in ``order``, the table's key, so concurrent writers lock alike."""
    if copy_new(conn, table, columns, types, rows):
        return len(rows)
    stage(conn, f"_{table}_in", table, list(columns), types, rows)
    cols = ", ".join(columns)
    return conn.execute(
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _{table}_in"
        f" ORDER BY {order} ON CONFLICT DO NOTHING"
    ).rowcount
