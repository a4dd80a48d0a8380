"""Live updates as Server-Sent Events, resumable after a reconnect.

* ``/v1/stream/segments``: one ``segments`` event per stored batch of segment states (the
  state builder writes a minute in one transaction); the event id is the batch's
  ``updated_at`` in epoch microseconds. A client reconnecting with ``Last-Event-ID`` gets every
  segment changed after that point, with its latest state (a compacted catch-up).
* ``/v1/stream/incidents``: one ``incident`` event per incident update; the event id is the
  update's ``seq`` (``incident_update.seq``, gap-free in commit order), so a reconnecting client
  misses nothing and sees nothing twice.

Each open stream polls the database every ``ITMS_STREAM_POLL_S`` seconds and sends a comment
line every 15 s to keep proxies from closing it. Privacy threshold and public fields as in the
REST API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.http import dumps
from api.routes.incidents import feature
from store.incidents import is_announced, updates_after
from store.stream_queries import database_now, latest_incident_seq, segments_updated_after

router = APIRouter(prefix="/v1/stream", tags=["stream"])
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SSE = {200: {"content": {"text/event-stream": {}}, "description": "An endless event stream."}}
_HEARTBEAT_S = 15.0
_PUBLIC = {"incident_id", "kind", "severity", "status", "segment_id", "road_name", "direction",
           "started_at", "updated_at", "ended_at", "est_delay_s", "source", "version", "lon",
           "lat"}  # fmt: skip


def _resume_from(header: str | None, query: str | None) -> int | None:
    value = header if header is not None else query
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 18:
        raise HTTPException(400, "Last-Event-ID must be the id of an event of this stream")
    return int(value)


def _frame(event: str, event_id: int, data: Any) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event_id, event.encode(), dumps(data))


async def _events(
    request: Request, poll: Callable[[], list[bytes]], interval: float
) -> AsyncIterator[bytes]:
    yield b"retry: 3000\n\n"
    beat = time.monotonic()
    while not await request.is_disconnected():
        frames = await run_in_threadpool(poll)
        for frame in frames:
            yield frame
        if frames:
            beat = time.monotonic()
        elif time.monotonic() - beat >= _HEARTBEAT_S:
            yield b": keep-alive\n\n"
            beat = time.monotonic()
        await asyncio.sleep(interval)


def _headers() -> dict[str, str]:
    return {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


@router.get("/segments", responses=SSE, response_class=StreamingResponse)
def segment_stream(
    request: Request,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    resume: str | None = Query(
        None, max_length=20, description="Like Last-Event-ID, for clients that cannot set it."
    ),
) -> StreamingResponse:
    """Segment-state changes: ``event: segments``, ``data: {"updated_at", "segments": [...]}``
    (statuses as in ``GET /v1/segments/{id}``), ``id`` = epoch microseconds of the batch."""
    pool, network = request.app.state.pool, request.app.state.network
    cursor = [_resume_from(last_event_id, resume)]
    if cursor[0] is None:  # from now on: fixed before the reply starts
        with pool.connection() as conn:
            cursor[0] = _micros(database_now(conn))

    def poll() -> list[bytes]:
        with pool.connection() as conn:
            rows = segments_updated_after(conn, EPOCH + timedelta(microseconds=cursor[0]))
        groups: dict[datetime, list[dict[str, Any]]] = {}
        for row in rows:
            status = network.status_of_row(row)
            if status is not None:
                groups.setdefault(row[-1], []).append(status)
        frames = []
        for at, statuses in groups.items():
            frames.append(_frame("segments", _micros(at), {"updated_at": at, "segments": statuses}))
        if rows:
            cursor[0] = _micros(rows[-1][-1])
        return frames

    config = request.app.state.config
    return StreamingResponse(
        _events(request, poll, config.stream_poll_s), media_type="text/event-stream",
        headers=_headers(),
    )  # fmt: skip


def _micros(at: datetime) -> int:
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@router.get("/incidents", responses=SSE, response_class=StreamingResponse)
def incident_stream(
    request: Request,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    resume: str | None = Query(
        None, max_length=20, description="Like Last-Event-ID; 0 replays every update."
    ),
) -> StreamingResponse:
    """Incident updates: ``event: incident``, ``data: {"seq", "incident_id", "version", "at",
    "action", "status", "incident": <GeoJSON Feature>}``, ``id`` = ``seq``."""
    pool = request.app.state.pool
    cursor = [_resume_from(last_event_id, resume)]
    if cursor[0] is None:  # from now on
        with pool.connection() as conn:
            cursor[0] = latest_incident_seq(conn)

    def poll() -> list[bytes]:
        with pool.connection() as conn:
            updates = updates_after(conn, cursor[0], limit=500)
        frames = []
        for u in updates:
            cursor[0] = u["seq"]
            if not is_announced(u):
                continue  # kept for review: streamed once announced
            snap = {k: v for k, v in (u["snapshot"] or {}).items() if k in _PUBLIC}
            snap.setdefault("incident_id", u["incident_id"])
            data = {"seq": u["seq"], "incident_id": u["incident_id"], "version": u["version"],
                    "at": u["at"], "action": u["action"], "status": u["status"],
                    "incident": feature(snap)}  # fmt: skip
            frames.append(_frame("incident", u["seq"], data))
        return frames

    config = request.app.state.config
    return StreamingResponse(
        _events(request, poll, config.stream_poll_s), media_type="text/event-stream",
        headers=_headers(),
    )  # fmt: skip
