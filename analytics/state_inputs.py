"""Reads the state builder's inputs for a window of minutes as dense arrays.

Probe traversals give per segment and minute the harmonic-mean speed (space-
mean speed, km/h), the number of traversals and of distinct vehicles;
detector readings (of detectors in service, attributed to the minute of their
interval's midpoint) the volume-weighted harmonic-mean speed and the volume.
Arrays are shaped (minutes, segments), aligned with the network's segments. Also the
time-of-day speed profile (by day type: weekdays and weekends apart) and the learned
free-flow speeds, read alike by the state builder and the incident worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

OFF_PEAK_HOURS = (22, 23, 0, 1, 2, 3, 4, 5)  # local hours free-flow speeds are learned from
FREE_FLOW_PERCENTILE = 0.85
FREE_FLOW_MIN_SAMPLES = 50
FREE_FLOW_SQL = (
    "SELECT segment_id, percentile_cont(%(percentile)s) WITHIN GROUP (ORDER BY speed_kmh)"
    " AS free_flow_kmh, count(*) AS n_samples FROM probe_traversal"
    " WHERE minute > %(until)s - make_interval(days => %(days)s) AND minute <= %(until)s"
    " AND vehicle_type <> 'bus' AND extract(hour FROM minute AT TIME ZONE %(tz)s)::int"
    " = ANY(%(hours)s) GROUP BY segment_id HAVING count(*) >= %(min_samples)s"
)
"""Learned free-flow speed per segment: the ``percentile`` of off-peak traversal speeds (buses
excluded) over the ``days`` days up to ``until``, where at least ``min_samples`` exist."""


def free_flow_params(
    until: datetime, *, days: int, timezone: str, percentile: float = FREE_FLOW_PERCENTILE,
    min_samples: int = FREE_FLOW_MIN_SAMPLES,
) -> dict:  # fmt: skip
    """Parameters of :data:`FREE_FLOW_SQL`."""
    return {"percentile": percentile, "until": until, "days": days, "tz": timezone,
            "hours": list(OFF_PEAK_HOURS), "min_samples": min_samples}  # fmt: skip


def read_free_flow(
    conn: psycopg.Connection, until: datetime, index: dict[str, int], default: np.ndarray, *,
    days: int, timezone: str,
) -> np.ndarray:  # fmt: skip
    """Free-flow speed per segment of ``index`` learned from the data up to ``until``
    (:data:`FREE_FLOW_SQL`), ``default`` where too few traversals exist."""
    out = np.array(default, float, copy=True)
    params = free_flow_params(until, days=days, timezone=timezone)
    for seg, ff, _ in conn.execute(FREE_FLOW_SQL, params):
        i = index.get(seg)
        if i is not None and ff is not None and ff > 0:
            out[i] = ff
    return out


@dataclass
class WindowInputs:
    """Measurements of ``n_minutes`` consecutive minutes ending at ``last`` (inclusive)."""

    probe_kmh: np.ndarray
    traversals: np.ndarray
    vehicles: np.ndarray
    detector_kmh: np.ndarray
    detector_volume: np.ndarray


def read_window(
    conn: psycopg.Connection, index: dict[str, int], last: datetime, n_minutes: int
) -> WindowInputs:
    """Inputs of the minutes ``last − (n_minutes − 1)`` … ``last`` (UTC minute starts)."""
    n = len(index)
    first = last - timedelta(minutes=n_minutes - 1)
    shape = (n_minutes, n)
    out = WindowInputs(np.full(shape, np.nan), np.zeros(shape), np.zeros(shape),
                       np.full(shape, np.nan), np.zeros(shape))  # fmt: skip
    probe = conn.execute(
        "SELECT segment_id, minute, count(*), count(DISTINCT vehicle_id),"
        " count(*) / sum(1.0 / speed_kmh) FROM probe_traversal"
        " WHERE minute BETWEEN %s AND %s AND speed_kmh > 0 GROUP BY segment_id, minute",
        (first, last),
    ).fetchall()
    for seg, minute, k, v, hm in probe:
        i = index.get(seg)
        if i is not None:
            row = int((minute - first).total_seconds() // 60)
            out.probe_kmh[row, i], out.traversals[row, i], out.vehicles[row, i] = hm, k, v
    det = conn.execute(
        "WITH r AS (SELECT d.segment_id, r.volume, r.speed_kmh,"
        "   date_trunc('minute', r.ts - make_interval(secs => r.interval_s / 2.0)) AS minute"
        "   FROM detector_reading r JOIN detector d USING (detector_id)"
        "   WHERE d.status = 'in_service' AND d.segment_id IS NOT NULL"
        "   AND r.ts > %s AND r.ts <= %s + interval '1 hour')"
        " SELECT segment_id, minute, sum(volume),"
        "   sum(volume) FILTER (WHERE speed_kmh > 0)"
        "   / NULLIF(sum(volume / speed_kmh) FILTER (WHERE speed_kmh > 0), 0)"
        " FROM r WHERE minute BETWEEN %s AND %s GROUP BY segment_id, minute",
        (first, last, first, last),
    ).fetchall()
    for seg, minute, vol, hm in det:
        i = index.get(seg)
        if i is not None:
            row = int((minute - first).total_seconds() // 60)
            out.detector_volume[row, i] = vol
            out.detector_kmh[row, i] = np.nan if hm is None else hm
    return out


def slot_of(t: datetime) -> datetime:
    """Start of the 15-minute slot holding ``t``."""
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)


PROFILE_MIN_DAYS = 2  # days of the same type a segment needs before its own profile is used


def is_weekend(t: datetime, timezone: str) -> bool:
    """Whether ``t`` falls on a Saturday or Sunday in ``timezone`` (an IANA name)."""
    return t.astimezone(ZoneInfo(timezone)).isoweekday() >= 6


def read_speed_profile(
    conn: psycopg.Connection, slot: datetime, days: int, index: dict[str, int], *,
    timezone: str = "UTC", min_days: int = PROFILE_MIN_DAYS,
) -> np.ndarray:  # fmt: skip
    """Time-of-day profile: harmonic-mean speed (km/h) of the same 15-minute ``slot`` on the
    previous ``days`` days of the same type — weekdays (Monday–Friday) or weekend days in
    ``timezone`` — per segment of ``index`` (segment id → position); a segment with data on
    fewer than ``min_days`` days of that type gets the mean over all the previous days; NaN
    where there is no data."""
    weekend = is_weekend(slot, timezone)
    same_n, same_inv, same_days = (np.zeros(len(index)) for _ in range(3))
    all_n, all_inv = np.zeros(len(index)), np.zeros(len(index))
    for seg, wknd, n_days, n, inv in conn.execute(
        "SELECT segment_id, extract(isodow FROM bucket AT TIME ZONE %s) >= 6,"
        " count(DISTINCT bucket), count(speed_kmh), sum(1.0 / speed_kmh)"
        " FROM segment_state_15m WHERE bucket = ANY(%s) AND speed_kmh > 0"
        " GROUP BY 1, 2",
        (timezone, [slot - timedelta(days=d) for d in range(1, days + 1)]),
    ):
        i = index.get(seg)
        if i is None or not n:
            continue
        all_n[i] += n
        all_inv[i] += float(inv)
        if wknd == weekend:
            same_n[i], same_inv[i], same_days[i] = n, float(inv), n_days
    own = same_days >= min_days
    n, inv = np.where(own, same_n, all_n), np.where(own, same_inv, all_inv)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, n / inv, np.nan)
