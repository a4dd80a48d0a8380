"""Interoperability export: FIWARE NGSI-LD entities (see :mod:`api.ngsi`)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request, Response

from api.deps import DbDep, NetworkDep
from api.http import cached_response, decode_cursor, dumps, encode_cursor
from api.ngsi import alert, traffic_flow
from api.schemas.common import ERRORS
from store.queries import incidents

router = APIRouter(prefix="/v1/ngsi-ld", tags=["interoperability"])
LD_JSON = "application/ld+json"


@router.get("/entities", responses={**ERRORS, 200: {"content": {LD_JSON: {}},
            "description": "An array of NGSI-LD entities."}})  # fmt: skip
def entities(
    request: Request,
    db: DbDep,
    network: NetworkDep,
    type: Literal["TrafficFlowObserved", "Alert"] = Query(
        description="TrafficFlowObserved (segment states) or Alert (active incidents)."
    ),
    options: Literal["normalized", "keyValues"] = "normalized",
    cursor: str | None = Query(None, max_length=400),
    limit: int = Query(1000, ge=1, le=20_000),
    forecasts: bool = Query(False, description="TrafficFlowObserved, normalized: add the"
                            " forecasts as averageVehicleSpeed instances (datasetId)."),
) -> Response:
    """Current traffic state or active incidents as NGSI-LD entities (``application/ld+json``);
    the next page's cursor is in the ``Link`` header (``rel="next"``)."""
    kv = options == "keyValues"
    headers = {}
    if type == "TrafficFlowObserved":
        after = decode_cursor(cursor, 1)[0] if cursor else None
        ids, more = network.ids_after(after, limit)
        fc: dict[str, list] = {}
        if forecasts and not kv:
            for rows in request.app.state.forecasts.of(ids).values():
                for sid, r in rows.items():
                    fc.setdefault(sid, []).append(r)
        items = [traffic_flow(s, network.geometry(s["segment_id"]), key_values=kv,
                              forecasts=fc.get(s["segment_id"]))
                 for s in network.statuses(ids) if s is not None]  # fmt: skip
        if more and ids:
            headers["Link"] = f'<{_next(request, encode_cursor(ids[-1]))}>; rel="next"'
    else:
        rows = incidents(db, active=True, limit=limit)
        items = [alert(r, key_values=kv) for r in rows]
    return cached_response(request, dumps(items), media_type=LD_JSON, headers=headers)


def _next(request: Request, cursor: str) -> str:
    return str(request.url.include_query_params(cursor=cursor))
