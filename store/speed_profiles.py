"""Reads of per-segment reference speeds: the time-of-day speed profile (``segment_state_15m``)
and the free-flow speeds learned from off-peak probe traversals (``probe_traversal``), plus the
state builder's write of the learned ones (``segment_free_flow``). Speeds km/h, times UTC;
arrays are aligned with a segment index (segment id → position)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
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
PROFILE_MIN_DAYS = 2  # days of the same type a segment needs before its own profile is used


def free_flow_params(
    until: datetime, *, days: int, timezone: str, percentile: float = FREE_FLOW_PERCENTILE,
    min_samples: int = FREE_FLOW_MIN_SAMPLES,
) -> dict[str, Any]:  # fmt: skip
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


def relearn_free_flow(
    conn: psycopg.Connection, until: datetime, *, days: int, timezone: str,
    percentile: float = FREE_FLOW_PERCENTILE, min_samples: int = FREE_FLOW_MIN_SAMPLES,
) -> int:  # fmt: skip
    """Recompute the stored learned free-flow speeds (``segment_free_flow``) from the data up
    to ``until`` (:data:`FREE_FLOW_SQL`); returns how many segments were written."""
    return conn.execute(
        "INSERT INTO segment_free_flow (segment_id, free_flow_kmh, n_samples, updated_at)"
        f" SELECT f.*, now() FROM ({FREE_FLOW_SQL}) f"
        " ON CONFLICT (segment_id) DO UPDATE SET free_flow_kmh = EXCLUDED.free_flow_kmh,"
        " n_samples = EXCLUDED.n_samples, updated_at = now()",
        free_flow_params(until, days=days, timezone=timezone, percentile=percentile,
                         min_samples=min_samples),
    ).rowcount  # fmt: skip


def stored_free_flow(
    conn: psycopg.Connection, index: dict[str, int], default: np.ndarray
) -> np.ndarray:
    """The stored learned free-flow speed per segment of ``index``; ``default`` elsewhere."""
    out = np.array(default, float, copy=True)
    for seg, ff in conn.execute("SELECT segment_id, free_flow_kmh FROM segment_free_flow"):
        i = index.get(seg)
        if i is not None and ff > 0:
            out[i] = ff
    return out


def read_day_speeds(
    conn: psycopg.Connection, slot: datetime, days: int, index: dict[str, int], *,
    timezone: str = "UTC", around_min: int = 15,
) -> np.ndarray:  # fmt: skip
    """Per previous day of the same type as the 15-minute ``slot`` (weekday or weekend in
    ``timezone``) among the last ``days``, each segment's slowest 5-minute speed (km/h) from
    ``around_min`` before the slot to ``around_min`` after it: a (D, N) array aligned with
    ``index``, NaN where a day has no data (D = 0: no such day)."""
    weekend = is_weekend(slot, timezone)
    prev = [d for d in range(1, days + 1)
            if is_weekend(slot - timedelta(days=d), timezone) == weekend]  # fmt: skip
    out = np.full((len(prev), len(index)), np.nan)
    if not prev:
        return out
    row = {d: k for k, d in enumerate(prev)}
    ranges = [(slot - timedelta(days=d, minutes=around_min),
               slot + timedelta(minutes=15 + around_min) - timedelta(days=d)) for d in prev]
    lo, hi = [r[0] for r in ranges], [r[1] for r in ranges]
    for seg, day_start, speed in conn.execute(
        "SELECT s.segment_id, r.lo, min(s.speed_kmh) FROM unnest(%s::timestamptz[],"
        " %s::timestamptz[]) AS r(lo, hi) JOIN segment_state_5m s"
        " ON s.bucket >= r.lo AND s.bucket < r.hi WHERE s.speed_kmh > 0 GROUP BY 1, 2",
        (lo, hi),
    ):  # fmt: skip
        i = index.get(seg)
        k = row.get(round((slot - day_start) / timedelta(days=1)))
        if i is not None and k is not None:
            out[k, i] = float(speed)
    return out


def slot_of(t: datetime) -> datetime:
    """Start of the 15-minute slot holding ``t``."""
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)


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
