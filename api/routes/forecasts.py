"""Segment forecasts: ``GET /v1/segments/{id}/forecast`` (speeds and travel times at +15,
+30 and +60 minutes with their band and basis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from api.deps import ConfigDep, NetworkDep
from api.forecast_view import ForecastView
from api.http import dumps
from api.privacy import publishable
from api.schemas.common import ERRORS
from api.schemas.forecasts import SegmentForecast
from roadnet.levels import LEVEL_NAMES

router = APIRouter(prefix="/v1/segments", tags=["segments"])
STALE_AFTER = timedelta(minutes=10)


async def get_forecasts(request: Request) -> ForecastView:
    """The process's in-memory view of the newest forecasts."""
    return request.app.state.forecasts


ForecastDep = Annotated[ForecastView, Depends(get_forecasts)]


def _round(v: float | None, nd: int = 2) -> float | None:
    return None if v is None else round(float(v), nd)


def horizon_out(r: dict[str, Any], *, publishable_now: bool) -> dict[str, Any]:
    """The public form of one stored forecast row."""
    level = r.get("congestion_level")
    return {
        "horizon_min": r["horizon_min"], "target_at": r["target_at"],
        "speed_kmh": _round(r["speed_kmh"]), "p10_kmh": _round(r["p10_kmh"]),
        "p90_kmh": _round(r["p90_kmh"]), "travel_time_s": _round(r["travel_time_s"], 1),
        "congestion_level": level, "congestion": None if level is None else LEVEL_NAMES[level],
        "basis": r["basis"],
        "persistence_kmh": _round(r["persistence_kmh"]) if publishable_now else None,
        "historical_average_kmh": _round(r["historical_kmh"]),
    }  # fmt: skip


@router.get("/{segment_id}/forecast", response_model=SegmentForecast, responses=ERRORS)
def segment_forecast(
    network: NetworkDep, forecasts: ForecastDep, config: ConfigDep, segment_id: str
) -> Response:
    """The newest forecasts of one segment at +15, +30 and +60 minutes: median speed with its
    10th–90th percentile band, travel time, congestion level, what it comes from (``basis``)
    and both baselines. ``horizons`` is empty until the forecast worker has run."""
    status = network.status(segment_id)
    if status is None:
        raise HTTPException(404, f"no segment {segment_id!r}")
    ok = status["source"] != "no_data" and publishable(status["n_vehicles"] or 0,
                                                         config.privacy_min_vehicles)
    rows = sorted((r[segment_id] for r in forecasts.of([segment_id]).values()
                   if segment_id in r), key=lambda r: r["horizon_min"])  # fmt: skip
    issued = rows[0]["issued_at"] if rows else None
    body = {
        "segment_id": segment_id, "issued_at": issued,
        "model": rows[0]["model"] if rows else None,
        "stale": issued is None or datetime.now(UTC) - issued > STALE_AFTER,
        "horizons": [horizon_out(r, publishable_now=ok or status["source"] == "profile")
                     for r in rows],
    }  # fmt: skip
    return Response(dumps(body), media_type="application/json",
                    headers={"Cache-Control": "public, max-age=15"})  # fmt: skip
