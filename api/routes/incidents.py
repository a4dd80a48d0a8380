"""Public incidents: active and past, as GeoJSON."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from api.deps import DbDep
from api.http import GEOJSON, cached_response, decode_cursor, dumps, encode_cursor, parse_bbox
from api.http import parse_list as _list
from api.schemas.common import ERRORS
from api.schemas.incidents import PUBLIC_STATUSES, IncidentCollection, IncidentDetail
from api.timeparams import aware
from store.incidents import IncidentNotFound
from store.incidents import get_incident as fetch_incident
from store.queries import incident_history, incidents

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
_PUBLIC_FIELDS = (
    "incident_id", "kind", "severity", "status", "segment_id", "road_name", "direction",
    "started_at", "updated_at", "ended_at", "est_delay_s", "queue_m", "source", "version",
)  # fmt: skip


def feature(row: dict[str, Any]) -> dict[str, Any]:
    """GeoJSON Feature of an incident row (public fields)."""
    geom = None
    if row.get("lon") is not None:
        geom = {"type": "Point", "coordinates": [round(row["lon"], 6), round(row["lat"], 6)]}
    return {"type": "Feature", "id": row["incident_id"], "geometry": geom,
            "properties": {k: row.get(k) for k in _PUBLIC_FIELDS}}  # fmt: skip


@router.get(
    "", response_model=IncidentCollection, responses={**ERRORS, 200: {"content": {GEOJSON: {}}}}
)
def list_incidents(
    request: Request,
    db: DbDep,
    active: bool | None = Query(None, description="true: suspected/confirmed; false: ended."),
    status: str | None = Query(None, description="Comma-separated: " + ",".join(PUBLIC_STATUSES)),
    since: Annotated[datetime | None, Query(description="Ongoing at or after (RFC 3339).")] = None,
    until: Annotated[datetime | None, Query(description="Started before (RFC 3339).")] = None,
    min_severity: int | None = Query(None, ge=1, le=5),
    bbox: str | None = Query(None, description="min_lon,min_lat,max_lon,max_lat (WGS 84)."),
    cursor: str | None = Query(None, max_length=400, description="next_cursor of the last page."),
    limit: int = Query(100, ge=1, le=500),
) -> Response:
    """Incidents newest first as a GeoJSON FeatureCollection. Dismissed false alarms and
    incidents kept for review (not yet sure enough) are not published."""
    statuses = _list(status, set(PUBLIC_STATUSES), name="status") or list(PUBLIC_STATUSES)
    before = None
    if cursor:
        at, iid = decode_cursor(cursor, 2)
        try:
            before = (datetime.fromisoformat(at), iid)
        except ValueError as exc:
            raise HTTPException(400, "cursor is not valid") from exc
    rows = incidents(
        db, active=active, status=statuses, since=aware(since), until=aware(until),
        min_severity=min_severity, bbox=parse_bbox(bbox), limit=limit + 1, before=before,
    )  # fmt: skip
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    nxt = encode_cursor(last["started_at"].isoformat(), last["incident_id"]) if more else None
    body = dumps({"type": "FeatureCollection", "count": len(rows), "next_cursor": nxt,
                  "features": [feature(r) for r in rows]})  # fmt: skip
    return cached_response(request, body, media_type=GEOJSON)


@router.get(
    "/{incident_id}", response_model=IncidentDetail,
    responses={**ERRORS, 200: {"content": {GEOJSON: {}}}},
)  # fmt: skip
def get_incident(request: Request, db: DbDep, incident_id: str) -> Response:
    """One incident with its public history (dismissed ones and those kept for review are
    not published)."""
    try:
        row = fetch_incident(db, incident_id)
    except IncidentNotFound:
        row = None
    if row is None or row["status"] == "dismissed" or not row["announced"]:
        raise HTTPException(404, f"no incident {incident_id!r}")
    history = [{k: h[k] for k in ("version", "at", "action", "status")}
               for h in incident_history(db, incident_id)]  # fmt: skip
    return cached_response(
        request, dumps({**feature(row), "history": history}), media_type=GEOJSON
    )

