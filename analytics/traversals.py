"""Segment traversals from a matched track: entry and exit times by interpolation.

Along each matched chain the fixes get a cumulative route position (metres);
a segment the vehicle entered and left between its first and last fix becomes
a traversal with entry/exit times interpolated linearly in route position.
Stationary time inside a traversal (moving slower than ``still_mps``) is
dwell: buses have it subtracted (stops), other vehicles are dropped when it
exceeds ``max_still_s`` (parked, not queued). A segment driven right before or after its
reverse twin (a turn back) is not timed when the twins are given: the vehicle may have turned
anywhere along it (a driveway, a missed turn) and a matcher may turn GPS noise near a node into
such a loop, so its length over its time is no speed. A traversal faster than
:func:`plausible_max_kmh` of its segment is a matching artifact too (a detour around a block
fitted to GPS noise) and is dropped. Times seconds, speeds km/h.

:func:`traversals` works on a whole matched track; :class:`TraversalTracker`
gives the same traversals from a stream of decided fixes, one vehicle at a time.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain as _chain

import numpy as np

from analytics.mapmatch.hmm import TrackMatch
from analytics.space_mean import interval_cells

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


@dataclass
class TraversalJob:
    """Segments completed by one run of fixes: route positions ``pos`` (m, non-decreasing)
    at ``times`` (s); segments ``segs`` starting at route positions ``starts``."""

    pos: Sequence[float] | np.ndarray
    times: Sequence[float] | np.ndarray
    segs: Sequence[int] | np.ndarray
    starts: Sequence[float] | np.ndarray
    is_bus: bool
    owner: object = None  # whatever the caller needs to attribute the traversals


def plausible_max_kmh(
    free_flow_kmh: np.ndarray, *, factor: float = 2.0, margin_kmh: float = 50.0
) -> np.ndarray:
    """Fastest believable traversal speed per segment (km/h): the larger of ``factor`` × and
    ``margin_kmh`` above its free-flow speed (100 km/h on a 50 km/h street, 160 on an 80
    km/h road). Faster traversals come from matched detours (a vehicle standing at a
    junction whose GPS noise is fitted as a lap around the block at 150–200 km/h)."""
    ff = np.asarray(free_flow_kmh, float)
    return np.maximum(factor * ff, ff + margin_kmh)


def _beside_turn(route: Sequence[int], i: int, reverse: np.ndarray | None, before: int) -> bool:
    """Whether ``route[i]`` is driven right after or before its reverse twin (``before``: the
    segment driven before ``route[0]``, −1 if unknown)."""
    if reverse is None:
        return False
    twin = reverse[route[i]]
    if twin < 0:
        return False
    prev = route[i - 1] if i > 0 else before
    return prev == twin or (i + 1 < len(route) and route[i + 1] == twin)


def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(c) for c in counts])`` without the loop."""
    ends = np.cumsum(counts)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - counts, counts)


def _first_times(
    pos: np.ndarray, times: np.ndarray, first: np.ndarray, n: np.ndarray, targets: np.ndarray,
    job: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """When each job's (non-decreasing) route position first reaches its targets, interpolated.

    A vehicle standing exactly on a segment boundary has crossed it when it got there.
    """
    rep = n[job]
    pair = np.repeat(np.arange(len(targets)), rep)
    fix = first[job][pair] + _ragged_arange(rep)
    i = np.bincount(pair, weights=pos[fix] < targets[pair], minlength=len(targets))
    i = i.astype(np.int64)  # fixes of the job before the target: searchsorted(..., "left")
    hi = np.clip(i, 1, np.maximum(n[job] - 1, 1))
    gl, gh = first[job] + hi - 1, first[job] + hi
    span = np.maximum(pos[gh] - pos[gl], 1e-12)
    t = times[gl] + (targets - pos[gl]) / span * (times[gh] - times[gl])
    return np.where(i == 0, times[first[job]], t)


def traversals_of_jobs(
    jobs: list[TraversalJob], length_m: np.ndarray, *, rules: DwellRules
) -> tuple[TraversalArrays, np.ndarray]:
    """Traversals of many jobs in one set of array operations; returns them and the index
    of the job each one belongs to."""
    if not jobs:
        return EMPTY, np.zeros(0, np.int64)
    n = np.array([len(j.pos) for j in jobs])
    m = np.array([len(j.segs) for j in jobs])
    first = np.cumsum(n) - n
    flat = _chain.from_iterable
    pos = np.fromiter(flat(j.pos for j in jobs), float, int(n.sum()))
    times = np.fromiter(flat(j.times for j in jobs), float, int(n.sum()))
    segs = np.fromiter(flat(j.segs for j in jobs), np.int64, int(m.sum()))
    starts = np.fromiter(flat(j.starts for j in jobs), float, int(m.sum()))
    job = np.repeat(np.arange(len(jobs)), m)
    bus = np.array([j.is_bus for j in jobs])[job]
    r = len(segs)
    both = _first_times(pos, times, first, n, np.concatenate([starts, starts + length_m[segs]]),
                        np.concatenate([job, job]))  # fmt: skip
    entry, exit_ = both[:r], both[r:]
    # stationary time per traversal: fix intervals (of its job) that hardly moved, clipped to it
    still = np.zeros(len(pos), bool)  # interval from fix g to fix g + 1
    if len(pos) > 1:
        still[:-1] = (np.diff(pos) / np.maximum(np.diff(times), 1e-9)) < rules.still_mps
    rep = np.maximum(n[job] - 1, 0)
    pair = np.repeat(np.arange(r), rep)
    g = first[job][pair] + _ragged_arange(rep)
    overlap = np.clip(
        np.minimum(times[g + 1], exit_[pair]) - np.maximum(times[g], entry[pair]), 0, None
    )
    dwell = np.bincount(pair, weights=overlap * still[g], minlength=r)
    duration = exit_ - entry
    moving = np.where(bus, np.maximum(duration - dwell, 1e-3), duration)
    keep = np.where(bus, duration > 0, (dwell <= rules.max_still_s) & (duration > 0))
    speed = length_m[segs] / np.maximum(moving, 1e-3) * 3.6
    out = TraversalArrays(segs[keep], entry[keep], exit_[keep], speed[keep], dwell[keep])
    return out, job[keep]


def segment_traversals(
    pos: np.ndarray, times: np.ndarray, segs: np.ndarray, seg_start: np.ndarray,
    length_m: np.ndarray, *, is_bus: bool, rules: DwellRules,
) -> TraversalArrays:  # fmt: skip
    """Traversals of the segments ``segs`` (starting at route positions ``seg_start``), all
    fully covered by the fixes at non-decreasing positions ``pos`` and times ``times``."""
    job = TraversalJob(np.asarray(pos), np.asarray(times), np.asarray(segs),
                       np.asarray(seg_start), is_bus)  # fmt: skip
    return traversals_of_jobs([job], length_m, rules=rules)[0]


def route_growth(path: list[int], last_segment: int) -> list[int] | None:
    """The segments a decided fix's ``path`` adds to a route ending on ``last_segment``:
    those after it (none when the fix stays on it, or is seen back behind it: a path of
    one other segment, see :meth:`MapMatcher.path_between`); ``None`` when the path leaves
    from a segment behind the route's end (the vehicle was seen back there and drove off
    another way: the route so far is not the one driven)."""
    if last_segment in path:
        return path[path.index(last_segment) + 1 :]
    return [] if len(path) == 1 else None


def traversals(
    match: TrackMatch, t: np.ndarray, length_m: np.ndarray, *, is_bus: bool = False,
    rules: DwellRules = DwellRules(), reverse: np.ndarray | None = None,
) -> TraversalArrays:  # fmt: skip
    """Complete traversals of a matched track (``t`` seconds, ``length_m`` per segment);
    ``reverse``: each segment's reverse twin (:attr:`RoadNetwork.reverse`), to leave out
    segments driven beside a turn back."""
    out: list[TraversalArrays] = []
    usable = match.chain >= 0
    if match.moving_follower is not None:
        usable &= ~match.moving_follower
    for chain in np.unique(match.chain[usable]):
        idx = np.flatnonzero(usable & (match.chain == chain))
        first = 0
        route: list[int] = [int(match.segment[idx[0]])]
        starts = [0.0]
        pos = np.zeros(len(idx))
        pos[0] = match.offset_m[idx[0]]
        for k in range(1, len(idx)):
            i = idx[k]
            path = match.paths.get(i, [int(match.segment[i])])
            grow = route_growth(path, route[-1])
            if grow is None:  # as TraversalTracker: the route starts afresh at this fix
                out.append(_run_traversals(pos[first:k], t[idx[first:k]], route, starts,
                                           length_m, is_bus, rules, reverse))  # fmt: skip
                first, route, starts = k, [int(match.segment[i])], [0.0]
                pos[k] = match.offset_m[i]
                continue
            for seg in grow:
                starts.append(starts[-1] + length_m[route[-1]])
                route.append(int(seg))
            pos[k] = starts[-1] + match.offset_m[i] if match.segment[i] == route[-1] else (
                pos[k - 1])  # fmt: skip
        out.append(_run_traversals(pos[first:], t[idx[first:]], route, starts, length_m,
                                   is_bus, rules, reverse))  # fmt: skip
    return concat(out)


def _run_traversals(
    pos: np.ndarray, times: np.ndarray, route: list[int], starts: list[float],
    length_m: np.ndarray, is_bus: bool, rules: DwellRules, reverse: np.ndarray | None,
) -> TraversalArrays:  # fmt: skip
    """Traversals of one run of fixes along ``route`` (segments starting at route positions
    ``starts``; fixes at route positions ``pos``, m, times s)."""
    if len(pos) < 2:
        return EMPTY
    pos = np.maximum.accumulate(pos)
    seg_start = np.array(starts)
    route_a = np.array(route)
    full = (seg_start >= pos[0]) & (seg_start + length_m[route_a] <= pos[-1])
    if reverse is not None:  # beside a turn back (as _beside_turn, for the whole route)
        twin = reverse[route_a]
        nxt, prv = np.r_[route_a[1:], -1], np.r_[-1, route_a[:-1]]
        full &= ~((twin >= 0) & ((nxt == twin) | (prv == twin)))
    if not full.any():
        return EMPTY
    return segment_traversals(pos, times, route_a[full], seg_start[full], length_m,
                              is_bus=is_bus, rules=rules)  # fmt: skip


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
    before: int = -1  # the segment completed before route[0] in this chain (−1: none)
    still_since: float = math.nan  # when the vehicle last stopped moving (NaN: it moves)
    # the space-time cell the vehicle is in, summed until it leaves (segment −1: none)
    cell_seg: int = -1
    cell_minute: float = math.nan
    cell_d: float = 0.0  # metres
    cell_t: float = 0.0  # seconds

    def add(
        self, chain: int, t: float, segment: int, offset_m: float, path: list[int],
        length_m: np.ndarray, *, is_bus: bool, rules: DwellRules,
        reverse: np.ndarray | None = None,
    ) -> TraversalArrays:  # fmt: skip
        """Add one decided fix; returns the traversals it completes."""
        job = self.add_job(chain, t, segment, offset_m, path, length_m, is_bus=is_bus,
                           reverse=reverse)  # fmt: skip
        return EMPTY if job is None else traversals_of_jobs([job], length_m, rules=rules)[0]

    def add_job(
        self, chain: int, t: float, segment: int, offset_m: float, path: list[int],
        length_m: np.ndarray, *, is_bus: bool, owner: object = None, report: bool = True,
        reverse: np.ndarray | None = None,
        cells: list[tuple[int, float, float, float]] | None = None,
        max_still_s: float = math.inf,
    ) -> TraversalJob | None:  # fmt: skip
        """Add one decided fix; returns the segments it completes, to be computed in bulk
        with :func:`traversals_of_jobs` (``None`` when it completes none, or when not
        ``report``); segments beside a turn back are left out when ``reverse`` gives the
        segments' twins. ``cells``: collects the space-time cells the vehicle has left, each
        (segment, minute start s, distance m, time s) summed over the fixes it
        spent there (:mod:`analytics.space_mean`; :meth:`flush_cell` gives the one it is in),
        standing time only for the first ``max_still_s`` of a standstill (longer: parked,
        not queued)."""
        if segment < 0:
            return None  # unmatched fixes do not break the chain
        if chain != self.chain or not self.times:
            if cells is not None:
                self.flush_cell(cells)
            self.chain = chain
            self.before = -1
            self.route, self.starts = [segment], [0.0]
            self.last_segment, self.last_start = segment, 0.0
            self.end = float(length_m[segment])
            self.times, self.pos = [t], [offset_m]
            self.first_pos = offset_m
            return None
        if not path:
            path = [segment]
        grow = route_growth(path, self.last_segment)
        if grow is None:  # left a segment it was seen back on another way: start afresh
            self.chain = -1
            return self.add_job(chain, t, segment, offset_m, path, length_m, is_bus=is_bus,
                                owner=owner, report=report, reverse=reverse, cells=cells,
                                max_still_s=max_still_s)  # fmt: skip
        for seg in grow:
            self.starts.append(self.end)
            self.route.append(int(seg))
            self.last_segment, self.last_start = int(seg), self.end
            self.end += float(length_m[seg])
        pos = self.pos
        # a fix seen back behind the route's end (path_between's [seg]) holds its position
        p = self.last_start + offset_m if segment == self.last_segment else pos[-1]
        if p <= pos[-1]:
            p = pos[-1]
        if cells is not None:
            t0, p0, t1 = self.times[-1], pos[-1], t
            if p > p0:
                self.still_since = math.nan
            else:
                if self.still_since != self.still_since:  # NaN: it was moving
                    self.still_since = t0
                t1 = min(t1, self.still_since + max_still_s)
            minute = t0 - t0 % 60.0
            if t1 <= minute + 60.0 and p0 >= self.last_start:
                # within one minute on the route's last segment (p ≤ its end): most often
                if t1 <= t0:
                    pass
                elif self.cell_seg == self.last_segment and self.cell_minute == minute:
                    self.cell_d += p - p0
                    self.cell_t += t1 - t0
                else:
                    self.flush_cell(cells)
                    self.cell_seg, self.cell_minute = self.last_segment, minute
                    self.cell_d, self.cell_t = p - p0, t1 - t0
            else:
                self._cells(cells, t0, p0, t1, p)
        if p == pos[-1] and len(pos) >= 2 and pos[-2] == p:
            self.times[-1] = t  # a standstill: its first and last fix say it all
            return None
        self.times.append(t)
        pos.append(p)
        starts, n = self.starts, len(self.route)
        if (starts[1] if n > 1 else self.end) > p:
            return None  # still on the first pending segment
        done = 0  # segments whose end (the next one's start) the vehicle has reached
        while done < n and (starts[done + 1] if done + 1 < n else self.end) <= p:
            done += 1
        if not done:
            return None
        first = self.first_pos  # segments entered before the first fix are not complete
        route = self.route
        full = [i for i in range(done)
                if starts[i] >= first and not _beside_turn(route, i, reverse, self.before)]
        job = None
        if full and report:
            job = TraversalJob(self.pos[:], self.times[:], [self.route[i] for i in full],
                               [starts[i] for i in full], is_bus, owner)  # fmt: skip
        self.before = route[done - 1]
        del self.route[:done], self.starts[:done]
        # keep the fixes from the last one before the next pending segment's start
        nxt = self.starts[0] if self.route else self.end
        keep = max(bisect_left(self.pos, nxt) - 1, 0)
        del self.times[:keep], self.pos[:keep]
        return job

    def _cells(self, out: list[tuple[int, float, float, float]], t0: float, p0: float,
               t1: float, p1: float) -> None:  # fmt: skip
        """Add the interval from (``t0``, ``p0``) to (``t1``, ``p1``) to the vehicle's cells;
        append those it left to ``out``."""
        if t1 <= t0:
            return
        if self.route:
            pieces = interval_cells(t0, p0, t1, p1, self.route, self.starts)
        else:  # every segment of the route completed: it stands at the end of the last one
            pieces = interval_cells(t0, p0, t1, p1, [self.last_segment], [self.last_start])
        for seg, minute, d, dt in pieces:
            if seg == self.cell_seg and minute == self.cell_minute:
                self.cell_d += d
                self.cell_t += dt
                continue
            self.flush_cell(out)
            self.cell_seg, self.cell_minute = seg, minute
            self.cell_d, self.cell_t = d, dt

    def flush_cell(self, out: list[tuple[int, float, float, float]]) -> None:
        """Append the cell the vehicle is in (if any) to ``out`` and close it."""
        if self.cell_seg >= 0:
            out.append((self.cell_seg, self.cell_minute, self.cell_d, self.cell_t))
            self.cell_seg = -1

    def ahead(
        self, fixes: Iterable[tuple[int, float, int, float, list[int]]], length_m: np.ndarray
    ) -> TraversalTracker:
        """A copy of this cursor with more fixes (chain, time, segment, offset, path) added,
        e.g. the matcher's current best hypothesis for the fixes it has not decided yet
        (:meth:`analytics.mapmatch.fleet.FleetMatcher.tentative`); this cursor is left as it
        is and the segments they complete are not reported."""
        times, pos = self.times[:], self.pos[:]
        # route and starts are shared until add_job may change them
        c = TraversalTracker(self.chain, self.first_pos, times, pos, self.route, self.starts,
                             self.last_segment, self.last_start, self.end,
                             self.before)  # fmt: skip
        shared = True
        for chain, t, segment, offset_m, path in fixes:
            if (len(path) == 1 and path[0] == segment == c.last_segment and chain == c.chain
                    and pos and len(c.route) == 1):  # fmt: skip
                # add_job on the one pending segment, without what it does for completions
                p = c.last_start + offset_m
                if p <= pos[-1]:
                    p = pos[-1]
                    if len(pos) >= 2 and pos[-2] == p:
                        times[-1] = t
                        continue
                if p < c.end:
                    times.append(t)
                    pos.append(p)
                    continue
            if shared:
                c.route, c.starts, shared = self.route[:], self.starts[:], False
            c.add_job(chain, t, segment, offset_m, path, length_m, is_bus=False, report=False)
            times, pos = c.times, c.pos
        return c

    def position(
        self, still_m: float, still_mps: float = 0.7, crawl_mps: float = 0.0,
        crawl_intervals: int = 2, long_stop_s: float = np.inf,
    ) -> tuple[int, float, bool, float, float, float, float, float, float] | None:  # fmt: skip
        """Where the vehicle is as of its last fix (read-only; seconds, metres):
        (segment, entry time — its first fix on the segment when the entry was not seen —,
        entry seen, offset of that first position, last fix time, offset of the last fix,
        time it has not moved more than ``still_m``, time on the segment in fix intervals
        slower than ``still_mps`` (standing, as a traversal's dwell), and its moving time
        (intervals at least ``still_mps``) within the longest stretch up to the last fix whose
        average pace is below ``crawl_mps`` and which holds at least ``crawl_intervals``
        moving intervals (crawling; 0 otherwise, so one slow interval is never a crawl
        whatever the sampling rate) and no standstill of ``long_stop_s`` or more (a long
        stop ends the stretch: its standing time would make the pace of moving off look
        like a crawl)). ``None`` before the first fix or when it stands exactly at the end
        of its route."""
        times, pos, starts = self.times, self.pos, self.starts
        if not times or not self.route:
            return None
        p, t = pos[-1], times[-1]
        i = max(bisect_right(starts, p) - 1, 0) if len(starts) > 1 else 0
        start = starts[i]
        if self.first_pos > start:  # the chain began on this segment
            entry_t, seen, entry_off = times[0], False, pos[0] - start
        else:
            k = bisect_left(pos, start)
            if k == 0:
                entry_t = times[0]
            else:
                a, b = pos[k - 1], pos[k]
                entry_t = times[k - 1] + (start - a) / (b - a) * (times[k] - times[k - 1])
            seen, entry_off = True, 0.0
        still = t - times[bisect_left(pos, p - still_m)]
        dwell = moving = crawl = standing = 0.0
        n_moving = 0
        stretch = True  # the crawl stretch may still grow backwards
        for j in range(len(pos) - 2, -1, -1):
            t0, t1 = times[j], times[j + 1]
            dt = t1 - t0
            if pos[j + 1] - pos[j] >= still_mps * dt:
                moving += dt
                n_moving += 1
                standing = 0.0
            else:
                standing += dt
                stretch = stretch and standing < long_stop_s
                if t1 > entry_t:
                    dwell += t1 - max(t0, entry_t)
            if stretch and n_moving >= crawl_intervals and p - pos[j] <= crawl_mps * (t - t0):
                crawl = moving
        return self.route[i], entry_t, seen, entry_off, t, p - start, still, dwell, crawl
