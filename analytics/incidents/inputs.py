"""Aggregations that turn raw probe traversals and detector readings into a minute's inputs.

Used by the incident worker (rows read from the database) and by the evaluation (rows from
simulated runs), so both detect from identical numbers. Times are epoch seconds, speeds km/h,
dwell seconds, occupancy 0–1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ProbeWindow:
    """Per segment over a window of traversals: harmonic-mean speed (NaN = none), distinct
    vehicles, stopped and passing vehicles, passing vehicles' harmonic-mean speed."""

    speed: np.ndarray
    vehicles: np.ndarray
    stopped: np.ndarray
    passing: np.ndarray
    passing_speed: np.ndarray


def probe_window(
    segment: np.ndarray, vehicle: np.ndarray, speed_kmh: np.ndarray, dwell_s: np.ndarray,
    n_segments: int, *, stop_s: float = 30.0,
) -> ProbeWindow:  # fmt: skip
    """Aggregate the traversals of one window (aligned arrays; ``vehicle`` integer codes).

    A vehicle is *stopped* on a segment when one of its traversals there stood still for at
    least ``stop_s`` seconds (dwell), *passing* otherwise.
    """
    seg = np.asarray(segment, np.int64)
    v = np.asarray(speed_kmh, float)
    ok = np.isfinite(v) & (v > 0)
    seg, veh, v = seg[ok], np.asarray(vehicle, np.int64)[ok], v[ok]
    stop = np.asarray(dwell_s, float)[ok] >= stop_s
    n = n_segments
    count = np.bincount(seg, minlength=n).astype(float)
    inv = np.bincount(seg, 1.0 / v, minlength=n) if len(v) else np.zeros(n)
    speed = np.divide(count, inv, out=np.full(n, np.nan), where=inv > 0)

    def distinct(mask: np.ndarray) -> np.ndarray:
        if not mask.any():
            return np.zeros(n)
        key = np.unique(np.column_stack((seg[mask], veh[mask])), axis=0)
        return np.bincount(key[:, 0], minlength=n).astype(float)

    pc = np.bincount(seg[~stop], minlength=n).astype(float)
    pinv = np.bincount(seg[~stop], 1.0 / v[~stop], minlength=n) if (~stop).any() else np.zeros(n)
    pspeed = np.divide(pc, pinv, out=np.full(n, np.nan), where=pinv > 0)
    return ProbeWindow(speed, distinct(np.ones(len(seg), bool)), distinct(stop),
                       distinct(~stop), pspeed)  # fmt: skip


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
