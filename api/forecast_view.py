"""The newest forecasts of every segment, held in memory per API process.

Read from ``segment_forecast_current`` at most every ``ITMS_STATE_CACHE_S`` seconds (a cheap
version check first), so that ``GET /v1/segments?horizon=`` and the corridor's ``depart=``
never wait on the database for them. Speeds km/h, travel times s, times UTC.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg_pool import ConnectionPool

from api.http import etag_of
from store.forecasts import current_forecast_version, current_forecasts

HORIZONS = (15, 30, 60)


@dataclass(frozen=True, slots=True)
class ForecastSnapshot:
    """Forecasts by horizon and segment id, with the snapshot's version and issue time."""

    version: str
    issued_at: datetime | None
    rows: dict[int, dict[str, dict[str, Any]]]
    loaded: float


class ForecastView:
    """Current forecasts for the API (thread-safe)."""

    def __init__(self, pool: ConnectionPool, *, state_s: float) -> None:
        self.pool = pool
        self.state_s = state_s
        self._lock = threading.Lock()
        self._snap: ForecastSnapshot | None = None

    def snapshot(self) -> ForecastSnapshot:
        """The forecasts, reloaded when older than allowed and changed since. Only the first
        load makes callers wait; later one thread reloads while the others keep the previous
        snapshot."""
        snap = self._snap
        if snap is not None and time.monotonic() - snap.loaded < self.state_s:
            return snap
        if not self._lock.acquire(blocking=snap is None):
            return snap  # type: ignore[return-value]  # another thread is reloading
        try:
            snap = self._snap
            now = time.monotonic()
            if snap is not None and now - snap.loaded < self.state_s:
                return snap
            with self.pool.connection() as conn:
                newest, count = current_forecast_version(conn)
                version = etag_of("forecast", count, newest)
                if snap is not None and snap.version == version:
                    self._snap = ForecastSnapshot(version, newest, snap.rows, now)
                    return self._snap
                rows: dict[int, dict[str, dict[str, Any]]] = {h: {} for h in HORIZONS}
                for r in current_forecasts(conn):
                    rows.setdefault(r["horizon_min"], {})[r["segment_id"]] = r
            self._snap = ForecastSnapshot(version, newest, rows, now)
            return self._snap
        finally:
            self._lock.release()

    def of(self, segment_ids: list[str]) -> dict[int, dict[str, dict[str, Any]]]:
        """The forecasts of ``segment_ids`` by horizon (missing segments left out)."""
        snap = self.snapshot()
        return {h: {s: r[s] for s in segment_ids if s in r} for h, r in snap.rows.items()}
