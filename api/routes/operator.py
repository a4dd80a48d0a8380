"""Operator API: manage incidents and detectors (viewer reads; operator writes; audited)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from api.deps import CurrentOperator, CurrentViewer, DbDep
from api.http import decode_cursor, encode_cursor
from api.operations import audited, domain_errors, incident_action
from api.schemas.common import AUTH_ERRORS
from api.schemas.incidents import (
    IncidentAction,
    IncidentCreate,
    IncidentNote,
    IncidentOperator,
    IncidentUpdate,
)
from api.timeparams import aware
from store import incidents as inc
from store.detectors import set_detector_status
from store.queries import detector_health, incident_history, incidents

router = APIRouter(prefix="/v1/operator", tags=["operator"], responses=AUTH_ERRORS)
StatusName = Literal["suspected", "confirmed", "cleared", "dismissed", "resolved"]
ERR = {404: {"description": "Not found"}, 409: {"description": "Not allowed in this status"}}


class IncidentPage(BaseModel):
    """Incidents newest first (all statuses), one page."""

    incidents: list[IncidentOperator]
    next_cursor: str | None


class IncidentHistoryEntry(BaseModel):
    """One update of an incident, with its actor."""

    version: int
    at: datetime
    actor: str
    action: str
    status: str
    change: dict[str, Any]


class IncidentWithHistory(IncidentOperator):
    """An incident with its full update history."""

    history: list[IncidentHistoryEntry]


@router.get("/incidents", response_model=IncidentPage)
def operator_incidents(
    db: DbDep,
    actor: CurrentViewer,
    status: Annotated[list[StatusName] | None, Query()] = None,
    active: bool | None = None,
    min_severity: int | None = Query(None, ge=1, le=5),
    cursor: str | None = Query(None, max_length=400),
    limit: int = Query(100, ge=1, le=500),
    review: bool = Query(False, description="true: the incidents kept for review (raised, "
                         "but below the confidence to announce them), instead of the announced"),
) -> IncidentPage:
    """Every announced incident newest first, with evidence and confidence (repeat
    ``status`` to filter); ``review=true`` lists those kept for review."""
    before = None
    if cursor:
        at, iid = decode_cursor(cursor, 2)
        try:
            before = (datetime.fromisoformat(at), iid)
        except ValueError as exc:
            raise HTTPException(400, "cursor is not valid") from exc
    rows = incidents(db, active=active, status=list(status) if status else None,
                     min_severity=min_severity, limit=limit + 1, before=before,
                     announced=not review)  # fmt: skip
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = encode_cursor(rows[-1]["started_at"].isoformat(), rows[-1]["incident_id"])
    return IncidentPage(incidents=rows, next_cursor=nxt)


@router.get("/incidents/{incident_id}", response_model=IncidentWithHistory, responses=ERR)
def operator_incident(db: DbDep, actor: CurrentViewer, incident_id: str) -> dict[str, Any]:
    """One incident with its full history (who did what, when)."""
    with domain_errors():
        row = inc.get_incident(db, incident_id)
    return {**row, "history": incident_history(db, incident_id)}


@router.post("/incidents", response_model=IncidentOperator, status_code=201, responses=ERR)
def create_incident(db: DbDep, actor: CurrentOperator, body: IncidentCreate) -> dict[str, Any]:
    """Report an incident by hand (status ``confirmed`` unless said otherwise)."""
    if (body.lon is None) != (body.lat is None):
        raise HTTPException(400, "give both lon and lat, or neither")

    def change() -> tuple[None, dict[str, Any]]:
        row = inc.create_incident(
            db, kind=body.kind, severity=body.severity, segment_id=body.segment_id,
            lon=body.lon, lat=body.lat, road_name=body.road_name, direction=body.direction,
            started_at=aware(body.started_at) or datetime.now(UTC), source="operator",
            evidence={"note": body.note} if body.note else {}, est_delay_s=body.est_delay_s,
            actor=actor.username, status=body.status, method="manual",
        )  # fmt: skip
        return None, row

    row = audited(db, actor, action="incident.create", resource_type="incident",
                  resource_id=lambda row: row["incident_id"], change=change)  # fmt: skip
    return row


def _action(action: str):
    def endpoint(
        db: DbDep, actor: CurrentOperator, incident_id: str, body: IncidentAction | None = None
    ) -> dict[str, Any]:
        body = body or IncidentAction()
        return incident_action(db, actor, incident_id, action=action, note=body.note,
                               expected_version=body.expected_version)  # fmt: skip

    endpoint.__doc__ = {
        "confirm": "Confirm a suspected incident.",
        "dismiss": "Dismiss an active incident as a false alarm.",
        "resolve": "Close an active incident (cleared on site).",
        "announce": "Publish an incident kept for review (?review=true lists them).",
    }[action]
    return endpoint


for _name in ("confirm", "dismiss", "resolve", "announce"):
    router.add_api_route(
        f"/incidents/{{incident_id}}/{_name}", _action(_name), methods=["POST"],
        response_model=IncidentOperator, responses=ERR, name=f"{_name}_incident",
        summary=f"{_name.capitalize()} an incident",
    )  # fmt: skip


@router.post("/incidents/{incident_id}/annotate", response_model=IncidentOperator, responses=ERR)
def annotate_incident(
    db: DbDep, actor: CurrentOperator, incident_id: str, body: IncidentNote
) -> dict[str, Any]:
    """Add a note to an incident (any status)."""
    return incident_action(db, actor, incident_id, action="annotate", note=body.note,
                           expected_version=body.expected_version)  # fmt: skip


@router.patch("/incidents/{incident_id}", response_model=IncidentOperator, responses=ERR)
def update_incident(
    db: DbDep, actor: CurrentOperator, incident_id: str, body: IncidentUpdate
) -> dict[str, Any]:
    """Correct an active incident's kind, severity, road, direction or delay."""
    changes = body.model_dump(exclude_none=True, exclude={"note", "expected_version"})
    if not changes and body.note is None:
        raise HTTPException(400, "nothing to change")
    return incident_action(db, actor, incident_id, action="update", note=body.note,
                           changes=changes, expected_version=body.expected_version)  # fmt: skip


class DetectorHealth(BaseModel):
    """A detector's service status and what its last hour of readings looks like."""

    detector_id: str
    segment_id: str | None
    status: str = Field(description="in_service or failed")
    last_ts: datetime | None
    readings: int
    completeness: float = Field(description="Share of expected intervals received, 0–1.")
    all_zero: bool
    stuck: bool


class DetectorStatusUpdate(BaseModel):
    """Mark a detector failed (its readings are ignored) or back in service."""

    status: Literal["in_service", "failed"]
    note: str | None = Field(None, max_length=2000, examples=["Loop cut by road works."])


class DetectorPublic(BaseModel):
    """A detector's service status."""

    detector_id: str
    segment_id: str | None
    kind: str
    lanes: int | None
    status: str
    status_note: str | None
    status_changed_by: str | None
    status_changed_at: datetime | None


@router.get("/detectors", response_model=list[DetectorHealth])
def detectors(db: DbDep, actor: CurrentViewer) -> list[dict[str, Any]]:
    """Every detector with its status and last-hour health."""
    return detector_health(db, now=datetime.now(UTC))


@router.put("/detectors/{detector_id}/status", response_model=DetectorPublic, responses=ERR)
def detector_status(
    db: DbDep, actor: CurrentOperator, detector_id: str, body: DetectorStatusUpdate
) -> dict[str, Any]:
    """Mark a detector failed or back in service (the state builder follows it)."""
    return audited(
        db, actor, action="detector.status", resource_type="detector", resource_id=detector_id,
        change=lambda: set_detector_status(db, detector_id, status=body.status, note=body.note,
                                           actor=actor.username),
    )  # fmt: skip
