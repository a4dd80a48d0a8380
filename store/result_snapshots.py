"""Everything the pipeline stored, as rows to compare as multisets between runs, and the
incidents raised with their positions (WGS 84 lon/lat)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from store.traversal_writer import PRESENCE_COLUMNS

Row = tuple[Any, ...]


@dataclass(frozen=True)
class ResultRows:
    """Stored results, row by row (floats rounded where sums may change order)."""

    traversals: list[Row]
    presence: list[Row]
    cells: list[Row]  # probe_cell sums per segment-minute (rows follow the checkpoints)
    readings: list[Row]
    states: list[Row]  # measured segment states (speed rounded to 0.01 km/h)
    kpis: list[Row]  # (minute, vehicle-km rounded to 0.01, vehicle-hours to 0.001 as text)
    incidents: list[Row]  # what does not change after creation
    incident_updates: list[Row]  # the history, change as canonical jsonb text


def read_result_rows(
    conn: psycopg.Connection, *, sources: Sequence[str], incidents_at: datetime | None
) -> ResultRows:
    """The stored results of ``conn``'s database: segment states of the given ``sources``,
    incidents detected and updates made at or before ``incidents_at`` (none when ``None``)."""
    trav = conn.execute(
        "SELECT segment_id, minute, vehicle_id, entry_ts, exit_ts, speed_kmh, dwell_s,"
        " vehicle_type, known_at FROM probe_traversal"
    ).fetchall()
    presence = conn.execute(f"SELECT {', '.join(PRESENCE_COLUMNS)} FROM probe_presence")
    presence_rows = presence.fetchall()
    cells = conn.execute(
        "SELECT segment_id, minute, sum(distance_cm), sum(time_ms), sum(vehicles)"
        " FROM probe_cell GROUP BY segment_id, minute"
    ).fetchall()
    read = conn.execute(
        "SELECT detector_id, ts, lane, interval_s, volume, occupancy, speed_kmh"
        " FROM detector_reading"
    ).fetchall()
    states = conn.execute(
        "SELECT segment_id, minute, round(speed_kmh::numeric, 2), n_samples, n_vehicles,"
        " source FROM segment_state WHERE source = ANY(%s)",
        (list(sources),),
    ).fetchall()
    kpis = conn.execute(
        "SELECT minute, round(vehicle_km::numeric, 2), round(vehicle_hours::numeric, 3)::text"
        " FROM network_kpi"
    ).fetchall()  # text: NaN would not equal itself
    incidents = conn.execute(
        "SELECT incident_id, kind, source, created_by, started_at, detected_at FROM incident"
        " WHERE detected_at <= %s",
        (incidents_at,),
    ).fetchall()
    updates = conn.execute(
        "SELECT incident_id, version, at, actor, action, status, change::text"
        " FROM incident_update WHERE at <= %s",
        (incidents_at,),
    ).fetchall()  # change: the fields before/after (jsonb text is canonical)
    return ResultRows(trav, presence_rows, cells, read, states, kpis, incidents, updates)


def incident_positions(conn: psycopg.Connection, detected_until: datetime) -> list[Row]:
    """(incident_id, lon, lat) of the incidents detected at or before ``detected_until``."""
    return conn.execute(
        "SELECT incident_id, ST_X(geom), ST_Y(geom) FROM incident WHERE detected_at <= %s",
        (detected_until,),
    ).fetchall()


def raised_incidents(conn: psycopg.Connection) -> list[Row]:
    """(incident_id, method, segment_id, lon, lat) of every stored incident."""
    return conn.execute(
        "SELECT incident_id, method, segment_id, ST_X(geom), ST_Y(geom) FROM incident"
    ).fetchall()
