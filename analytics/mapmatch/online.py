"""Online (streaming) map matching: per-vehicle trellis with a fixed decision lag.

Each vehicle keeps the trellis columns of its undecided fixes. When more than
``lag`` columns are pending, the oldest is decided from the currently best path
and emitted; candidates of later columns that no longer descend from the decided
one are pruned, so later decisions stay consistent with earlier ones. A break
(gap, impossible transition) decides the whole pending chain at once. Fixes
within 2 sigma of the previous one follow its match, as offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analytics.mapmatch.candidates import Candidates
from analytics.mapmatch.hmm import NEG_INF, Column, MapMatcher


@dataclass
class MatchedFix:
    """A decided fix: its key, segment/offset (−1/NaN when unmatched), path from the previous
    decided fix of the same chain (segment indices, both ends), and chain number."""

    key: object
    t: float
    segment: int
    offset_m: float
    path: list[int]
    chain: int
    moving_follower: bool = False  # see ``TrackMatch.moving_follower``


@dataclass
class VehicleState:
    """What the online matcher remembers about one vehicle."""

    columns: list[Column] = field(default_factory=list)
    keys: dict[int, tuple[object, float, bool]] = field(default_factory=dict)
    """fix id → (caller's key, time, moving by its reported speed)"""
    chain: int = 0
    last_t: float = -np.inf
    last_decided: tuple[int, float] | None = None
    next_id: int = 0


class OnlineMatcher:
    """Streams fixes of many vehicles through a :class:`MapMatcher`.

    ``max_followers`` bounds the memory of a vehicle standing still: only its latest
    fixes within 2 sigma of the standing position are kept (and decided).
    """

    def __init__(
        self, matcher: MapMatcher, *, lag: int = 4, max_followers: int | None = None
    ) -> None:
        self.m = matcher
        self.lag = lag
        self.max_followers = max_followers

    def push(
        self, state: VehicleState, key: object, t: float, x: float, y: float,
        heading: float, speed: float, cands: Candidates, sl: slice,
    ) -> list[MatchedFix]:  # fmt: skip
        """Add one fix (its candidates are ``cands[sl]``); returns the fixes decided now."""
        out: list[MatchedFix] = []
        if t <= state.last_t:
            return out  # duplicate or out of order: the stream has moved on
        p = self.m.p
        fid = state.next_id
        state.next_id += 1
        state.keys[fid] = (key, t, bool(speed >= p.moving_kmh))
        if sl.start == sl.stop:
            out.append(MatchedFix(key, t, -1, np.nan, [], state.chain))
            state.keys.pop(fid)
            return out
        cols = state.columns
        near = bool(cols) and t - cols[-1].t <= p.max_gap_s
        standing = bool(cols) and (speed < p.moving_kmh and cols[-1].speed < p.moving_kmh
                                   and t - cols[-1].t >= p.standing_column_s)  # fmt: skip
        if (near and not standing
                and np.hypot(x - cols[-1].x, y - cols[-1].y) < p.min_step_sigmas * p.sigma_m):
            followers = cols[-1].followers
            if self.max_followers is not None and len(followers) >= self.max_followers:
                state.keys.pop(followers.pop(0))  # a long standstill keeps its latest fixes
            followers.append(fid)
            state.last_t = t
            return out
        col = Column(fid, t, x, y, cands.segment[sl], cands.offset_m[sl], np.zeros(0),
                     np.full(sl.stop - sl.start, -1), speed=float(speed))  # fmt: skip
        log_e = self.m.emission(cands, sl, heading, speed)
        if not (near and self.m.step(cols[-1], col, log_e)):
            out.extend(self._decide_all(state))
            if cols or state.last_decided is not None:
                state.chain += 1
            state.last_decided = None
            col.score = log_e
            state.columns = [col]
        else:
            cols.append(col)
        state.last_t = t
        while len(state.columns) > self.lag:
            out.extend(self._decide_oldest(state))
        return out

    def flush(self, state: VehicleState) -> list[MatchedFix]:
        """Decide everything pending (end of stream, or the vehicle went quiet)."""
        return self._decide_all(state)

    # -- decisions ---------------------------------------------------------------------
    def _best_path(self, cols: list[Column]) -> list[int]:
        k = int(np.argmax(cols[-1].score))
        picks = []
        for col in reversed(cols):
            picks.append(k)
            k = int(col.back[k]) if col.back[k] >= 0 else 0
        return picks[::-1]

    def _emit(self, state: VehicleState, col: Column, k: int) -> list[MatchedFix]:
        seg, off = int(col.seg[k]), float(col.off[k])
        path = []
        if state.last_decided is not None:
            path = self.m.path_between(*state.last_decided, seg, off)
        state.last_decided = (seg, off)
        out = [MatchedFix(state.keys.pop(col.fix)[0], col.t, seg, off, path, state.chain)]
        for f in col.followers:
            key, t, moving = state.keys.pop(f)
            out.append(MatchedFix(key, t, seg, off, [seg], state.chain, moving))
        return out

    def _decide_oldest(self, state: VehicleState) -> list[MatchedFix]:
        cols = state.columns
        k = self._best_path(cols)[0]
        out = self._emit(state, cols[0], k)
        # keep only the descendants of the decided candidate
        alive = np.zeros(len(cols[0].seg), bool)
        alive[k] = True
        for col in cols[1:]:
            ok = alive[col.back] & (col.back >= 0)
            col.score = np.where(ok, col.score, NEG_INF)
            alive = ok
        cols[1].back = np.full_like(cols[1].back, -1)  # the new first column starts the trellis
        state.columns = cols[1:]
        return out

    def _decide_all(self, state: VehicleState) -> list[MatchedFix]:
        cols = state.columns
        if not cols:
            return []
        out: list[MatchedFix] = []
        for col, k in zip(cols, self._best_path(cols), strict=True):
            out.extend(self._emit(state, col, k))
        state.columns = []
        return out
