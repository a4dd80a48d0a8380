"""Network KPIs (now and over time) and corridor travel times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response

from api.corridor_departure import departure_travel
from api.deps import DbDep, NetworkDep
from api.http import HISTORY_CACHE, cached_response, dumps
from api.schemas.common import ERRORS
from api.schemas.network import CorridorDetail, CorridorPublic, KpiPublic, KpiSeries
from api.timeparams import time_range
from store.queries import kpis, latest_kpi

router = APIRouter(prefix="/v1", tags=["network"])
DEPART_AHEAD = timedelta(minutes=60)  # the longest forecast horizon
DEPART_SLACK = timedelta(minutes=5)  # a departure this far in the past counts as now


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
def get_corridor(
    request: Request, db: DbDep, network: NetworkDep, corridor_id: str,
    depart: Annotated[datetime | None, Query(
        description="RFC 3339 departure time within the next 60 minutes: adds `departure`,"
        " the travel time of a trip leaving then, from the segment forecasts.")] = None,
) -> Response:  # fmt: skip
    """One corridor with its segments' current status in driving order; with ``depart`` also
    the forecast travel time (and its 10th–90th percentile band) of a trip leaving then."""
    corridors = request.app.state.corridors
    corridor = corridors.all(db).get(corridor_id)
    if corridor is None:
        raise HTTPException(404, f"no corridor {corridor_id!r}")
    body = corridors.travel(corridor, network, detail=True)
    if depart is not None:
        if depart.tzinfo is None:
            raise HTTPException(422, "depart needs a time zone, e.g. 2026-12-05T07:30:00+07:00")
        now = datetime.now(UTC)
        if not now - DEPART_SLACK <= depart <= now + DEPART_AHEAD:
            raise HTTPException(422, f"depart must be between now and {DEPART_AHEAD} from now"
                                f" (it is {depart.isoformat()}, now is {now.isoformat()})")
        depart = max(depart, now)
        snap = request.app.state.forecasts.snapshot()
        ids = list(corridor.segment_ids)
        rows = {h: {s: r[s] for s in ids if s in r} for h, r in snap.rows.items()}
        body["departure"] = departure_travel(body["segments"], rows, depart, snap.issued_at)
    return cached_response(request, dumps(body))
