"""Road segments: the network with its current status (GeoJSON), one segment, its history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import ConfigDep, DbDep, NetworkDep
from api.http import (
    GEOJSON,
    HISTORY_CACHE,
    cached_response,
    decode_cursor,
    dumps,
    parse_bbox,
    parse_list,
)
from api.privacy import publishable
from api.schemas.common import ERRORS
from api.schemas.segments import SegmentCollection, SegmentFeature, SegmentHistory
from api.timeparams import time_range
from roadnet.levels import LEVEL_NAMES
from store.queries import current_state, segment_history

router = APIRouter(prefix="/v1/segments", tags=["segments"])
ROAD_CLASSES = {
    "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
    "service", "motorway_link", "trunk_link", "primary_link", "secondary_link",
    "tertiary_link", "living_street",
}  # fmt: skip
FORECAST_HORIZONS = (15, 30, 60)
BBOX_HELP = "min_lon,min_lat,max_lon,max_lat in WGS 84 degrees, e.g. 106.67,20.84,106.70,20.87"


@router.get(
    "",
    response_model=SegmentCollection,
    responses={**ERRORS, 200: {"content": {GEOJSON: {}}}, 304: {"description": "Not modified"}},
)
async def network_status(
    request: Request,
    network: NetworkDep,
    bbox: str | None = Query(None, description=BBOX_HELP),
    road_class: str | None = Query(None, description="Comma-separated, e.g. trunk,primary."),
    cursor: str | None = Query(None, max_length=400, description="next_cursor of the last page."),
    limit: int = Query(10_000, ge=1, le=50_000, description="Segments per page."),
    horizon: int | None = Query(
        None, description="15, 30 or 60: also each segment's forecast this many minutes ahead"
        " (`forecast`)."),
) -> Response:
    """Every segment with its current status as a GeoJSON FeatureCollection (WGS 84).

    Segments come in id order; the reply carries ``next_cursor`` while more remain. Speeds of
    segments below the privacy threshold are withheld (``source: no_data``). With
    ``horizon`` every feature also carries ``forecast``: the newest forecast for that many
    minutes ahead (median speed, 10th–90th percentile band, travel time, congestion level,
    basis; null before the forecast worker has run). Supports ``If-None-Match`` /
    ``If-Modified-Since`` and gzip.
    """
    box = parse_bbox(bbox)
    classes = parse_list(road_class, ROAD_CLASSES, name="road_class")
    after = decode_cursor(cursor, 1)[0] if cursor else None
    if network.is_stale():
        await run_in_threadpool(network.refresh)
    params: dict = {"bbox": box, "road_classes": classes, "after": after, "limit": limit}
    if horizon is not None:
        if horizon not in FORECAST_HORIZONS:
            raise HTTPException(422, f"horizon must be one of {FORECAST_HORIZONS} (minutes),"
                                f" not {horizon}")
        snap = await run_in_threadpool(request.app.state.forecasts.snapshot)
        params["forecast"] = (snap.version, snap.rows.get(horizon, {}))
    hit = network.cached_page(**params)
    # rendering (tens of ms for 10,000 segments, once per state change) runs in a thread
    page, updated = hit or await run_in_threadpool(lambda: network.page(**params))
    return cached_response(
        request, page.body, media_type=GEOJSON, etag=page.etag, last_modified=updated,
        gzipped=page.gzipped if len(page.body) > 1024 else None,
    )  # fmt: skip


class SegmentSpeed(BaseModel):
    """Latest stored minute of one segment (the demo's flat list)."""

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
        description="probe, detector, fused, smoothed (from neighbours' recent data),"
        " profile (typical speed for the time of day: no recent data) or no_data (withheld"
        " by the privacy threshold)."
    )


@router.get("/current", response_model=list[SegmentSpeed], responses=ERRORS)
def current_speeds(
    db: DbDep,
    config: ConfigDep,
    max_age_min: int = Query(60, ge=1, le=1440, description="Ignore state older than this."),
) -> list[SegmentSpeed]:
    """Latest state of every segment with data in the last ``max_age_min`` minutes (a flat
    list; ``GET /v1/segments`` is the GeoJSON form). Privacy threshold applied."""
    rows = current_state(db, max_age=timedelta(minutes=max_age_min))
    out = []
    for r in rows:
        if r["minute"] is None:
            continue
        ok = publishable(r["n_vehicles"], config.privacy_min_vehicles)
        level = r["congestion_level"] if ok else None
        out.append(SegmentSpeed(
            segment_id=r["segment_id"], name=r["name"], road_class=r["road_class"],
            minute=r["minute"], speed_kmh=r["speed_kmh"] if ok else None,
            free_flow_kmh=r["free_flow_kmh"], travel_time_s=r["travel_time_s"] if ok else None,
            n_vehicles=r["n_vehicles"] if ok else 0, n_samples=r["n_samples"] if ok else 0,
            congestion_level=level, congestion=None if level is None else LEVEL_NAMES[level],
            jam_factor=r["jam_factor"] if ok else None,
            confidence=r["confidence"] if ok else None, source=r["source"] if ok else "no_data",
        ))  # fmt: skip
    return out


@router.get(
    "/{segment_id}",
    response_model=SegmentFeature,
    responses={**ERRORS, 200: {"content": {GEOJSON: {}}}, 304: {"description": "Not modified"}},
)
async def segment_status(request: Request, network: NetworkDep, segment_id: str) -> Response:
    """One segment's current status as a GeoJSON Feature (WGS 84)."""
    if network.is_stale():
        await run_in_threadpool(network.refresh)
    hit = network.feature(segment_id)
    if hit is None:
        raise HTTPException(404, f"no segment {segment_id!r}")
    body, etag, updated = hit
    return cached_response(request, body, media_type=GEOJSON, etag=etag, last_modified=updated)


@router.get("/{segment_id}/history", response_model=SegmentHistory, responses=ERRORS)
def segment_states(
    request: Request,
    db: DbDep,
    network: NetworkDep,
    config: ConfigDep,
    segment_id: str,
    start: Annotated[datetime | None, Query(description="RFC 3339; default end − 1 h.")] = None,
    end: Annotated[datetime | None, Query(description="RFC 3339; default now.")] = None,
    resolution: Literal["1m", "5m", "15m", "1h"] | None = Query(
        None, description="Default: the finest that keeps the reply under ~1,000 points."
    ),
) -> Response:
    """A segment's states in ``[start, end)`` (at most 400 days), oldest first. Intervals
    below the privacy threshold have null values."""
    if not network.has(segment_id):
        raise HTTPException(404, f"no segment {segment_id!r}")
    start, end = time_range(start, end, default=timedelta(hours=1), max_span=timedelta(days=400))
    res, rows = segment_history(db, segment_id, start, end, resolution)
    for r in rows:
        if not publishable(r["n_vehicles"], config.privacy_min_vehicles):
            for k in ("speed_kmh", "travel_time_s", "n_samples", "n_vehicles",
                      "congestion_level", "jam_factor", "confidence"):  # fmt: skip
                r[k] = None
    body = dumps({"segment_id": segment_id, "start": start, "end": end, "resolution": res,
                  "points": rows})  # fmt: skip
    return cached_response(request, body, cache_control=HISTORY_CACHE)
