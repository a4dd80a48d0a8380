"""Reads feeding the incident detectors for one decision time: the station inventory,
detector readings and their occupancy profile, probe traversals known by then, the
overdue-probe presence records, the recent per-segment baseline speed and the spread of
travel times. Times UTC, speeds km/h, occupancy 0–1, durations seconds; per-segment arrays
are aligned with a segment index (segment id → position), per-station ones with a list of
station ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import numpy as np
import psycopg

from store.traversal_writer import PRESENCE_COLUMNS, PresenceRow


class Station(NamedTuple):
    """A detector station in service: its id (the detectors' ``station_id``, else the
    detector's own id), segment id and offset on it (m; mean over its lanes' loops)."""

    station_id: str
    segment_id: str
    position_m: float


# a detector's station: loops reported per lane share a station_id
_STATION = "coalesce(d.station_id, d.detector_id)"


@dataclass(frozen=True)
class StationReadings:
    """Detector readings (aligned arrays, one per reading): station position in the station
    list, volume (vehicles), occupancy (0–1), speed (km/h, NaN: none)."""

    station: np.ndarray
    volume: np.ndarray
    occupancy: np.ndarray
    speed_kmh: np.ndarray

    @classmethod
    def none(cls) -> StationReadings:
        return cls(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return len(self.station)


@dataclass(frozen=True)
class Traversals:
    """Probe traversals (aligned arrays, one per traversal): segment position and id, vehicle
    code (equal codes: same vehicle) and id, vehicle type, speed (km/h), standing time and
    duration (s), and when it became known (``available_s``, epoch seconds)."""

    segment: np.ndarray
    segment_id: np.ndarray
    vehicle: np.ndarray
    vehicle_id: np.ndarray
    vehicle_type: np.ndarray
    speed_kmh: np.ndarray
    dwell_s: np.ndarray
    duration_s: np.ndarray
    available_s: np.ndarray

    def __len__(self) -> int:
        return len(self.segment)


def station_inventory(conn: psycopg.Connection) -> list[Station]:
    """The stations with a detector in service on a segment, by station id."""
    rows = conn.execute(
        f"SELECT {_STATION} AS station, min(d.segment_id), avg(coalesce(d.position_m, 0))"
        " FROM detector d WHERE d.status = 'in_service' AND d.segment_id IS NOT NULL"
        " GROUP BY station ORDER BY station"
    ).fetchall()
    return [Station(r[0], r[1], float(r[2])) for r in rows]


def station_readings(
    conn: psycopg.Connection, after: datetime, until: datetime, station_ids: Sequence[str]
) -> StationReadings:
    """Readings ending in ``(after, until]`` of the in-service detectors of the stations
    ``station_ids`` (one per detector, lane and interval; the station is its position in
    ``station_ids``)."""
    st = {d: k for k, d in enumerate(station_ids)}
    rows = conn.execute(
        f"SELECT {_STATION} AS station, r.volume, r.occupancy, r.speed_kmh"
        " FROM detector_reading r JOIN detector d USING (detector_id)"
        f" WHERE r.ts > %s AND r.ts <= %s AND d.status = 'in_service'"
        f" AND {_STATION} = ANY(%s)",
        (after, until, list(station_ids)),
    ).fetchall()
    return StationReadings(
        np.array([st[r[0]] for r in rows], np.int64), np.array([r[1] for r in rows], float),
        np.array([r[2] for r in rows], float),
        np.array([np.nan if r[3] is None else r[3] for r in rows], float),
    )  # fmt: skip


def occupancy_profile(
    conn: psycopg.Connection, slot: datetime, days: int, station_ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Per station of ``station_ids``: mean and sample standard deviation of the station's
    occupancy (per reading time, the mean over its in-service lanes' loops) of readings ending
    in the 15-minute ``slot`` on each of the previous ``days`` days (NaN: no data)."""
    st = {d: k for k, d in enumerate(station_ids)}
    mean, std = np.full(len(st), np.nan), np.full(len(st), np.nan)
    rows = conn.execute(
        "WITH days AS (SELECT generate_series(1, %s) AS k),"
        f" occ AS (SELECT {_STATION} AS station, r.ts, avg(r.occupancy) AS occupancy"
        "  FROM days JOIN detector_reading r ON r.ts > %s - make_interval(days => days.k)"
        "   AND r.ts <= %s - make_interval(days => days.k) + interval '15 minutes'"
        "  JOIN detector d ON d.detector_id = r.detector_id"
        f"  WHERE d.status = 'in_service' AND {_STATION} = ANY(%s) GROUP BY station, r.ts)"
        " SELECT station, avg(occupancy), stddev_samp(occupancy) FROM occ GROUP BY station",
        (days, slot, slot, list(station_ids)),
    ).fetchall()
    for sid, avg, sd in rows:
        mean[st[sid]], std[st[sid]] = avg, np.nan if sd is None else sd
    return mean, std


def recent_baseline(
    conn: psycopg.Connection, t: datetime, index: dict[str, int], *, window_min: int,
    gap_min: int, min_traversals: int, availability_lag_s: float,
) -> np.ndarray:  # fmt: skip
    """Per segment, the harmonic-mean speed of the traversals known by ``t`` that ended in
    the ``window_min`` minutes ending ``gap_min`` before ``t`` (NaN: fewer than
    ``min_traversals``); traversals without ``known_at`` count from their end plus
    ``availability_lag_s``."""
    end = t - timedelta(minutes=gap_min)
    base = np.full(len(index), np.nan)
    for seg, n, inv in conn.execute(
        "SELECT segment_id, count(*), sum(1.0 / speed_kmh) FROM probe_traversal"
        " WHERE minute >= %s AND minute < %s AND exit_ts > %s AND exit_ts <= %s"
        " AND speed_kmh > 0 AND coalesce(known_at, exit_ts + %s) <= %s"
        " GROUP BY segment_id",
        (end - timedelta(minutes=window_min + 1), end, end - timedelta(minutes=window_min),
         end, timedelta(seconds=availability_lag_s), t),
    ):  # fmt: skip
        i = index.get(seg)
        if i is not None and n >= min_traversals:
            base[i] = n / float(inv)
    return base


def travel_time_spread(
    conn: psycopg.Connection, slot: datetime, days: int, index: dict[str, int], *,
    min_samples: int,
) -> np.ndarray:  # fmt: skip
    """Per segment, the spread of single vehicles' travel times in the 15-minute ``slot``
    over the previous ``days`` days, robust: (84th − 50th percentile) / median of the
    traversal durations; NaN where fewer than ``min_samples`` traversals exist."""
    out = np.full(len(index), np.nan)
    for seg, n, p50, p84 in conn.execute(
        "WITH d AS (SELECT generate_series(1, %s) AS k)"
        " SELECT t.segment_id, count(*),"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY t.exit_ts - t.entry_ts),"
        " percentile_cont(0.84) WITHIN GROUP (ORDER BY t.exit_ts - t.entry_ts)"
        " FROM d JOIN probe_traversal t ON t.minute >= %s - make_interval(days => d.k)"
        "  AND t.minute < %s - make_interval(days => d.k) + interval '15 minutes'"
        " GROUP BY t.segment_id",
        (days, slot, slot),
    ):
        i = index.get(seg)
        if i is not None and n >= min_samples and p50.total_seconds() > 0:
            out[i] = (p84 - p50).total_seconds() / p50.total_seconds()
    return out


def known_traversals(
    conn: psycopg.Connection, t: datetime, index: dict[str, int], *, span: timedelta,
    slack: timedelta, availability_lag_s: float,
) -> Traversals:  # fmt: skip
    """The traversals on segments of ``index`` that became known in ``(t − span, t]``:
    stamped ``known_at`` then, or, without the stamp, ended ``availability_lag_s`` before;
    only those that ended within ``span + slack`` before ``t`` are looked at."""
    lag = timedelta(seconds=availability_lag_s)
    rows = conn.execute(
        "SELECT segment_id, vehicle_id, speed_kmh, dwell_s, exit_ts,"
        " extract(epoch FROM exit_ts - entry_ts), vehicle_type,"
        " coalesce(known_at, exit_ts + %s) AS avail FROM probe_traversal"
        " WHERE minute > %s AND minute <= %s AND exit_ts > %s AND exit_ts <= %s"
        " AND coalesce(known_at, exit_ts + %s) > %s AND coalesce(known_at, exit_ts + %s) <= %s",
        (lag, t - span - slack - timedelta(minutes=30), t, t - span - slack, t,
         lag, t - span, lag, t),
    ).fetchall()  # fmt: skip
    rows = [r for r in rows if r[0] in index]
    codes: dict[str, int] = {}

    def objects(k: int) -> np.ndarray:
        out = np.empty(len(rows), object)
        out[:] = [r[k] for r in rows]
        return out

    return Traversals(
        np.array([index[r[0]] for r in rows], np.int64), objects(0),
        np.array([codes.setdefault(r[1], len(codes)) for r in rows], np.int64), objects(1),
        objects(6), np.array([r[2] for r in rows], float), np.array([r[3] for r in rows], float),
        np.array([float(r[5]) for r in rows], float),
        np.array([r[7].timestamp() for r in rows], float),
    )  # fmt: skip


def presence_rows(conn: psycopg.Connection, as_of: datetime) -> list[PresenceRow]:
    """The presence records (``probe_presence``) of record time ``as_of``."""
    rows = conn.execute(
        f"SELECT {', '.join(PRESENCE_COLUMNS)} FROM probe_presence WHERE as_of = %s", (as_of,)
    ).fetchall()
    return [PresenceRow(*r) for r in rows]
