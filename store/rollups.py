"""5-minute, 15-minute and hourly rollups of segment state (plain-PostgreSQL path).

With TimescaleDB the same tables are continuous aggregates with the same
expressions (migration 0003, timescale variant); here the state writer
recomputes the buckets it touched. Speed is the harmonic mean of the minute
speeds (space-mean speed over the bucket), travel time the mean.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from psycopg import sql

ROLLUPS: dict[str, timedelta] = {
    "segment_state_5m": timedelta(minutes=5),
    "segment_state_15m": timedelta(minutes=15),
    "segment_state_1h": timedelta(hours=1),
}
#: Bucket origin; TimescaleDB's time_bucket uses the same one (a Monday).
ORIGIN = "2000-01-03 00:00:00+00"

_AGGREGATES = (
    "(count(speed_kmh) / NULLIF(sum(1.0 / NULLIF(speed_kmh, 0)), 0))::real,"
    " avg(travel_time_s)::real, sum(n_samples)::bigint, max(n_vehicles),"
    " max(congestion_level), avg(jam_factor)::real, avg(confidence)::real, count(*)::integer"
)


def mark_dirty(conn: psycopg.Connection, staged_table: str = "_state_in") -> None:
    """Record the hours touched by the staged states (inside the writer's transaction)."""
    conn.execute(
        "INSERT INTO rollup_dirty (hour) SELECT DISTINCT date_trunc('hour', minute)"
        f" FROM {staged_table} ON CONFLICT DO NOTHING"
    )


def refresh_dirty_rollups(conn: psycopg.Connection, *, max_hours: int = 48) -> int:
    """Recompute the rollups of up to ``max_hours`` dirty hours; returns how many were done.

    Runs in its own transaction: the hours are claimed with ``SKIP LOCKED`` so
    several workers may call it at once.
    """
    with conn.transaction():
        hours = [
            r[0]
            for r in conn.execute(
                "DELETE FROM rollup_dirty WHERE hour IN (SELECT hour FROM rollup_dirty"
                " ORDER BY hour LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING hour",
                (max_hours,),
            ).fetchall()
        ]
        for hour in sorted(hours):
            refresh_rollups(conn, hour, hour + timedelta(minutes=59))
    return len(hours)


def refresh_rollups(conn: psycopg.Connection, lo: datetime, hi: datetime) -> None:
    """Recompute every rollup bucket overlapping minutes ``[lo, hi]`` (inside a transaction)."""
    for table, width in ROLLUPS.items():
        query = sql.SQL(
            "INSERT INTO {table} (segment_id, bucket, speed_kmh, travel_time_s, n_samples,"
            " n_vehicles, congestion_level, jam_factor, confidence, minutes)"
            " SELECT segment_id, date_bin(%(w)s, minute, %(o)s::timestamptz) AS b, "
            + _AGGREGATES
            + " FROM segment_state"
            " WHERE minute >= date_bin(%(w)s, %(lo)s::timestamptz, %(o)s::timestamptz)"
            " AND minute < date_bin(%(w)s, %(hi)s::timestamptz, %(o)s::timestamptz) + %(w)s"
            " GROUP BY segment_id, b"
            " ON CONFLICT (segment_id, bucket) DO UPDATE SET speed_kmh = EXCLUDED.speed_kmh,"
            " travel_time_s = EXCLUDED.travel_time_s, n_samples = EXCLUDED.n_samples,"
            " n_vehicles = EXCLUDED.n_vehicles, congestion_level = EXCLUDED.congestion_level,"
            " jam_factor = EXCLUDED.jam_factor, confidence = EXCLUDED.confidence,"
            " minutes = EXCLUDED.minutes"
        ).format(table=sql.Identifier(table))
        conn.execute(query, {"w": width, "o": ORIGIN, "lo": lo, "hi": hi})
