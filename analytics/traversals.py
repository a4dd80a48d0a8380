"""Segment traversals from a matched track: entry and exit times by interpolation.

Along each matched chain the fixes get a cumulative route position (metres);
a segment the vehicle entered and left between its first and last fix becomes
a traversal with entry/exit times interpolated linearly in route position.
Stationary time inside a traversal (moving slower than ``still_mps``) is
dwell: buses have it subtracted (stops), other vehicles are dropped when it
exceeds ``max_still_s`` (parked, not queued). Times seconds, speeds km/h.

:func:`traversals` works on a whole matched track; :class:`TraversalTracker`
gives the same traversals from a stream of decided fixes, one vehicle at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analytics.mapmatch.hmm import TrackMatch

FIELDS = ("segment", "entry_s", "exit_s", "speed_kmh", "dwell_s")


@dataclass
class TraversalArrays:
    """Traversals of one or more tracks (aligned arrays)."""

    segment: np.ndarray
    entry_s: np.ndarray
    exit_s: np.ndarray
    speed_kmh: np.ndarray
    dwell_s: np.ndarray

    def __len__(self) -> int:
        return len(self.segment)


EMPTY = TraversalArrays(*(np.zeros(0, t) for t in (np.int64, float, float, float, float)))


def concat(parts: list[TraversalArrays]) -> TraversalArrays:
    """One set of arrays from many."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return EMPTY
    return TraversalArrays(*(np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS))


@dataclass(frozen=True)
class DwellRules:
    """How stationary time is treated (m/s, seconds)."""

    still_mps: float = 0.7
    max_still_s: float = 120.0


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


def segment_traversals(
    pos: np.ndarray, times: np.ndarray, segs: np.ndarray, seg_start: np.ndarray,
    length_m: np.ndarray, *, is_bus: bool, rules: DwellRules,
) -> TraversalArrays:  # fmt: skip
    """Traversals of the segments ``segs`` (starting at route positions ``seg_start``), all
    fully covered by the fixes at non-decreasing positions ``pos`` and times ``times``."""
    seg_end = seg_start + length_m[segs]
    entry = _first_time(pos, times, seg_start)
    exit_ = _first_time(pos, times, seg_end)
    # stationary time per traversal: fix intervals that hardly moved, clipped to it
    step_still = (np.diff(pos) / np.maximum(np.diff(times), 1e-9)) < rules.still_mps
    lo, hi = times[:-1], times[1:]
    overlap = np.clip(
        np.minimum(hi[None, :], exit_[:, None]) - np.maximum(lo[None, :], entry[:, None]), 0, None
    )
    dwell = (overlap * step_still[None, :]).sum(axis=1)
    duration = exit_ - entry
    if is_bus:
        moving = np.maximum(duration - dwell, 1e-3)
        keep = duration > 0
    else:
        moving = duration
        keep = (dwell <= rules.max_still_s) & (duration > 0)
    speed = length_m[segs] / np.maximum(moving, 1e-3) * 3.6
    return TraversalArrays(segs[keep], entry[keep], exit_[keep], speed[keep], dwell[keep])


def traversals(
    match: TrackMatch, t: np.ndarray, length_m: np.ndarray, *, is_bus: bool = False,
    rules: DwellRules = DwellRules(),
) -> TraversalArrays:  # fmt: skip
    """Complete traversals of a matched track (``t`` seconds, ``length_m`` per segment)."""
    out: list[TraversalArrays] = []
    usable = match.chain >= 0
    if match.moving_follower is not None:
        usable &= ~match.moving_follower
    for chain in np.unique(match.chain[usable]):
        idx = np.flatnonzero(usable & (match.chain == chain))
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
        seg_start = np.array(starts)
        route_a = np.array(route)
        full = (seg_start >= pos[0]) & (seg_start + length_m[route_a] <= pos[-1])
        if full.any():
            out.append(segment_traversals(pos, t[idx], route_a[full], seg_start[full], length_m,
                                          is_bus=is_bus, rules=rules))  # fmt: skip
    return concat(out)


@dataclass
class TraversalTracker:
    """Streaming traversals of one vehicle: feed it decided fixes in time order.

    Keeps only the fixes since the last one before the first pending segment,
    so its size stays bounded; the results equal :func:`traversals` on the
    whole track.
    """

    chain: int = -1
    first_pos: float = 0.0
    times: list[float] = field(default_factory=list)
    pos: list[float] = field(default_factory=list)
    route: list[int] = field(default_factory=list)  # segments not yet completed
    starts: list[float] = field(default_factory=list)  # their route positions
    last_segment: int = -1  # the segment the route ends on
    last_start: float = 0.0  # route position where it starts
    end: float = 0.0  # and where it ends

    def add(
        self, chain: int, t: float, segment: int, offset_m: float, path: list[int],
        length_m: np.ndarray, *, is_bus: bool, rules: DwellRules,
    ) -> TraversalArrays:  # fmt: skip
        """Add one decided fix; returns the traversals it completes."""
        if segment < 0:
            return EMPTY  # unmatched fixes do not break the chain
        if chain != self.chain or not self.times:
            self.chain = chain
            self.route, self.starts = [segment], [0.0]
            self.last_segment, self.last_start = segment, 0.0
            self.end = float(length_m[segment])
            self.times, self.pos = [t], [offset_m]
            self.first_pos = offset_m
            return EMPTY
        path = path or [segment]
        for seg in path[1:] if path[0] == self.last_segment else path:
            self.starts.append(self.end)
            self.route.append(int(seg))
            self.last_segment, self.last_start = int(seg), self.end
            self.end += float(length_m[seg])
        p = max(self.last_start + offset_m, self.pos[-1])
        if len(self.pos) >= 2 and self.pos[-2] == self.pos[-1] == p:
            self.times[-1] = t  # a standstill: its first and last fix say it all
            return EMPTY
        self.times.append(t)
        self.pos.append(p)
        done = 0
        while done < len(self.route) and self.starts[done] + length_m[self.route[done]] <= p:
            done += 1
        if not done:
            return EMPTY
        segs = np.array(self.route[:done])
        starts = np.array(self.starts[:done])
        full = starts >= self.first_pos
        pos, times = np.array(self.pos), np.array(self.times)
        out = EMPTY
        if full.any():
            out = segment_traversals(pos, times, segs[full], starts[full], length_m,
                                     is_bus=is_bus, rules=rules)  # fmt: skip
        del self.route[:done], self.starts[:done]
        # keep the fixes from the last one before the next pending segment's start
        nxt = self.starts[0] if self.route else self.end
        keep = max(int(np.searchsorted(pos, nxt, side="left")) - 1, 0)
        del self.times[:keep], self.pos[:keep]
        return out
