"""Prometheus metrics of the API: requests by route template, method and status, and their
latency; served at ``GET /metrics`` (text format) with the process's memory and CPU.

Route templates (``/v1/segments/{segment_id}``), not raw paths, label the series, so a
client cannot create unbounded label values; unmatched paths count as ``<unmatched>``.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class ApiMetrics:
    """The API process's metrics registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("itms_api_requests", "HTTP requests served.",
                                ["method", "route", "status"], registry=self.registry)  # fmt: skip
        self.latency = Histogram("itms_api_request_seconds", "Time to the response's start.",
                                 ["method", "route"], buckets=_BUCKETS,
                                 registry=self.registry)  # fmt: skip
        ProcessCollector(registry=self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request (pure ASGI; streams are timed to their start)."""

    def __init__(self, app: Any, *, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                route = getattr(scope.get("route"), "path", None) or "<unmatched>"
                self.metrics.latency.labels(scope["method"], route).observe(
                    time.perf_counter() - start
                )
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()


router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
