"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool, PoolTimeout

from api import metrics as api_metrics
from api.config import ApiConfig
from api.corridors import Corridors
from api.forecast_view import ForecastView
from api.hardening import HardeningMiddleware
from api.metrics import ApiMetrics, MetricsMiddleware
from api.network_view import NetworkView
from api.ratelimit import RateLimitMiddleware
from api.routes import (
    admin,
    auth,
    forecasts,
    health,
    incidents,
    network,
    ngsi,
    operator,
    segments,
    stream,
)
from api.routes.dashboard import install as install_dashboard

DESCRIPTION = """Live road traffic state of Hai Phong: segment speeds and congestion, incidents,
network KPIs and corridor travel times (public, read-only, no login), live streams (Server-Sent
Events), an FIWARE NGSI-LD export, and the operator API (bearer token or API key; roles viewer,
operator, admin). Geometry is GeoJSON in WGS 84 (lon, lat); speeds km/h; times seconds / RFC 3339
UTC. Public replies carry ETag / Last-Modified and Cache-Control; clients are rate limited per API
key or address (429 with Retry-After)."""


def create_app(config: ApiConfig) -> FastAPI:
    """Build the app; the connection pool opens on startup and closes on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = ConnectionPool(config.dsn, min_size=1, max_size=10, open=False, timeout=10)
        pool.open(wait=False)
        app.state.pool = pool
        app.state.network = NetworkView(
            pool, min_vehicles=config.privacy_min_vehicles, state_s=config.state_cache_s
        )
        app.state.corridors = Corridors(config.corridors)
        app.state.forecasts = ForecastView(pool, state_s=config.state_cache_s)
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="ITMS traffic API",
        version=config.version,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.config = config
    origins = [o.strip() for o in config.cors_origins.split(",") if o.strip()]
    # outermost last: gzip ← CORS ← rate limit ← routes (429s carry CORS headers)
    app.add_middleware(
        RateLimitMiddleware, rate=config.rate_limit_per_s, burst=config.rate_limit_burst
    )
    app.add_middleware(
        CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "PUT", "PATCH",
        "DELETE"], allow_headers=["Authorization", "X-API-Key", "Content-Type", "If-None-Match",
        "If-Modified-Since", "Last-Event-ID"], expose_headers=["ETag", "Last-Modified",
        "Retry-After", "Link"],
    )  # fmt: skip
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(HardeningMiddleware, max_body_bytes=config.max_body_bytes)
    app.state.metrics = ApiMetrics()
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)  # outermost: counts all
    _error_handlers(app)
    for module in (health, forecasts, segments, incidents, network, stream, ngsi, auth, operator,
                   admin, api_metrics):  # fmt: skip
        app.include_router(module.router)
    install_dashboard(app)  # /v1/dashboard/… and the web app at / (mounted last)
    return app


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(psycopg.DataError)
    async def bad_value(request: Request, exc: psycopg.DataError) -> JSONResponse:
        # values the database cannot take (e.g. NUL characters in text, out-of-range numbers)
        return JSONResponse({"detail": f"invalid value: {str(exc).splitlines()[0]}"}, 400)

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(psycopg.OperationalError)
    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": "the database is unavailable; retry shortly"}, 503,
            headers={"Retry-After": "5"},
        )  # fmt: skip
