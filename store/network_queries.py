"""Reads of the road network and its current state, for callers that hold the network in
memory (the API's network view and corridor routes).

Geometry is WGS 84 (GeoJSON text and lon/lat bounds); lengths m; speeds km/h; times UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from store.queries import CURRENT_COLUMNS

STATE_COLUMNS = (*CURRENT_COLUMNS, "updated_at")
"""Columns of the rows of :func:`current_state_rows` (``updated_at`` last)."""


def segment_geometries(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    """Every road segment in id order: ``(segment_id, name, road_class, lanes, length_m,
    free_flow_kmh, GeoJSON geometry (6 decimals), min_lon, min_lat, max_lon, max_lat)``."""
    return conn.execute(
        "SELECT segment_id, name, road_class, lanes, length_m, free_flow_kmh,"
        " ST_AsGeoJSON(geom, 6), ST_XMin(geom), ST_YMin(geom), ST_XMax(geom),"
        " ST_YMax(geom) FROM road_segment ORDER BY segment_id"
    ).fetchall()


def segment_graph(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    """Every road segment in id order as a graph edge: ``(segment_id, from_node, to_node,
    free-flow travel time s, start lon, start lat, end lon, end lat)``."""
    return conn.execute(
        "SELECT segment_id, from_node, to_node, length_m / free_flow_kmh * 3.6,"
        " ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)), ST_X(ST_EndPoint(geom)),"
        " ST_Y(ST_EndPoint(geom)) FROM road_segment ORDER BY segment_id"
    ).fetchall()


def current_state_version(conn: psycopg.Connection) -> tuple[datetime | None, int]:
    """Newest ``updated_at`` and row count of ``segment_current``: a cheap change check
    (served by the index on ``updated_at``)."""
    row = conn.execute("SELECT max(updated_at), count(*) FROM segment_current").fetchone()
    assert row is not None
    return row[0], row[1]


def current_state_rows(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    """The latest state of every segment that has one, as tuples in :data:`STATE_COLUMNS`
    order (binary transfer)."""
    return conn.execute(
        f"SELECT {', '.join(STATE_COLUMNS)} FROM segment_current", binary=True
    ).fetchall()
