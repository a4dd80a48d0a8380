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


class CorridorDeparture(BaseModel):
    """Forecast travel time of a trip leaving at ``depart`` (``?depart=``)."""

    depart: datetime
    arrive: datetime
    forecast_issued_at: datetime | None = Field(description="Issue time of the forecasts used.")
    travel_time_s: float = Field(description="Segment by segment at the time it is reached.")
    travel_time_p10_s: float = Field(description="Sum of the segments' 10th percentiles.")
    travel_time_p90_s: float = Field(description="Sum of the segments' 90th percentiles.")
    forecast_coverage: float = Field(description="Share of the length with a forecast, 0–1.")
    model_coverage: float = Field(description="Share of the length forecast by the model.")


class CorridorDetail(CorridorPublic):
    """A corridor with its segments' current status, in driving order."""

    segments: list[SegmentStatus]
    departure: CorridorDeparture | None = Field(
        None, description="Only with ?depart=: the trip's forecast travel time.")
