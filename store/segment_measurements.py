"""Reads the state builder's measurements for a window of minutes as dense arrays.

Probe traversals give per segment and minute the harmonic-mean speed (space-mean speed,
km/h), the number of traversals and of distinct vehicles; the probes' space-time cells give
Edie's space-mean speed (total distance / total time in the segment-minute, vehicles still
queued included; at least ``MIN_CELL_TIME_S`` of presence) and its vehicles;
detector readings (of detectors in service, attributed to the minute of their interval's
midpoint) the volume-weighted harmonic-mean speed and the volume (summed over a station's
lanes, averaged over the segment's stations: two stations on one segment count its traffic
once). Arrays are shaped
(minutes, segments), aligned with the network's segments; minutes are UTC minute starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import psycopg

#: Per segment and minute (of the interval's midpoint, between the two minute parameters;
#: readings fetched between the first and an hour after the second) the loops' volume
#: (summed over a station's lanes, averaged over the segment's stations) and speed (the
#: volume-weighted harmonic mean over moving traffic): the CTE ``det``.
DETECTOR_MINUTES = (
    "WITH r AS (SELECT d.segment_id, coalesce(d.station_id, d.detector_id) AS station,"
    "   r.volume, r.speed_kmh,"
    "   date_trunc('minute', r.ts - make_interval(secs => r.interval_s / 2.0)) AS minute"
    "   FROM detector_reading r JOIN detector d USING (detector_id)"
    "   WHERE d.status = 'in_service' AND d.segment_id IS NOT NULL"
    "   AND r.ts > %s AND r.ts <= %s + interval '1 hour'),"
    " s AS (SELECT segment_id, station, minute, sum(volume) AS volume,"
    "   sum(volume) FILTER (WHERE speed_kmh > 0) AS v_moving,"
    "   sum(volume / speed_kmh) FILTER (WHERE speed_kmh > 0) AS v_per_kmh"
    "   FROM r WHERE minute BETWEEN %s AND %s GROUP BY segment_id, station, minute),"
    " det AS (SELECT segment_id, minute, avg(volume) AS volume,"
    "   sum(v_moving) / NULLIF(sum(v_per_kmh), 0) AS speed_kmh"
    "   FROM s GROUP BY segment_id, minute)"
)


#: Seconds of probe presence a segment-minute needs for an Edie speed.
MIN_CELL_TIME_S = 10.0


@dataclass
class WindowInputs:
    """Measurements of ``n_minutes`` consecutive minutes ending at ``last`` (inclusive)."""

    probe_kmh: np.ndarray
    traversals: np.ndarray
    vehicles: np.ndarray
    detector_kmh: np.ndarray
    detector_volume: np.ndarray
    cell_kmh: np.ndarray | None = None  # Edie's space-mean speed (NaN: too little presence)
    cell_vehicles: np.ndarray | None = None


def read_window(
    conn: psycopg.Connection, index: dict[str, int], last: datetime, n_minutes: int
) -> WindowInputs:
    """Inputs of the minutes ``last − (n_minutes − 1)`` … ``last`` (UTC minute starts)."""
    n = len(index)
    first = last - timedelta(minutes=n_minutes - 1)
    shape = (n_minutes, n)
    out = WindowInputs(np.full(shape, np.nan), np.zeros(shape), np.zeros(shape),
                       np.full(shape, np.nan), np.zeros(shape), np.full(shape, np.nan),
                       np.zeros(shape))  # fmt: skip
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
    cells = conn.execute(
        "SELECT segment_id, minute, sum(distance_cm)::float8 / sum(time_ms) * 36.0,"
        " sum(vehicles)"
        " FROM probe_cell WHERE minute BETWEEN %s AND %s"
        " GROUP BY segment_id, minute HAVING sum(time_ms) >= %s",
        (first, last, MIN_CELL_TIME_S * 1000.0),
    ).fetchall()
    assert out.cell_kmh is not None and out.cell_vehicles is not None
    for seg, minute, kmh, v in cells:
        i = index.get(seg)
        if i is not None:
            row = int((minute - first).total_seconds() // 60)
            out.cell_kmh[row, i], out.cell_vehicles[row, i] = kmh, v
    det = conn.execute(
        DETECTOR_MINUTES + " SELECT segment_id, minute, volume, speed_kmh FROM det",
        (first, last, first, last),
    ).fetchall()
    for seg, minute, vol, hm in det:
        i = index.get(seg)
        if i is not None:
            row = int((minute - first).total_seconds() // 60)
            out.detector_volume[row, i] = vol
            out.detector_kmh[row, i] = np.nan if hm is None else hm
    return out


def probe_detector_pairs(
    conn: psycopg.Connection, index: dict[str, int], first: datetime, last: datetime, *,
    min_vehicles: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Minutes ``first`` … ``last`` in which probes of at least ``min_vehicles`` distinct
    vehicles and the loops both timed a segment: (segment index, probe harmonic-mean speed,
    loop speed), km/h, as :func:`read_window` forms them."""
    rows = conn.execute(
        DETECTOR_MINUTES + ","
        " p AS (SELECT segment_id, minute, count(*) / sum(1.0 / speed_kmh) AS speed_kmh"
        "   FROM probe_traversal WHERE minute BETWEEN %s AND %s AND speed_kmh > 0"
        "   GROUP BY segment_id, minute HAVING count(DISTINCT vehicle_id) >= %s)"
        " SELECT p.segment_id, p.speed_kmh, det.speed_kmh FROM p JOIN det USING"
        " (segment_id, minute) WHERE det.speed_kmh > 0",
        (first, last, first, last, first, last, min_vehicles),
    ).fetchall()
    seg = np.array([index.get(r[0], -1) for r in rows], np.int64)
    probe = np.array([r[1] for r in rows], float)
    det = np.array([r[2] for r in rows], float)
    keep = seg >= 0
    return seg[keep], probe[keep], det[keep]
