"""Network KPI and corridor models (km/h, km, hours, seconds)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.schemas.segments import SegmentStatus


class KpiPublic(BaseModel):
    """Network KPIs of one minute."""

    minute: datetime = Field(description="Start of the minute (UTC).")
    avg_speed_kmh: float | None = Field(description="Vehicle-km / vehicle-hours, km/h.")
    congested_km: float | None = Field(description="Length in heavy or stopped state, km.")
    vehicle_km: float | None
    vehicle_hours: float | None
    delay_vehicle_hours: float | None = Field(description="Vehicle-hours above free flow.")
    segments_with_data: int | None


class KpiSeries(BaseModel):
    """KPIs per minute over ``[start, end)``."""

    start: datetime
    end: datetime
    points: list[KpiPublic]


class CorridorPublic(BaseModel):
    """Current travel time along a corridor."""

    corridor_id: str = Field(examples=["centre-dinh-vu-port"])
    name: str = Field(examples=["Trung tâm → Cảng Đình Vũ"])
    name_en: str = Field(examples=["City centre → Đình Vũ port"])
    origin: list[float] = Field(description="[lon, lat], WGS 84.")
    destination: list[float] = Field(description="[lon, lat], WGS 84.")
    length_m: float
    travel_time_s: float = Field(description="Now; segments without data count at free flow.")
    free_flow_travel_time_s: float
    delay_s: float
    speed_kmh: float | None
    coverage: float = Field(description="Share of the length with current measured data, 0–1.")
    updated_at: datetime | None


class CorridorDetail(CorridorPublic):
    """A corridor with its segments' current status, in driving order."""

    segments: list[SegmentStatus]
