"""Current per-segment traffic state."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import DbDep

router = APIRouter(prefix="/v1/segments", tags=["segments"])


class SegmentSpeed(BaseModel):
    """Latest stored minute of one segment."""

    segment_id: str
    name: str
    road_class: str
    minute: datetime = Field(description="Start of the minute (UTC).")
    speed_kmh: float | None = Field(description="Space-mean speed, km/h.")
    free_flow_kmh: float
    travel_time_s: float | None
    n_vehicles: int
    n_fixes: int


@router.get("/current", response_model=list[SegmentSpeed])
def current_speeds(
    db: DbDep,
    max_age_min: int = Query(60, ge=1, le=1440, description="Ignore state older than this."),
) -> list[SegmentSpeed]:
    """Latest per-minute state of every segment with data in the last ``max_age_min`` minutes."""
    rows = db.execute(
        "SELECT DISTINCT ON (m.segment_id) m.segment_id, s.name, s.road_class, m.minute,"
        " m.speed_kmh, s.free_flow_kmh, m.travel_time_s, m.n_vehicles, m.n_fixes"
        " FROM segment_minute m JOIN road_segment s USING (segment_id)"
        " WHERE m.minute >= now() - make_interval(mins => %s)"
        " ORDER BY m.segment_id, m.minute DESC",
        (max_age_min,),
    ).fetchall()
    fields = list(SegmentSpeed.model_fields)
    return [SegmentSpeed(**dict(zip(fields, r, strict=True))) for r in rows]
