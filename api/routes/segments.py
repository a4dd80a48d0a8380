"""Current per-segment traffic state."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from analytics.congestion import LEVEL_NAMES
from api.deps import DbDep
from store.queries import current_state

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
    n_vehicles: int = Field(description="Distinct probe vehicles in the minute.")
    n_samples: int = Field(description="Probe traversals plus detector-counted vehicles.")
    congestion_level: int | None = Field(
        description="0 free, 1 light, 2 moderate, 3 heavy, 4 stopped."
    )
    congestion: str | None = Field(description="Name of the congestion level.")
    jam_factor: float | None = Field(description="0 (free flow) … 10 (standstill).")
    confidence: float | None = Field(description="0–1, from the amount of evidence.")
    source: str = Field(
        description="probe, detector, fused, smoothed (from neighbours' recent data) or"
        " profile (typical speed for the time of day: no recent data)."
    )


@router.get("/current", response_model=list[SegmentSpeed])
def current_speeds(
    db: DbDep,
    max_age_min: int = Query(60, ge=1, le=1440, description="Ignore state older than this."),
) -> list[SegmentSpeed]:
    """Latest state of every segment with data in the last ``max_age_min`` minutes."""
    rows = current_state(db, max_age=timedelta(minutes=max_age_min))
    return [
        SegmentSpeed(
            segment_id=r["segment_id"], name=r["name"], road_class=r["road_class"],
            minute=r["minute"], speed_kmh=r["speed_kmh"], free_flow_kmh=r["free_flow_kmh"],
            travel_time_s=r["travel_time_s"], n_vehicles=r["n_vehicles"],
            n_samples=r["n_samples"], congestion_level=r["congestion_level"],
            congestion=None if r["congestion_level"] is None
            else LEVEL_NAMES[r["congestion_level"]],
            jam_factor=r["jam_factor"], confidence=r["confidence"], source=r["source"],
        )
        for r in rows
        if r["minute"] is not None
    ]  # fmt: skip
