"""Network KPIs (now and over time) and corridor travel times."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response

from api.deps import DbDep, NetworkDep
from api.http import HISTORY_CACHE, cached_response, dumps
from api.schemas.common import ERRORS
from api.schemas.network import CorridorDetail, CorridorPublic, KpiPublic, KpiSeries
from api.timeparams import time_range
from store.queries import kpis, latest_kpi

router = APIRouter(prefix="/v1", tags=["network"])


@router.get("/kpis/current", response_model=KpiPublic, responses=ERRORS)
def current_kpis(request: Request, db: DbDep) -> Response:
    """The network KPIs of the latest stored minute."""
    row = latest_kpi(db)
    if row is None:
        raise HTTPException(404, "no KPIs stored yet")
    return cached_response(request, dumps(row))


@router.get("/kpis", response_model=KpiSeries, responses=ERRORS)
def kpi_series(
    request: Request,
    db: DbDep,
    start: Annotated[datetime | None, Query(description="RFC 3339; default end − 24 h.")] = None,
    end: Annotated[datetime | None, Query(description="RFC 3339; default now.")] = None,
) -> Response:
    """Network KPIs per minute in ``[start, end)`` (at most 7 days)."""
    start, end = time_range(start, end, default=timedelta(hours=24), max_span=timedelta(days=7))
    body = dumps({"start": start, "end": end, "points": kpis(db, start, end)})
    return cached_response(request, body, cache_control=HISTORY_CACHE)


@router.get("/corridors", response_model=list[CorridorPublic], responses=ERRORS)
def list_corridors(request: Request, db: DbDep, network: NetworkDep) -> Response:
    """Current travel time on every configured corridor (e.g. centre → Đình Vũ port)."""
    corridors = request.app.state.corridors
    items = [corridors.travel(c, network, detail=False) for c in corridors.all(db).values()]
    return cached_response(request, dumps(items))


@router.get("/corridors/{corridor_id}", response_model=CorridorDetail, responses=ERRORS)
def get_corridor(request: Request, db: DbDep, network: NetworkDep, corridor_id: str) -> Response:
    """One corridor with its segments' current status in driving order."""
    corridors = request.app.state.corridors
    corridor = corridors.all(db).get(corridor_id)
    if corridor is None:
        raise HTTPException(404, f"no corridor {corridor_id!r}")
    return cached_response(request, dumps(corridors.travel(corridor, network, detail=True)))
