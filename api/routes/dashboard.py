"""Read-only views for the operator dashboard, and the dashboard itself at ``/``.

* ``GET /v1/dashboard/health``: data freshness and feed health (Kafka end offsets of the input
  and dead-letter topics, the workers' stored checkpoints and their lag, the state builder's
  newest minute and backlog) and a detector health summary. Counts only, no identities.
* ``GET /v1/dashboard/corridors/{id}/timespace``: speeds of a corridor's segments per time
  bucket (rows in driving order), the matrix of a time–space diagram.
* ``/`` (and ``/data/…``, ``/assets/…``): the built web app in ``dashboards/static``.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.staticfiles import StaticFiles

from api.deps import ConfigDep, DbDep, NetworkDep
from api.feed_offsets import FEED_TOPICS, FeedOffsets
from store.dashboard_queries import (
    consumer_checkpoints,
    latest_kpi_minute,
    segment_speed_buckets,
    state_freshness,
)
from store.queries import detector_health

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"])
STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "dashboards" / "static"
_INIT_LOCK = threading.Lock()  # one FeedOffsets per app


def _offsets(request: Request) -> FeedOffsets:
    state = request.app.state
    with _INIT_LOCK:
        if getattr(state, "topic_offsets", None) is None:
            state.topic_offsets = FeedOffsets(state.config)
    return state.topic_offsets


@router.get("/health")
def feed_health(request: Request, db: DbDep, config: ConfigDep) -> dict[str, Any]:
    """Freshness and feed health for the dashboard header: per input and dead-letter topic the
    end offset (messages so far), what the workers consumed, their lag (messages) and the rate
    over the last minute (messages/s, from the app's earlier samples); detector counts."""
    now = datetime.now(UTC)
    newest, dirty = state_freshness(db)
    kpi_minute = latest_kpi_minute(db)
    checkpoints = consumer_checkpoints(db)
    offsets = _offsets(request)
    ends = offsets.get()
    rates = offsets.rates()
    topics: dict[str, Any] = {}
    for name in FEED_TOPICS:
        full = config.feed_topics[name]
        parts = (ends or {}).get(name)
        groups: dict[str, dict[int, int]] = {}
        for group, topic, part, nxt, _ in checkpoints:
            if topic == full:
                groups.setdefault(group, {})[part] = int(nxt)
        lag = None
        if parts is not None and groups:
            lag = max(sum(max(0, end - g.get(p, 0)) for p, end in parts.items())
                      for g in groups.values())  # fmt: skip
        topics[name] = {
            "end_offset": None if parts is None else sum(parts.values()),
            "consumed": max((sum(g.values()) for g in groups.values()), default=None),
            "lag": lag,
            "rate_per_s": None if name not in rates else round(rates[name], 2),
        }
    last_checkpoint = max((c[4] for c in checkpoints), default=None)
    dets = detector_health(db, now=now)
    return {
        "now": now,
        "kafka_ok": ends is not None,
        "state_updated_at": newest,
        "state_age_s": None if newest is None else round((now - newest).total_seconds(), 1),
        "kpi_minute": kpi_minute,
        "state_backlog_minutes": int(dirty),
        "last_checkpoint_at": last_checkpoint,
        "topics": topics,
        "detectors": {
            "total": len(dets),
            "failed": sum(d["status"] != "in_service" for d in dets),
            "reporting": sum(d["status"] == "in_service" and d["readings"] > 0 for d in dets),
            "suspect": sum(
                d["status"] == "in_service" and (d["all_zero"] or d["stuck"]) for d in dets
            ),
            "silent": sum(d["status"] == "in_service" and d["readings"] == 0 for d in dets),
        },
    }


@router.get("/corridors/{corridor_id}/timespace")
def corridor_timespace(
    request: Request,
    db: DbDep,
    network: NetworkDep,
    config: ConfigDep,
    corridor_id: str,
    hours: float = Query(3.0, gt=0, le=24, description="How far back from now."),
    step_min: int = Query(5, ge=1, le=60, description="Time bucket, minutes."),
) -> dict[str, Any]:
    """Harmonic-mean speed (km/h) per segment of the corridor and time bucket.

    ``segments`` are in driving order with their start offset along the corridor (m);
    ``speeds[i][j]`` is segment ``i`` in bucket ``times[j]`` (null: no publishable data; minutes
    below the privacy threshold are left out).
    """
    corridor = request.app.state.corridors.all(db).get(corridor_id)
    if corridor is None:
        raise HTTPException(404, f"no corridor {corridor_id!r}")
    step = timedelta(minutes=step_min)
    end = datetime.now(UTC)
    start = end - timedelta(hours=hours)
    origin = datetime(2000, 1, 1, tzinfo=UTC)
    start = origin + (start - origin) // step * step
    n_buckets = int((end - start) / step) + 1
    ids = list(corridor.segment_ids)
    segments, offset = [], 0.0
    for sid, status in zip(ids, network.statuses(ids), strict=True):
        length = status["length_m"] if status else 0.0
        segments.append({"segment_id": sid, "name": status["name"] if status else None,
                         "offset_m": round(offset, 1), "length_m": length,
                         "free_flow_kmh": status["free_flow_kmh"] if status else None})  # fmt: skip
        offset += length
    rows = segment_speed_buckets(db, ids, start, end, step=step, origin=origin,
                                 min_vehicles=config.privacy_min_vehicles)  # fmt: skip
    index = {s: i for i, s in enumerate(ids)}
    speeds: list[list[float | None]] = [[None] * n_buckets for _ in ids]
    for sid, bucket, speed in rows:
        j = int((bucket - start) / step)
        if 0 <= j < n_buckets:
            speeds[index[sid]][j] = round(float(speed), 1)
    return {
        "corridor_id": corridor.corridor_id, "name": corridor.name, "name_en": corridor.name_en,
        "start": start, "step_s": int(step.total_seconds()),
        "times": [start + k * step for k in range(n_buckets)],
        "length_m": round(offset, 1), "segments": segments, "speeds": speeds,
    }  # fmt: skip


DASHBOARD_CSP = (
    "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; worker-src blob:;"
    " child-src blob:; style-src 'self' 'unsafe-inline'; font-src 'self' data:;"
    " object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class DashboardFiles(StaticFiles):
    """The built web app; pages carry a Content-Security-Policy that allows this origin only
    (the dashboard loads nothing from elsewhere; MapLibre's workers start from blob URLs)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Any:
        """The file, with the policy header."""
        response = super().file_response(*args, **kwargs)
        response.headers["Content-Security-Policy"] = DASHBOARD_CSP
        return response


def install(app: FastAPI) -> None:
    """Add the dashboard routes and serve the built web app at ``/`` (when it is built); the
    health route's Kafka client is closed when the app's lifespan ends."""
    app.include_router(router)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with inner(app) as state:
            try:
                yield state
            finally:
                offsets = getattr(app.state, "topic_offsets", None)
                if offsets is not None:
                    offsets.close()

    app.router.lifespan_context = lifespan
    if (STATIC_DIR / "index.html").is_file():
        app.mount("/", DashboardFiles(directory=STATIC_DIR, html=True), name="dashboard")
