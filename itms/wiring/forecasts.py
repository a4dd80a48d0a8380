"""Wiring of the forecast worker (``itms worker forecast``): settings, model file, leader loop."""

from __future__ import annotations

import logging
import threading
import time

import psycopg

from analytics.workers.forecast_worker import LEADER_LOCK, ForecastParams, ForecastWorker
from analytics.workers.leader import run_as_leader
from analytics.workers.observability import WorkerProbe
from itms.settings import Settings
from roadnet.model import RoadNetwork

log = logging.getLogger("analytics.workers.forecast_worker")


def forecast_worker(settings: Settings, network: RoadNetwork) -> ForecastWorker:
    """A forecast worker for ``network`` with the settings' model file and interval."""
    params = ForecastParams(interval_min=settings.forecast_interval_min,
                            timezone=settings.timezone)  # fmt: skip
    return ForecastWorker(network, params, model_path=settings.forecast_model_path)


def run_forecast_worker(
    settings: Settings, network: RoadNetwork, stop: threading.Event, *,
    interval_s: float = 5.0, probe: WorkerProbe | None = None,
) -> None:  # fmt: skip
    """Leader-elected loop: forecast whenever a new minute is due until ``stop``; reports
    liveness, database health and issues stored to ``probe``."""
    worker = forecast_worker(settings, network)
    health = probe or WorkerProbe("forecast")
    health.counters = {"forecasts_issued": 0}
    log.info("forecast worker: %d segments, forecasting with %s", len(worker.ids),
             worker.model_name)  # fmt: skip

    def heartbeat() -> None:
        health.last_loop = time.monotonic()

    def step(conn: psycopg.Connection) -> bool:
        t0 = time.perf_counter()
        fc = worker.step(conn)
        health.db_ok = True
        if fc is None:
            return False
        health.counters["forecasts_issued"] += 1
        health.last_progress = time.time()
        log.info("forecast issued at %s in %.2f s (%s)", worker.last_issued,
                 time.perf_counter() - t0, worker.model_name)  # fmt: skip
        return False

    def db_lost(exc: psycopg.OperationalError) -> None:
        health.db_ok = False
        log.warning("forecast worker: database unavailable: %s", exc)

    run_as_leader(lambda: psycopg.connect(settings.dsn, autocommit=True), LEADER_LOCK, stop,
                  step, interval_s=interval_s, on_db_lost=db_lost,
                  heartbeat=heartbeat)  # fmt: skip
