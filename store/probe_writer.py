"""Writes per-vehicle probe observations and derives per-minute segment state from them.

Observation rows are increments keyed by (segment, minute, vehicle); the worker
writes them in the same transaction as its checkpoint, so each message counts
exactly once. Segment state is then recomputed from the observations (never
incremented), so recomputing is always safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import psycopg

from store.state_writer import StoreWriter, stage, temp_table

ObservationRow = tuple[str, datetime, str, str, int, int, float, float]
"""(segment_id, minute, vehicle_id, vehicle_type, n_fixes, n_speed, sum_speed_kmh, sum_inv_speed)"""

_OBS_COLUMNS = (
    "segment_id, minute, vehicle_id, vehicle_type, n_fixes, n_speed, sum_speed_kmh, sum_inv_speed"
)


_OBS_TYPES = ("text", "timestamptz", "text", "text", "int4", "int4", "float8", "float8")


def add_observations(conn: psycopg.Connection, rows: Iterable[ObservationRow]) -> int:
    """Add observation increments inside the caller's transaction; returns rows copied."""
    n = stage(conn, "_obs_in", "probe_observation", _OBS_COLUMNS.split(", "), _OBS_TYPES, rows)
    if n:
        conn.execute(
            f"INSERT INTO probe_observation ({_OBS_COLUMNS})"
            f" SELECT {_OBS_COLUMNS} FROM _obs_in ORDER BY segment_id, minute, vehicle_id"
            " ON CONFLICT (segment_id, minute, vehicle_id) DO UPDATE SET"
            " n_fixes = probe_observation.n_fixes + EXCLUDED.n_fixes,"
            " n_speed = probe_observation.n_speed + EXCLUDED.n_speed,"
            " sum_speed_kmh = probe_observation.sum_speed_kmh + EXCLUDED.sum_speed_kmh,"
            " sum_inv_speed = probe_observation.sum_inv_speed + EXCLUDED.sum_inv_speed"
        )
    return n


_REFRESH_LOCK = 0x17_75_0002


def refresh_segment_minutes(
    conn: psycopg.Connection, keys: Iterable[tuple[str, datetime]], writer: StoreWriter
) -> int:
    """Recompute ``segment_state`` rows for ``(segment_id, minute)`` keys from the observations.

    Run it in the transaction that added the observations: a transaction-scoped
    advisory lock serialises refreshes, so a later one always sees every
    observation committed before it. Speed is the harmonic mean of fix speeds
    (space-mean speed, km/h); travel time is segment length over that speed (seconds).
    """
    pairs = sorted(set(keys))
    if not pairs:
        return 0
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_REFRESH_LOCK,))
    temp_table(conn, "_state_in", "segment_state")
    cur = conn.execute(
        "INSERT INTO _state_in (segment_id, minute, speed_kmh, travel_time_s, free_flow_kmh,"
        " n_samples, n_vehicles, source)"
        " SELECT o.segment_id, o.minute,"
        "   sum(o.n_speed) / NULLIF(sum(o.sum_inv_speed), 0),"
        "   s.length_m * 3.6 * NULLIF(sum(o.sum_inv_speed), 0) / NULLIF(sum(o.n_speed), 0),"
        "   s.free_flow_kmh, sum(o.n_fixes), count(*), 'probe'"
        " FROM probe_observation o JOIN road_segment s USING (segment_id)"
        " WHERE (o.segment_id, o.minute) IN"
        "   (SELECT * FROM unnest(%s::text[], %s::timestamptz[]))"
        " GROUP BY o.segment_id, o.minute, s.length_m, s.free_flow_kmh",
        ([p[0] for p in pairs], [p[1] for p in pairs]),
    )
    writer.merge_staged_states(conn)
    return cur.rowcount
