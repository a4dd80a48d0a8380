"""What operators (and other systems) did to incidents, as the incident worker takes it in:
incidents others reported and the current status of the worker's own. Coordinates WGS84."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import psycopg


class ReportedIncident(NamedTuple):
    """An active incident with a location: id, segment id, lon/lat (degrees), start."""

    incident_id: str
    segment_id: str | None
    lon: float
    lat: float
    started_at: datetime


def reported_incidents(
    conn: psycopg.Connection, not_created_by: str, known: Sequence[str]
) -> list[ReportedIncident]:
    """Active (suspected or confirmed) incidents with a location that ``not_created_by`` did
    not create, other than ``known`` ids."""
    rows = conn.execute(
        "SELECT incident_id, segment_id, ST_X(geom), ST_Y(geom), started_at FROM incident"
        " WHERE status IN ('suspected', 'confirmed') AND created_by IS DISTINCT FROM %s"
        " AND geom IS NOT NULL AND NOT (incident_id = ANY(%s))",
        (not_created_by, list(known)),
    ).fetchall()
    return [ReportedIncident(*r) for r in rows]


def incident_statuses(conn: psycopg.Connection, ids: Sequence[str]) -> list[tuple[str, str]]:
    """(incident id, status) of the stored incidents among ``ids``."""
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT incident_id, status FROM incident WHERE incident_id = ANY(%s)", (list(ids),)
    )]  # fmt: skip
