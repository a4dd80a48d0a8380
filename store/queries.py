"""Read queries used by the API and dashboards; each one is served by an index.

Times are aware UTC datetimes; speeds km/h; travel times seconds; geometry
WGS 84 (GeoJSON text where returned).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from store.incidents import INCIDENT_COLUMNS

Resolution = Literal["1m", "5m", "15m", "1h"]
_RESOLUTION_TABLE = {
    "1m": ("segment_state", "minute"),
    "5m": ("segment_state_5m", "bucket"),
    "15m": ("segment_state_15m", "bucket"),
    "1h": ("segment_state_1h", "bucket"),
}


def pick_resolution(start: datetime, end: datetime) -> Resolution:
    """Finest resolution that keeps a history reply under ~1,000 points."""
    span = end - start
    if span <= timedelta(hours=12):
        return "1m"
    if span <= timedelta(days=3):
        return "5m"
    if span <= timedelta(days=10):
        return "15m"
    return "1h"


def _current_sql(
    *,
    bbox: tuple[float, float, float, float] | None,
    road_classes: list[str] | None,
    max_age: timedelta | None,
    now: datetime | None,
) -> tuple[str, str, dict[str, Any]]:
    """SELECT list, FROM/WHERE clause and parameters of the current-state queries."""
    where: list[str] = ["true"]
    params: dict[str, Any] = {}
    if bbox is not None:
        where.append("s.geom && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4326)")
        params.update(x0=bbox[0], y0=bbox[1], x1=bbox[2], y1=bbox[3])
    if road_classes:
        where.append("s.road_class = ANY(%(classes)s)")
        params["classes"] = road_classes
    fresh = "true"
    if max_age is not None:
        fresh = "c.minute >= coalesce(%(now)s, now()) - %(age)s"
        params.update(now=now, age=max_age)
    select = (
        "s.segment_id, s.name, s.road_class, s.length_m, s.lanes,"
        " coalesce(c.free_flow_kmh, s.free_flow_kmh) AS free_flow_kmh,"
        f" CASE WHEN {fresh} THEN c.minute END AS minute,"
        f" CASE WHEN {fresh} THEN c.speed_kmh END AS speed_kmh,"
        f" CASE WHEN {fresh} THEN c.travel_time_s END AS travel_time_s,"
        f" CASE WHEN {fresh} THEN c.n_samples ELSE 0 END AS n_samples,"
        f" CASE WHEN {fresh} THEN c.n_vehicles ELSE 0 END AS n_vehicles,"
        f" CASE WHEN {fresh} THEN c.congestion_level END AS congestion_level,"
        f" CASE WHEN {fresh} THEN c.jam_factor END AS jam_factor,"
        f" CASE WHEN {fresh} THEN c.confidence END AS confidence,"
        f" CASE WHEN {fresh} THEN c.source END AS source, c.updated_at"
    )
    source = (
        " FROM road_segment s LEFT JOIN segment_current c USING (segment_id)"
        f" WHERE {' AND '.join(where)}"
    )
    return select, source, params


def current_state(
    conn: psycopg.Connection,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    road_classes: list[str] | None = None,
    max_age: timedelta | None = None,
    now: datetime | None = None,
    with_geometry: bool = False,
) -> list[dict[str, Any]]:
    """Every segment with its latest state (``None`` fields when it has none).

    ``bbox`` is (min_lon, min_lat, max_lon, max_lat); ``max_age`` drops states
    older than that (relative to ``now``, default the database clock).
    """
    select, source, params = _current_sql(
        bbox=bbox, road_classes=road_classes, max_age=max_age, now=now
    )
    geom = ", ST_AsGeoJSON(s.geom, 6) AS geometry" if with_geometry else ""
    # binary results and plain tuples: this query returns every segment of the city
    cur = conn.execute(f"SELECT {select}{geom}{source} ORDER BY s.segment_id", params, binary=True)
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


CURRENT_COLUMNS = (
    "segment_id", "minute", "speed_kmh", "travel_time_s", "free_flow_kmh", "n_samples",
    "n_vehicles", "congestion_level", "jam_factor", "confidence", "source",
)  # fmt: skip


def current_rows(conn: psycopg.Connection) -> list[tuple]:
    """The latest state of every segment that has one, as tuples in :data:`CURRENT_COLUMNS`
    order: the lean form for callers that keep the static network in memory (the API)."""
    return conn.execute(
        f"SELECT {', '.join(CURRENT_COLUMNS)} FROM segment_current", binary=True
    ).fetchall()


def segment_history(
    conn: psycopg.Connection,
    segment_id: str,
    start: datetime,
    end: datetime,
    resolution: Resolution | None = None,
) -> tuple[Resolution, list[dict[str, Any]]]:
    """States of one segment in ``[start, end)`` at ``resolution`` (by span when ``None``)."""
    resolution = resolution or pick_resolution(start, end)
    table, col = _RESOLUTION_TABLE[resolution]
    query = (
        f"SELECT {col} AS time, speed_kmh, travel_time_s, n_samples, n_vehicles,"
        f" congestion_level, jam_factor, confidence FROM {table}"
        f" WHERE segment_id = %s AND {col} >= %s AND {col} < %s ORDER BY {col}"
    )
    with conn.cursor(row_factory=dict_row) as cur:
        return resolution, cur.execute(query, (segment_id, start, end)).fetchall()


def incidents(
    conn: psycopg.Connection,
    *,
    active: bool | None = None,
    status: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_severity: int | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    limit: int = 100,
    before: tuple[datetime, str] | None = None,
    announced: bool | None = True,
) -> list[dict[str, Any]]:
    """Incidents newest first, filtered; ``before`` = (started_at, incident_id) cursor;
    ``announced``: those announced (the default), those kept for review (``False``) or both
    (``None``). Rows have the columns of :func:`store.incidents.get_incident`."""
    where: list[str] = ["true"]
    params: dict[str, Any] = {"limit": limit}
    if announced is not None:
        where.append("i.announced = %(announced)s")
        params["announced"] = announced
    if active is True:
        where.append("i.status IN ('suspected', 'confirmed')")
    elif active is False:
        where.append("i.status NOT IN ('suspected', 'confirmed')")
    if status:
        where.append("i.status = ANY(%(status)s)")
        params["status"] = status
    if since is not None:
        where.append("coalesce(i.ended_at, 'infinity') >= %(since)s")
        params["since"] = since
    if until is not None:
        where.append("i.started_at < %(until)s")
        params["until"] = until
    if min_severity is not None:
        where.append("i.severity >= %(sev)s")
        params["sev"] = min_severity
    if bbox is not None:
        where.append("i.geom && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4326)")
        params.update(x0=bbox[0], y0=bbox[1], x1=bbox[2], y1=bbox[3])
    if before is not None:
        where.append("(i.started_at, i.incident_id) < (%(b_at)s, %(b_id)s)")
        params.update(b_at=before[0], b_id=before[1])
    query = (
        f"SELECT {INCIDENT_COLUMNS} FROM incident i"
        f" WHERE {' AND '.join(where)} ORDER BY i.started_at DESC, i.incident_id DESC"
        " LIMIT %(limit)s"
    )
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def incident_history(conn: psycopg.Connection, incident_id: str) -> list[dict[str, Any]]:
    """Every update of one incident, oldest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT version, at, actor, action, status, change FROM incident_update"
            " WHERE incident_id = %s ORDER BY version",
            (incident_id,),
        ).fetchall()


def kpis(conn: psycopg.Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Network KPIs per minute in ``[start, end)``."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT minute, avg_speed_kmh, congested_km, vehicle_km, vehicle_hours,"
            " delay_vehicle_hours, segments_with_data FROM network_kpi"
            " WHERE minute >= %s AND minute < %s ORDER BY minute",
            (start, end),
        ).fetchall()


def detector_readings(
    conn: psycopg.Connection, detector_id: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Readings of one detector in ``[start, end)``, all lanes."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT ts, lane, interval_s, volume, occupancy, speed_kmh FROM detector_reading"
            " WHERE detector_id = %s AND ts >= %s AND ts < %s ORDER BY ts, lane",
            (detector_id, start, end),
        ).fetchall()


def detector_health(
    conn: psycopg.Connection, *, now: datetime, window: timedelta = timedelta(hours=1)
) -> list[dict[str, Any]]:
    """Per detector: status, last reading, share of expected intervals received, and
    symptoms of faults over ``window`` (all-zero counts, stuck values)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT d.detector_id, d.segment_id, d.status, r.last_ts, coalesce(r.n, 0) AS readings,"
            " LEAST(1.0, coalesce(r.n, 0) * coalesce(r.interval_s, 60)"
            "   / extract(epoch FROM %(window)s::interval))::float8 AS completeness,"
            " coalesce(r.n > 0 AND r.max_volume = 0, false) AS all_zero,"
            " coalesce(r.n >= 5 AND r.distinct_values = 1 AND r.max_volume > 0, false) AS stuck"
            " FROM detector d LEFT JOIN LATERAL ("
            "   SELECT max(ts) AS last_ts, count(*) AS n, max(interval_s) AS interval_s,"
            "   max(volume) AS max_volume,"
            "   count(DISTINCT (volume, occupancy)) AS distinct_values"
            "   FROM detector_reading x WHERE x.detector_id = d.detector_id"
            "   AND x.ts > %(now)s::timestamptz - %(window)s::interval AND x.ts <= %(now)s"
            " ) r ON true ORDER BY d.detector_id",
            {"now": now, "window": window},
        ).fetchall()


def latest_kpi(conn: psycopg.Connection) -> dict[str, Any] | None:
    """The network KPIs of the newest stored minute (keys in column order); ``None`` when
    none are stored."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT minute, avg_speed_kmh, congested_km, vehicle_km, vehicle_hours,"
            " delay_vehicle_hours, segments_with_data FROM network_kpi"
            " ORDER BY minute DESC LIMIT 1"
        ).fetchone()
