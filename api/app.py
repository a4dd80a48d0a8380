"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from psycopg_pool import ConnectionPool

from api.routes import health, segments
from itms import __version__
from itms.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the connection pool opens on startup and closes on shutdown."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = ConnectionPool(settings.dsn, min_size=1, max_size=10, open=False)
        pool.open(wait=False)
        app.state.pool = pool
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="ITMS traffic API",
        version=__version__,
        description="Live road traffic state of the city: segment speeds, congestion, incidents.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(health.router)
    app.include_router(segments.router)
    return app
