"""Stored speed forecasts (``segment_forecast``, ``segment_forecast_current``) and the reads
the forecast worker and trainer make: recent and whole-day segment states as arrays, and the
active incidents. Times UTC, speeds km/h, travel times s, horizons minutes; arrays are
aligned with a segment index (segment id → position)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import psycopg

from store.partitions import PartitionManager
from store.state_writer import copy_rows, temp_table

FORECAST_COLUMNS = (
    "segment_id", "issued_at", "horizon_min", "target_at", "speed_kmh", "p10_kmh", "p90_kmh",
    "travel_time_s", "congestion_level", "persistence_kmh", "historical_kmh", "basis",
)  # fmt: skip
FORECAST_TYPES = ("text", "timestamptz", "int2", "timestamptz", "float4", "float4", "float4",
                  "float4", "int2", "float4", "float4", "text")  # fmt: skip
_COLS = ", ".join(FORECAST_COLUMNS)
_SET = ", ".join(f"{c} = EXCLUDED.{c}" for c in FORECAST_COLUMNS[1:])


@dataclass
class ForecastBatch:
    """One issue's forecasts: per horizon, arrays aligned with ``segment_ids``."""

    issued_at: datetime
    segment_ids: Sequence[str]
    horizons: Sequence[int]
    speed_kmh: Sequence[np.ndarray]
    p10_kmh: Sequence[np.ndarray]
    p90_kmh: Sequence[np.ndarray]
    travel_time_s: Sequence[np.ndarray]
    congestion_level: Sequence[np.ndarray]
    persistence_kmh: Sequence[np.ndarray]
    historical_kmh: Sequence[np.ndarray]
    basis: Sequence[np.ndarray]

    def rows(self):  # one row per segment and horizon, as FORECAST_COLUMNS
        def val(a: np.ndarray, i: int) -> float | None:
            v = float(a[i])
            return v if np.isfinite(v) else None

        for k, h in enumerate(self.horizons):
            target = self.issued_at + timedelta(minutes=int(h))
            sp, lo, hi = self.speed_kmh[k], self.p10_kmh[k], self.p90_kmh[k]
            tt, lv = self.travel_time_s[k], self.congestion_level[k]
            pe, ha, ba = self.persistence_kmh[k], self.historical_kmh[k], self.basis[k]
            for i, seg in enumerate(self.segment_ids):
                yield (seg, self.issued_at, int(h), target, float(sp[i]), val(lo, i), val(hi, i),
                       float(tt[i]), int(lv[i]), val(pe, i), val(ha, i), str(ba[i]))  # fmt: skip


def write_forecasts(
    conn: psycopg.Connection, batch: ForecastBatch, *, model: str, history: bool,
    partitions: PartitionManager | None = None,
) -> int:  # fmt: skip
    """Store one issue: always as the current forecasts, and with ``history`` also in
    ``segment_forecast`` (replacing a stored issue of the same time: idempotent). Call
    outside a transaction (partitions are created first); returns the rows written."""
    if history:
        (partitions or PartitionManager()).ensure(conn, "segment_forecast", [batch.issued_at])
    with conn.transaction():
        temp_table(conn, "_forecast_in", "segment_forecast")
        n = copy_rows(conn, "_forecast_in", FORECAST_COLUMNS, FORECAST_TYPES, batch.rows())
        if history:
            conn.execute("DELETE FROM segment_forecast WHERE issued_at = %s", (batch.issued_at,))
            conn.execute(f"INSERT INTO segment_forecast ({_COLS}) SELECT {_COLS} FROM _forecast_in")
        conn.execute(
            f"INSERT INTO segment_forecast_current ({_COLS}, model) SELECT {_COLS}, %s"
            f" FROM _forecast_in ON CONFLICT (segment_id, horizon_min) DO UPDATE SET {_SET},"
            " model = EXCLUDED.model"
            " WHERE segment_forecast_current.issued_at <= EXCLUDED.issued_at",
            (model,),
        )  # fmt: skip
    return n


def read_states(
    conn: psycopg.Connection, first: datetime, minutes: int, index: dict[str, int]
) -> np.ndarray:
    """(minutes, N) stored speeds (``segment_state``) per minute from ``first`` and segment of
    ``index``, float32, NaN where none."""
    out = np.full((minutes, len(index)), np.nan, np.float32)
    last = first + timedelta(minutes=minutes)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT segment_id, minute, speed_kmh FROM segment_state"
            " WHERE minute >= %s AND minute < %s AND speed_kmh > 0", (first, last))
        for seg, minute, speed in cur:
            i = index.get(seg)
            if i is not None:
                out[int((minute - first) / timedelta(minutes=1)), i] = speed
    return out


def latest_state_minute(conn: psycopg.Connection) -> datetime | None:
    """The newest minute the state builder has built (``network_kpi``), or None."""
    row = conn.execute("SELECT max(minute) FROM network_kpi").fetchone()
    return row[0] if row else None


def active_blocking_incidents(
    conn: psycopg.Connection, at: datetime, kinds: Sequence[str]
) -> list[tuple[str, datetime]]:
    """(segment id, started_at) of the announced incidents of ``kinds`` active at ``at``."""
    return [(s, t) for s, t in conn.execute(
        "SELECT segment_id, started_at FROM incident WHERE status IN ('suspected', 'confirmed')"
        " AND announced AND segment_id IS NOT NULL AND kind = ANY(%s) AND started_at <= %s",
        (list(kinds), at))]  # fmt: skip


def current_forecasts(
    conn: psycopg.Connection, segment_ids: Sequence[str] | None = None,
    horizon: int | None = None,
) -> list[dict]:  # fmt: skip
    """The newest forecasts (``segment_forecast_current``), of ``segment_ids`` (None: all)
    and ``horizon`` (None: all), as dicts of the columns plus ``model``."""
    sql = f"SELECT {_COLS}, model FROM segment_forecast_current WHERE true"
    args: list = []
    if segment_ids is not None:
        sql += " AND segment_id = ANY(%s)"
        args.append(list(segment_ids))
    if horizon is not None:
        sql += " AND horizon_min = %s"
        args.append(horizon)
    with conn.cursor() as cur:
        cur.execute(sql + " ORDER BY segment_id, horizon_min", args)
        cols = [d.name for d in cur.description or []]
        return [dict(zip(cols, r, strict=True)) for r in cur]


def blocking_incidents_between(
    conn: psycopg.Connection, since: datetime, until: datetime, kinds: Sequence[str]
) -> list[tuple[str, datetime, datetime]]:
    """(segment id, started_at, end) of the announced incidents of ``kinds`` that overlapped
    ``[since, until)``; the end of one still active is ``until``."""
    return [(s, a, b) for s, a, b in conn.execute(
        "SELECT segment_id, started_at, coalesce(ended_at, %s) FROM incident"
        " WHERE announced AND segment_id IS NOT NULL AND kind = ANY(%s)"
        " AND status <> 'dismissed' AND started_at < %s AND coalesce(ended_at, %s) >= %s",
        (until, list(kinds), until, until, since))]  # fmt: skip


def current_forecast_version(conn: psycopg.Connection) -> tuple[datetime | None, int]:
    """Newest ``issued_at`` and row count of ``segment_forecast_current`` (a change check)."""
    row = conn.execute(
        "SELECT max(issued_at), count(*) FROM segment_forecast_current").fetchone()
    assert row is not None
    return row[0], row[1]
