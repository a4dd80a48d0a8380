"""Aggregations that turn raw probe traversals and detector readings into a minute's inputs.

Used by the incident worker (rows read from the database) and by the evaluation (rows from
simulated runs), so both detect from identical numbers. Times are epoch seconds, speeds km/h,
dwell seconds, occupancy 0–1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ProbeWindow:
    """Per segment over a window of traversals: typical speed — the median over distinct
    vehicles of each vehicle's harmonic-mean speed, so one vehicle that stopped to park or
    deliver cannot drag a segment down (NaN = no data) —, distinct vehicles, stopped and
    passing vehicles, the passing vehicles' harmonic-mean speed, and the typical *moving*
    speed (time standing still left out): a queue slows vehicles even while they move, a
    vehicle that stops for its own reasons moves at normal speed otherwise."""

    speed: np.ndarray
    vehicles: np.ndarray
    stopped: np.ndarray
    passing: np.ndarray
    passing_speed: np.ndarray
    moving_speed: np.ndarray


def probe_window(
    segment: np.ndarray, vehicle: np.ndarray, speed_kmh: np.ndarray, dwell_s: np.ndarray,
    n_segments: int, *, duration_s: np.ndarray | None = None, stop_s: float = 30.0,
) -> ProbeWindow:  # fmt: skip
    """Aggregate the traversals of one window (aligned arrays; ``vehicle`` integer codes).

    A vehicle is *stopped* on a segment when one of its traversals there stood still for at
    least ``stop_s`` seconds (dwell), *passing* otherwise. ``duration_s`` (traversal times)
    gives the moving speeds (standing time left out); without it they equal the speeds.
    """
    seg = np.asarray(segment, np.int64)
    v = np.asarray(speed_kmh, float)
    ok = np.isfinite(v) & (v > 0)
    dwell = np.asarray(dwell_s, float)[ok]
    seg, veh, v = seg[ok], np.asarray(vehicle, np.int64)[ok], v[ok]
    stop = dwell >= stop_s
    n = n_segments
    speed = _median_vehicle_speed(seg, veh, v, n)
    if duration_s is None:
        moving = speed.copy()
    else:
        dur = np.asarray(duration_s, float)[ok]
        v_move = v * dur / np.maximum(dur - np.minimum(dwell, dur), 1.0)
        moving = _median_vehicle_speed(seg, veh, v_move, n)

    def distinct(mask: np.ndarray) -> np.ndarray:
        if not mask.any():
            return np.zeros(n)
        key = np.unique(np.column_stack((seg[mask], veh[mask])), axis=0)
        return np.bincount(key[:, 0], minlength=n).astype(float)

    pc = np.bincount(seg[~stop], minlength=n).astype(float)
    pinv = np.bincount(seg[~stop], 1.0 / v[~stop], minlength=n) if (~stop).any() else np.zeros(n)
    pspeed = np.divide(pc, pinv, out=np.full(n, np.nan), where=pinv > 0)
    return ProbeWindow(speed, distinct(np.ones(len(seg), bool)), distinct(stop),
                       distinct(~stop), pspeed, moving)  # fmt: skip


def recent_probe_window(
    segment: np.ndarray, vehicle: np.ndarray, speed_kmh: np.ndarray, dwell_s: np.ndarray,
    available_s: np.ndarray, now_s: float, n_segments: int, *,
    duration_s: np.ndarray | None = None, windows_min: tuple[int, ...] = (1, 2, 3, 5),
    target_vehicles: int = 3, stop_s: float = 30.0,
) -> ProbeWindow:  # fmt: skip
    """Per segment, the shortest recent window that holds ``target_vehicles`` vehicles.

    Traversals count from the time they became known (``available_s``: end of the traversal
    plus the matcher's decision lag) up to ``now_s``. A busy segment is judged on its last
    minute or two, so a fresh queue is not outvoted by the vehicles that passed before it;
    a quiet one collects vehicles over up to ``windows_min[-1]`` minutes.
    """
    av = np.asarray(available_s, float)
    seg = np.asarray(segment, np.int64)
    out: ProbeWindow | None = None
    for w_min in sorted(windows_min, reverse=True):
        sel = (av <= now_s) & (av > now_s - 60.0 * w_min)
        dur = None if duration_s is None else np.asarray(duration_s)[sel]
        pw = probe_window(seg[sel], np.asarray(vehicle)[sel], np.asarray(speed_kmh)[sel],
                          np.asarray(dwell_s)[sel], n_segments, duration_s=dur,
                          stop_s=stop_s)  # fmt: skip
        if out is None:
            out = pw
            continue
        use = pw.vehicles >= target_vehicles
        for f in ("speed", "vehicles", "stopped", "passing", "passing_speed", "moving_speed"):
            getattr(out, f)[use] = getattr(pw, f)[use]
    assert out is not None
    return out


def _median_vehicle_speed(seg: np.ndarray, veh: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """Per segment: median over vehicles of their harmonic-mean traversal speed."""
    out = np.full(n, np.nan)
    if not len(seg):
        return out
    key, inv = np.unique(np.column_stack((seg, veh)), axis=0, return_inverse=True)
    inv = inv.ravel()
    cnt = np.bincount(inv, minlength=len(key))
    vs = cnt / np.bincount(inv, 1.0 / v, minlength=len(key))
    order = np.lexsort((vs, key[:, 0]))
    segs, vs = key[order, 0], vs[order]
    first = np.searchsorted(segs, np.unique(segs))
    counts = np.diff(np.append(first, len(segs)))
    lo = first + (counts - 1) // 2
    hi = first + counts // 2
    out[segs[first]] = 0.5 * (vs[lo] + vs[hi])
    return out


def station_minute(
    station: np.ndarray, volume: np.ndarray, occupancy: np.ndarray, speed_kmh: np.ndarray,
    n_stations: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Per station from its readings of one minute (one per lane, or one for all lanes):
    mean occupancy, total volume and volume-weighted harmonic-mean speed; NaN = no reading."""
    st = np.asarray(station, np.int64)
    n = n_stations
    cnt = np.bincount(st, minlength=n).astype(float)
    occ = np.divide(np.bincount(st, np.asarray(occupancy, float), minlength=n), cnt,
                    out=np.full(n, np.nan), where=cnt > 0)  # fmt: skip
    vol = np.bincount(st, np.asarray(volume, float), minlength=n)
    v = np.asarray(speed_kmh, float)
    good = np.isfinite(v) & (v > 0)
    w = np.where(good, volume, 0.0)
    inv = np.bincount(st, np.where(good, w / np.where(good, v, 1.0), 0.0), minlength=n)
    spd = np.divide(np.bincount(st, w, minlength=n), inv, out=np.full(n, np.nan),
                    where=inv > 0)  # fmt: skip
    return occ, vol, spd


@dataclass
class PresenceSnapshot:
    """Vehicles abnormally slow on their segment at one record time (aligned arrays, one per
    vehicle; see :mod:`analytics.presence`): segment index, vehicle code, bus or not, offset
    of the last fix (m), distance covered on the segment (m), current standstill,
    standing time on the segment, crawling time and time on the segment (s). ``ex_*``: the
    recent traversals (vehicles that just left a segment) — segment, vehicle code (same
    codes), bus or not, duration and standing time (s)."""

    segment: np.ndarray
    vehicle: np.ndarray
    is_bus: np.ndarray
    offset_m: np.ndarray
    progress_m: np.ndarray
    still_s: np.ndarray
    dwell_s: np.ndarray
    crawl_s: np.ndarray
    on_segment_s: np.ndarray
    ex_segment: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ex_vehicle: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ex_is_bus: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    ex_duration_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ex_dwell_s: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.segment)


def presence_snapshot(
    rows: Sequence[Sequence], index: dict[str, int], exited: Sequence[Sequence] = (),
    now_s: float = 0.0, recent_s: float = 180.0,
) -> PresenceSnapshot:  # fmt: skip
    """The snapshot from presence rows of one record time, in the order of
    :data:`analytics.presence.PRESENCE_COLUMNS` (as the probe worker keeps and stores them),
    and from traversals ``exited`` as (segment_id, vehicle_id, vehicle_type, duration_s,
    dwell_s, available_s) of which those that became known in ``(now_s − recent_s, now_s]``
    are kept; rows on segments outside ``index`` (segment id → row) are left out. Used by the
    incident worker (rows from the store) and the evaluation (rows from the processor)."""
    rows = [r for r in rows if r[1] in index]
    ex = [r for r in exited if r[0] in index and now_s - recent_s < r[5] <= now_s]
    codes: dict[str, int] = {}

    def col(k: int) -> np.ndarray:
        return np.array([r[k] for r in rows], float)

    return PresenceSnapshot(
        np.array([index[r[1]] for r in rows], np.int64),
        np.array([codes.setdefault(r[2], len(codes)) for r in rows], np.int64),
        np.array([r[3] == "bus" for r in rows], bool),
        col(7), col(8), col(9), col(10), col(11), col(12),
        np.array([index[r[0]] for r in ex], np.int64),
        np.array([codes.setdefault(r[1], len(codes)) for r in ex], np.int64),
        np.array([r[2] == "bus" for r in ex], bool),
        np.array([r[3] for r in ex], float), np.array([r[4] for r in ex], float),
    )  # fmt: skip
