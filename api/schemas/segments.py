"""Segment status and history models (GeoJSON in WGS 84 lon/lat; km/h; seconds)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

SOURCES = (
    "probe, detector, fused, smoothed, profile, or no_data (none, or withheld by the"
    " privacy threshold)"
)


class SegmentStatus(BaseModel):
    """Current status of one directed road segment."""

    segment_id: str = Field(examples=["w12:0:f"])
    name: str = Field(examples=["Lạch Tray"])
    road_class: str = Field(examples=["primary"])
    lanes: int | None = Field(examples=[2])
    length_m: float = Field(description="Length, metres.", examples=[412.5])
    speed_kmh: float | None = Field(description="Current space-mean speed, km/h.", examples=[23.4])
    free_flow_kmh: float = Field(description="Free-flow speed, km/h.", examples=[45.0])
    travel_time_s: float | None = Field(description="Current travel time, s.", examples=[63.5])
    free_flow_travel_time_s: float = Field(description="Travel time at free flow, s.")
    congestion_level: int | None = Field(
        description="0 free, 1 light, 2 moderate, 3 heavy, 4 stopped."
    )
    congestion: str | None = Field(examples=["moderate"])
    jam_factor: float | None = Field(description="0 (free flow) … 10 (standstill).")
    confidence: float | None = Field(description="0–1, from the amount of evidence.")
    source: str = Field(description=SOURCES, examples=["probe"])
    n_vehicles: int = Field(description="Distinct probe vehicles in the minute (0 if withheld).")
    minute: datetime | None = Field(description="Start of the minute the state describes (UTC).")
    updated_at: datetime | None = Field(description="When the state was stored (UTC).")


class SegmentFeature(BaseModel):
    """A GeoJSON Feature: LineString geometry (WGS 84 lon/lat) and the status as properties."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any] = Field(
        examples=[{"type": "LineString", "coordinates": [[106.6858, 20.8492], [106.69, 20.846]]}]
    )
    properties: SegmentStatus


class SegmentCollection(BaseModel):
    """GeoJSON FeatureCollection of segments (one page; follow ``next_cursor``)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    version: str = Field(description="Identifies the state snapshot (changes when data changes).")
    updated_at: datetime | None
    count: int
    next_cursor: str | None = Field(
        description="Pass as ``cursor`` for the next page; null at the end."
    )
    features: list[SegmentFeature]


class HistoryPoint(BaseModel):
    """One interval of a segment's history (withheld values are null)."""

    time: datetime = Field(description="Start of the interval (UTC).")
    speed_kmh: float | None
    travel_time_s: float | None
    n_samples: int | None
    n_vehicles: int | None
    congestion_level: int | None
    jam_factor: float | None
    confidence: float | None


class SegmentHistory(BaseModel):
    """A segment's states over ``[start, end)`` at ``resolution``."""

    segment_id: str
    start: datetime
    end: datetime
    resolution: Literal["1m", "5m", "15m", "1h"]
    points: list[HistoryPoint]
