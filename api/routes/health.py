"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import DbDep
from store.readiness import ping

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(db: DbDep, response: Response) -> dict[str, str]:
    """The database answers."""
    ping(db)
    return {"status": "ready"}
