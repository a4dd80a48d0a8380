"""The state builder's reads of stored segment states and its writes besides the batched
state writer (:mod:`store.state_writer`): previous levels, the stored states of a minute,
re-queueing dependent minutes and the time-of-day profile states of ``segment_current``.
Times UTC minute starts, speeds km/h, travel times seconds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

import numpy as np
import psycopg


class StoredState(NamedTuple):
    """What the builder compares of one stored segment state."""

    speed_kmh: float
    congestion_level: int | None
    source: str


def previous_levels(
    conn: psycopg.Connection, minute: datetime, index: dict[str, int]
) -> np.ndarray:
    """Stored congestion level per segment of ``index`` at ``minute`` (−1: none)."""
    prev = np.full(len(index), -1, np.int64)
    for seg, lvl in conn.execute(
        "SELECT segment_id, congestion_level FROM segment_state WHERE minute = %s", (minute,)
    ):
        i = index.get(seg)
        if i is not None and lvl is not None:
            prev[i] = lvl
    return prev


def stored_states(conn: psycopg.Connection, minute: datetime) -> dict[str, StoredState]:
    """The stored states of ``minute`` by segment id."""
    return {seg: StoredState(v, lvl, src) for seg, v, lvl, src in conn.execute(
        "SELECT segment_id, speed_kmh, congestion_level, source FROM segment_state"
        " WHERE minute = %s", (minute,))}  # fmt: skip


def requeue_built_after(conn: psycopg.Connection, minute: datetime, window_min: int) -> int:
    """Queue again (``state_dirty``) the built minutes (those with ``network_kpi``) in
    ``(minute, minute + window_min]``; returns how many were queued."""
    return conn.execute(
        "INSERT INTO state_dirty (minute) SELECT minute FROM network_kpi"
        " WHERE minute > %s AND minute <= %s ON CONFLICT DO NOTHING",
        (minute, minute + timedelta(minutes=window_min)),
    ).rowcount


def write_profile_states(
    conn: psycopg.Connection, minute: datetime, stale_before: datetime, confidence: float, *,
    segment_ids: list[str], speed_kmh: list[float], travel_time_s: list[float],
    free_flow_kmh: list[float], level: list[int], jam_factor: list[float],
) -> int:  # fmt: skip
    """Profile states (``source='profile'``, no samples) in ``segment_current`` at ``minute``
    for the given segments whose current state is from ``stale_before`` or earlier or is a
    profile state itself; returns how many rows changed."""
    return conn.execute(
        "INSERT INTO segment_current (segment_id, minute, speed_kmh, travel_time_s,"
        " free_flow_kmh, n_samples, n_vehicles, congestion_level, jam_factor, confidence,"
        " source, updated_at)"
        " SELECT s, %s, v, tt, ff, 0, 0, l, j, %s, 'profile', now()"
        " FROM unnest(%s::text[], %s::real[], %s::real[], %s::real[], %s::int2[], %s::real[])"
        "   AS u(s, v, tt, ff, l, j)"
        " ON CONFLICT (segment_id) DO UPDATE SET minute = EXCLUDED.minute,"
        " speed_kmh = EXCLUDED.speed_kmh, travel_time_s = EXCLUDED.travel_time_s,"
        " free_flow_kmh = EXCLUDED.free_flow_kmh, n_samples = 0, n_vehicles = 0,"
        " congestion_level = EXCLUDED.congestion_level, jam_factor = EXCLUDED.jam_factor,"
        " confidence = EXCLUDED.confidence, source = 'profile', updated_at = now()"
        " WHERE segment_current.minute <= %s OR segment_current.source = 'profile'",
        (minute, confidence, segment_ids, speed_kmh, travel_time_s, free_flow_kmh, level,
         jam_factor, stale_before),
    ).rowcount  # fmt: skip
