"""Incident models (GeoJSON Point in WGS 84 lon/lat; delays in seconds)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

PUBLIC_STATUSES = ("suspected", "confirmed", "cleared", "resolved")


class IncidentPublic(BaseModel):
    """An incident as the public sees it (no detection evidence, no operator names)."""

    incident_id: str = Field(examples=["inc-3f2a9c0d1e2b4a5c"])
    kind: str = Field(examples=["lane_blockage"], description="e.g. accident, stalled_vehicle.")
    severity: int = Field(ge=1, le=5, description="1 minor … 5 severe.")
    status: str = Field(description="suspected, confirmed, cleared or resolved.")
    segment_id: str | None
    road_name: str | None = Field(examples=["Lạch Tray"])
    direction: str | None
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    est_delay_s: float | None = Field(description="Estimated extra travel time, s.")
    queue_m: float | None = Field(None, description="Queue length upstream of the location, m.")
    source: str = Field(examples=["detector"])
    version: int


class IncidentFeature(BaseModel):
    """GeoJSON Feature of an incident (Point geometry, or null when unlocated)."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any] | None = Field(
        examples=[{"type": "Point", "coordinates": [106.6858, 20.8492]}]
    )
    properties: IncidentPublic


class IncidentCollection(BaseModel):
    """GeoJSON FeatureCollection of incidents, newest first (one page)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    count: int
    next_cursor: str | None
    features: list[IncidentFeature]


class IncidentEventPublic(BaseModel):
    """One step of an incident's history."""

    version: int
    at: datetime
    action: str = Field(examples=["confirm"])
    status: str


class IncidentDetail(IncidentFeature):
    """An incident with its public history."""

    history: list[IncidentEventPublic]


class IncidentCreate(BaseModel):
    """A manual incident reported by an operator."""

    kind: str = Field(min_length=1, max_length=64, examples=["accident"])
    severity: int = Field(ge=1, le=5, examples=[3])
    segment_id: str | None = Field(None, max_length=128)
    lon: float | None = Field(None, ge=-180, le=180, examples=[106.6858])
    lat: float | None = Field(None, ge=-90, le=90, examples=[20.8492])
    road_name: str | None = Field(None, max_length=200, examples=["Lạch Tray"])
    direction: str | None = Field(None, max_length=64)
    started_at: datetime | None = Field(None, description="Default: now.")
    est_delay_s: float | None = Field(None, ge=0, le=86_400)
    status: Literal["suspected", "confirmed"] = "confirmed"
    note: str | None = Field(None, max_length=2000)


class IncidentAction(BaseModel):
    """Body of confirm / dismiss / resolve (all optional)."""

    note: str | None = Field(None, max_length=2000, examples=["Confirmed on camera LT-3."])
    expected_version: int | None = Field(
        None, ge=1, description="Refuse (409) if the incident changed since this version."
    )


class IncidentNote(BaseModel):
    """An annotation."""

    note: str = Field(min_length=1, max_length=2000, examples=["Tow truck on site."])
    expected_version: int | None = Field(None, ge=1)


class IncidentUpdate(BaseModel):
    """Corrections to an active incident's fields (only those given change)."""

    kind: str | None = Field(None, min_length=1, max_length=64)
    severity: int | None = Field(None, ge=1, le=5)
    road_name: str | None = Field(None, max_length=200)
    direction: str | None = Field(None, max_length=64)
    est_delay_s: float | None = Field(None, ge=0, le=86_400)
    note: str | None = Field(None, max_length=2000)
    expected_version: int | None = Field(None, ge=1)


class IncidentOperator(IncidentPublic):
    """An incident as operators see it (with evidence and who created it)."""

    lon: float | None
    lat: float | None
    evidence: dict[str, Any]
    created_by: str | None = None
    method: str | None = Field(None, description="Detection method that raised it, if any.")
    detected_at: datetime | None = None
    confirmed_at: datetime | None = None
    confidence: float | None = Field(
        None, description="How sure the system is (0–1; none for incidents operators reported).")
    announced: bool = Field(
        True, description="false: kept for review, not yet published (below the confidence "
        "the incident worker announces at).")
