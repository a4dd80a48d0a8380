"""Response models of the forecast endpoints (speeds km/h, travel times s, times UTC)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

BASIS = (
    "What the forecast comes from: model (the learned model), or a baseline and why —"
    " baseline:no_model (no model file, or one that could not be read),"
    " baseline:model_other_network (a model trained for another network is never used),"
    " baseline:no_history (the segment has neither recent data nor a time-of-day profile)."
    " The baseline is the historical average where the segment has a profile, else the"
    " current state persists."
)


class HorizonForecast(BaseModel):
    """One segment's forecast for one horizon."""

    horizon_min: int = Field(description="Minutes after issued_at.", examples=[30])
    target_at: datetime = Field(description="The time the forecast is for (UTC).")
    speed_kmh: float = Field(description="Forecast space-mean speed (median), km/h.")
    p10_kmh: float | None = Field(description="10th percentile of the forecast, km/h (null:"
                                  " a baseline, which has no band).")  # fmt: skip
    p90_kmh: float | None = Field(description="90th percentile of the forecast, km/h.")
    travel_time_s: float = Field(description="Forecast travel time over the segment, s.")
    congestion_level: int | None = Field(description="0 free … 4 stopped, from the forecast.")
    congestion: str | None = Field(examples=["moderate"])
    basis: str = Field(description=BASIS, examples=["model"])
    persistence_kmh: float | None = Field(
        description="Baseline 'now persists', km/h (withheld below the privacy threshold).")
    historical_average_kmh: float | None = Field(
        description="Baseline: the time-of-day profile at target_at, km/h.")


class SegmentForecast(BaseModel):
    """The newest forecasts of one segment."""

    segment_id: str
    issued_at: datetime | None = Field(description="When the forecasts were made (UTC): the"
                                       " newest minute of data they saw.")  # fmt: skip
    model: str | None = Field(description="The model file and its training time, or the"
                              " baseline flag.")  # fmt: skip
    stale: bool = Field(description="True when issued more than 10 minutes ago (is the"
                        " forecast worker running?).")  # fmt: skip
    horizons: list[HorizonForecast]
