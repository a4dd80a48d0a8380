"""Copying the detector inventory (``detector``) from one database to another."""

from __future__ import annotations

import psycopg


def copy_detectors(src: psycopg.Connection, dst: psycopg.Connection) -> int:
    """Insert every detector of ``src`` into ``dst`` (one already there is left unchanged);
    returns the detectors read. Commits with ``dst``'s transaction."""
    rows = src.execute(
        "SELECT detector_id, segment_id, position_m, lanes, kind, station_id FROM detector"
    ).fetchall()
    with dst.cursor() as cur:
        cur.executemany(
            "INSERT INTO detector (detector_id, segment_id, position_m, lanes, kind, station_id)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            rows,
        )
    return len(rows)
