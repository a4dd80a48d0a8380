"""Segment traversals from a matched track: entry and exit times by interpolation.

Along each matched chain the fixes get a cumulative route position (metres);
a segment the vehicle entered and left between its first and last fix becomes
a traversal with entry/exit times interpolated linearly in route position.
Stationary time inside a traversal (moving slower than ``still_mps``) is
dwell: buses have it subtracted (stops), other vehicles are dropped when it
exceeds ``max_still_s`` (parked, not queued). Times seconds, speeds km/h.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.mapmatch.hmm import TrackMatch


@dataclass
class TraversalArrays:
    """Traversals of one or more tracks (aligned arrays)."""

    segment: np.ndarray
    entry_s: np.ndarray
    exit_s: np.ndarray
    speed_kmh: np.ndarray
    dwell_s: np.ndarray


EMPTY = TraversalArrays(*(np.zeros(0, t) for t in (np.int64, float, float, float, float)))


def _first_time(pos: np.ndarray, times: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """When the (non-decreasing) route position first reaches each target, interpolated.

    A vehicle standing exactly on a segment boundary has crossed it when it got there.
    """
    i = np.searchsorted(pos, targets, side="left")
    hi = np.clip(i, 1, len(pos) - 1)
    lo = hi - 1
    span = np.maximum(pos[hi] - pos[lo], 1e-12)
    t = times[lo] + (targets - pos[lo]) / span * (times[hi] - times[lo])
    return np.where(i == 0, times[0], t)


def traversals(
    match: TrackMatch,
    t: np.ndarray,
    length_m: np.ndarray,
    *,
    is_bus: bool = False,
    still_mps: float = 0.7,
    max_still_s: float = 120.0,
) -> TraversalArrays:
    """Complete traversals of a matched track (``t`` seconds, ``length_m`` per segment)."""
    out: list[TraversalArrays] = []
    for chain in np.unique(match.chain[match.chain >= 0]):
        idx = np.flatnonzero(match.chain == chain)
        if len(idx) < 2:
            continue
        route: list[int] = [int(match.segment[idx[0]])]
        starts = [0.0]
        pos = np.zeros(len(idx))
        pos[0] = match.offset_m[idx[0]]
        for k in range(1, len(idx)):
            i = idx[k]
            path = match.paths.get(i, [int(match.segment[i])])
            for seg in path[1:] if path and path[0] == route[-1] else path:
                starts.append(starts[-1] + length_m[route[-1]])
                route.append(int(seg))
            pos[k] = starts[-1] + match.offset_m[i]
        pos = np.maximum.accumulate(pos)
        times = t[idx]
        seg_start = np.array(starts)
        seg_end = seg_start + length_m[np.array(route)]
        full = (seg_start >= pos[0]) & (seg_end <= pos[-1])
        if not full.any():
            continue
        segs = np.array(route)[full]
        entry = _first_time(pos, times, seg_start[full])
        exit_ = _first_time(pos, times, seg_end[full])
        # stationary time per traversal: fix intervals that hardly moved, clipped to it
        step_still = (np.diff(pos) / np.maximum(np.diff(times), 1e-9)) < still_mps
        lo, hi = times[:-1], times[1:]
        overlap = np.clip(
            np.minimum(hi[None, :], exit_[:, None]) - np.maximum(lo[None, :], entry[:, None]),
            0,
            None,
        )
        dwell = (overlap * step_still[None, :]).sum(axis=1)
        duration = exit_ - entry
        if is_bus:
            moving = np.maximum(duration - dwell, 1e-3)
            keep = duration > 0
        else:
            moving = duration
            keep = (dwell <= max_still_s) & (duration > 0)
        speed = length_m[segs] / np.maximum(moving, 1e-3) * 3.6
        out.append(TraversalArrays(segs[keep], entry[keep], exit_[keep], speed[keep], dwell[keep]))
    if not out:
        return EMPTY
    return TraversalArrays(*(np.concatenate([getattr(o, f) for o in out]) for f in
                             ("segment", "entry_s", "exit_s", "speed_kmh", "dwell_s")))  # fmt: skip
