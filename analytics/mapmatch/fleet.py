"""Online map matching of a whole fleet at once: the trellis of every vehicle in padded arrays.

Gives exactly the decisions of :class:`analytics.mapmatch.online.OnlineMatcher`
(with ``max_followers=1``), but steps many vehicles together: a call to
:meth:`FleetMatcher.push` takes one fix each of many distinct vehicles (a
"round") and runs candidate emission, the Viterbi step, breaks and the
fixed-lag decisions for all of them with a handful of numpy calls. Each
vehicle owns a slot in :class:`FleetState`: up to ``lag + 1`` trellis columns
of ``K`` candidates (padding has score −inf). Per-fix Python is left only for
emitting decided fixes and their paths. Metric CRS of the network; metres,
seconds, km/h.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from analytics.mapmatch.candidates import Candidates
from analytics.mapmatch.hmm import NEG_INF, MapMatcher

Decided = tuple[int, float, int, float, list[int], int, bool]
"""A decided fix: (slot, time s, segment, offset m, path from the previous decided fix of the
chain (both ends), chain number, moving follower). Unmatched fixes are not emitted."""

Pending = tuple[int, float, int, float, list[int]]
"""A pending fix at the matcher's current best hypothesis, as a traversal cursor takes it:
(chain number, time s, segment, offset m, path from the previous fix of the chain)."""


@dataclass
class PaddedCandidates:
    """Candidates of ``n`` fixes padded to ``K`` columns (``count`` real ones per fix)."""

    segment: np.ndarray  # int64 [n, K], −1 padding
    offset_m: np.ndarray  # float [n, K]
    distance_m: np.ndarray  # float [n, K], inf padding
    bearing_deg: np.ndarray  # float [n, K]
    count: np.ndarray  # int [n]

    @classmethod
    def from_flat(cls, cands: Candidates, n: int, k: int) -> PaddedCandidates:
        """Pad the flat candidates of fixes ``0..n-1`` (sorted by fix) to ``k`` per fix."""
        first = np.searchsorted(cands.fix, np.arange(n + 1))
        rank = np.arange(len(cands.fix)) - first[cands.fix]
        seg = np.full((n, k), -1, np.int64)
        off = np.zeros((n, k))
        dist = np.full((n, k), np.inf)
        bearing = np.zeros((n, k))
        idx = (cands.fix, rank)
        seg[idx], off[idx] = cands.segment, cands.offset_m
        dist[idx], bearing[idx] = cands.distance_m, cands.bearing_deg
        return cls(seg, off, dist, bearing, np.diff(first))

    def take(self, rows: np.ndarray) -> PaddedCandidates:
        """The candidates of some fixes."""
        return PaddedCandidates(self.segment[rows], self.offset_m[rows], self.distance_m[rows],
                                self.bearing_deg[rows], self.count[rows])  # fmt: skip


class FleetState:
    """Trellis columns of many vehicles, one slot each (numpy arrays, grown by doubling)."""

    def __init__(self, columns: int, k: int, capacity: int = 64) -> None:
        self.columns, self.k = columns, k
        self.free: list[int] = []
        self.used = 0
        self._alloc(capacity)

    def _alloc(self, cap: int) -> None:
        c, k = self.columns, self.k
        old = {name: getattr(self, name) for name in _FIELDS if hasattr(self, name)}
        self.in_use = np.zeros(cap, bool)
        self.n_cols = np.zeros(cap, np.int64)
        self.chain = np.zeros(cap, np.int64)
        self.last_t = np.full(cap, -np.inf)
        self.has_dec = np.zeros(cap, bool)
        self.dec_seg = np.full(cap, -1, np.int64)
        self.dec_off = np.zeros(cap)
        self.seg = np.full((cap, c, k), -1, np.int64)
        self.off = np.zeros((cap, c, k))
        self.score = np.full((cap, c, k), NEG_INF)
        self.back = np.full((cap, c, k), -1, np.int8)
        self.ct = np.zeros((cap, c))
        self.cx = np.zeros((cap, c))
        self.cy = np.zeros((cap, c))
        self.cv = np.full((cap, c), np.nan)  # the column's reported speed, km/h
        self.fol = np.zeros((cap, c), bool)  # the column has a follower (its latest one)
        self.fol_t = np.zeros((cap, c))
        self.fol_moving = np.zeros((cap, c), bool)
        for name, arr in old.items():
            getattr(self, name)[: len(arr)] = arr

    def __setstate__(self, state: dict) -> None:
        """Unpickle, also a state stored before columns kept their reported speed."""
        self.__dict__.update(state)
        if "cv" not in state:
            self.cv = np.full(self.ct.shape, np.nan)

    @property
    def capacity(self) -> int:
        return len(self.n_cols)

    def add(self) -> int:
        """A fresh slot."""
        if self.free:
            slot = self.free.pop()
        else:
            if self.used == self.capacity:
                self._alloc(2 * self.capacity)
            slot = self.used
            self.used += 1
        self.in_use[slot] = True
        self.n_cols[slot] = 0
        self.chain[slot] = 0
        self.last_t[slot] = -np.inf
        self.has_dec[slot] = False
        return slot

    def remove(self, slot: int) -> None:
        """Give a slot back (its vehicle was closed)."""
        self.in_use[slot] = False
        self.free.append(slot)


_COLUMN_FIELDS = ("seg", "off", "score", "back", "ct", "cx", "cy", "cv", "fol", "fol_t",
                  "fol_moving")  # fmt: skip
_FIELDS = ("in_use", "n_cols", "chain", "last_t", "has_dec", "dec_seg", "dec_off", *_COLUMN_FIELDS)


class FleetMatcher:
    """Steps many vehicles of a :class:`FleetState` through a :class:`MapMatcher` together."""

    def __init__(self, matcher: MapMatcher, *, lag: int = 4) -> None:
        self.m = matcher
        self.lag = lag

    def new_state(self) -> FleetState:
        return FleetState(self.lag + 1, self.m.p.max_candidates)

    # -- one round -----------------------------------------------------------------------
    def push(
        self, st: FleetState, slots: np.ndarray, t: np.ndarray, x: np.ndarray, y: np.ndarray,
        heading: np.ndarray, speed: np.ndarray, cands: PaddedCandidates,
    ) -> tuple[np.ndarray, list[Decided]]:  # fmt: skip
        """Add one fix each of distinct vehicles (``slots``); returns (stale mask, decided).

        Stale fixes (not newer than the vehicle's last one) are skipped; fixes without
        candidates leave the vehicle's state as it is.
        """
        p = self.m.p
        stale = t <= st.last_t[slots]
        live = ~stale & (cands.count > 0)
        out: list[Decided] = []
        if not live.any():
            return stale, out
        s = slots[live]
        t, x, y, heading, speed = t[live], x[live], y[live], heading[live], speed[live]
        cands = cands.take(np.flatnonzero(live))
        n = st.n_cols[s]
        last = np.maximum(n - 1, 0)
        near = (n > 0) & (t - st.ct[s, last] <= p.max_gap_s)
        moved = np.hypot(x - st.cx[s, last], y - st.cy[s, last])
        standing = ((speed < p.moving_kmh) & (st.cv[s, last] < p.moving_kmh)
                    & (t - st.ct[s, last] >= p.standing_column_s))  # as MapMatcher
        follow = near & (moved < p.min_step_sigmas * p.sigma_m) & ~standing
        if follow.any():
            fs, fl = s[follow], last[follow]
            st.fol[fs, fl] = True
            st.fol_t[fs, fl] = t[follow]
            st.fol_moving[fs, fl] = speed[follow] >= p.moving_kmh
        step = ~follow
        st.last_t[s] = t
        if not step.any():
            return stale, out
        s, n, last, near = s[step], n[step], last[step], near[step]
        t, x, y = t[step], x[step], y[step]
        cands = cands.take(np.flatnonzero(step))
        v = speed[step]
        log_e = self._emission(cands, heading[step], v)
        score = log_e
        back = np.full(log_e.shape, -1, np.int64)
        ok = np.zeros(len(s), bool)
        if near.any():
            ns = np.flatnonzero(near)
            sc, bk, good = self._step(st, s[ns], last[ns], t[ns], x[ns], y[ns], v[ns],
                                      cands.take(ns), log_e[ns])  # fmt: skip
            ok[ns] = good
            score = score.copy()
            score[ns[good]], back[ns[good]] = sc[good], bk[good]
        restart = ~ok
        if restart.any():  # a break, or the vehicle's first fix: decide what is pending
            rs = s[restart]
            had = (st.n_cols[rs] > 0) | st.has_dec[rs]
            out.extend(self._decide_all(st, rs))
            st.chain[rs] += had
            st.has_dec[rs] = False
        col = np.where(restart, 0, n)
        self._write_column(st, s, col, t, x, y, v, cands, score, back)
        st.n_cols[s] = col + 1
        full = s[st.n_cols[s] > self.lag]
        if len(full):
            out.extend(self._decide_oldest(st, full))
        return stale, out

    def flush(self, st: FleetState, slots: np.ndarray) -> list[Decided]:
        """Decide everything pending of some vehicles (end of stream, or they went quiet)."""
        return self._decide_all(st, np.asarray(slots, np.int64))

    # -- building blocks -----------------------------------------------------------------
    def _emission(self, c: PaddedCandidates, heading: np.ndarray, speed: np.ndarray) -> np.ndarray:
        """Log emission of padded candidates (−inf padding), as ``MapMatcher.emission``."""
        log_e = self.m.emission_of(c.distance_m, c.bearing_deg, heading[:, None],
                                   speed[:, None])  # fmt: skip
        log_e[c.segment < 0] = NEG_INF
        return log_e

    def _step(
        self, st: FleetState, s: np.ndarray, last: np.ndarray, t: np.ndarray, x: np.ndarray,
        y: np.ndarray, v: np.ndarray, c: PaddedCandidates, log_e: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """Viterbi step from each vehicle's last column, as ``MapMatcher.step``."""
        mm = self.m
        dt = np.maximum(t - st.ct[s, last], 1e-3)
        gc = np.hypot(x - st.cx[s, last], y - st.cy[s, last])
        va, p = st.cv[s, last], mm.p
        gc = np.where((va < p.moving_kmh) & (v < p.moving_kmh), 0.0, gc)
        moving = (va >= p.moving_kmh) & (v >= p.moving_kmh)
        seg_a, off_a, score_a = st.seg[s, last], st.off[s, last], st.score[s, last]
        seg_b, off_b = c.segment, c.offset_m
        ia, ja, jb = np.nonzero((seg_a >= 0)[:, :, None] & (seg_b >= 0)[:, None, :])
        via = np.full((len(s), seg_a.shape[1], seg_b.shape[1]), np.inf)  # padding: no route
        via[ia, ja, jb] = mm.dist.lookup(mm.to[seg_a[ia, ja]], mm.frm[seg_b[ia, jb]])
        log_t = mm.transition_log(seg_a[:, :, None], off_a[:, :, None], seg_b[:, None, :],
                                  off_b[:, None, :], via, gc[:, None, None],
                                  dt[:, None, None],
                                  moving[:, None, None])  # fmt: skip
        total = score_a[:, :, None] + log_t
        best = np.argmax(total, axis=1)
        score = np.take_along_axis(total, best[:, None, :], axis=1)[:, 0, :] + log_e
        return score, best, np.isfinite(score).any(axis=1)

    @staticmethod
    def _write_column(
        st: FleetState, s: np.ndarray, col: np.ndarray, t: np.ndarray, x: np.ndarray,
        y: np.ndarray, v: np.ndarray, c: PaddedCandidates, score: np.ndarray,
        back: np.ndarray,
    ) -> None:  # fmt: skip
        st.seg[s, col], st.off[s, col] = c.segment, c.offset_m
        st.score[s, col], st.back[s, col] = score, back
        st.ct[s, col], st.cx[s, col], st.cy[s, col], st.cv[s, col] = t, x, y, v
        st.fol[s, col] = False

    # -- decisions -----------------------------------------------------------------------
    def _picks(self, st: FleetState, s: np.ndarray) -> np.ndarray:
        """Best-path candidate of every pending column of vehicles ``s`` (−1 past the end)."""
        n = st.n_cols[s]
        k = np.argmax(st.score[s, np.maximum(n - 1, 0)], axis=1)
        picks = np.full((len(s), st.columns), -1, np.int64)
        for c in range(int(n.max(initial=0)) - 1, -1, -1):
            here = c < n
            picks[here, c] = k[here]
            b = st.back[s, c, k].astype(np.int64)
            k = np.where(here, np.where(b >= 0, b, 0), k)
        return picks

    def _emit(self, st: FleetState, s: np.ndarray, c: np.ndarray, k: np.ndarray) -> list[Decided]:
        """Decide column ``c`` of vehicle ``s`` as candidate ``k`` (aligned arrays, each
        vehicle's columns in order); updates the vehicles' last decided positions."""
        out: list[Decided] = []
        seg, off = st.seg[s, c, k].tolist(), st.off[s, c, k].tolist()
        ct, fol = st.ct[s, c].tolist(), st.fol[s, c].tolist()
        fol_t, fol_mv = st.fol_t[s, c].tolist(), st.fol_moving[s, c].tolist()
        chain = st.chain[s].tolist()
        before = zip(s.tolist(), st.has_dec[s].tolist(), st.dec_seg[s].tolist(),
                     st.dec_off[s].tolist(), strict=True)  # fmt: skip
        prev: dict[int, tuple[int, float] | None] = {
            slot: (d_seg, d_off) if has else None for slot, has, d_seg, d_off in before
        }
        path_between = self.m.path_between
        for i, slot in enumerate(s.tolist()):
            last = prev[slot]
            path = [] if last is None else path_between(last[0], last[1], seg[i], off[i])
            prev[slot] = (seg[i], off[i])
            out.append((slot, ct[i], seg[i], off[i], path, chain[i], False))
            if fol[i]:
                out.append((slot, fol_t[i], seg[i], off[i], [seg[i]], chain[i], fol_mv[i]))
        slots = np.fromiter(prev, np.int64, len(prev))
        st.has_dec[slots] = True
        st.dec_seg[slots] = [v[0] for v in prev.values()]  # type: ignore[index]
        st.dec_off[slots] = [v[1] for v in prev.values()]  # type: ignore[index]
        return out

    def _decide_all(self, st: FleetState, s: np.ndarray) -> list[Decided]:
        s = s[st.n_cols[s] > 0]
        if not len(s):
            return []
        picks = self._picks(st, s)
        n = st.n_cols[s]
        rows = np.repeat(np.arange(len(s)), n)
        cols = np.arange(len(rows)) - np.repeat(np.cumsum(n) - n, n)
        out = self._emit(st, s[rows], cols, picks[rows, cols])
        st.n_cols[s] = 0
        return out

    def tentative(
        self, st: FleetState, slots: np.ndarray, until_t: float = np.inf
    ) -> dict[int, list[Pending]]:
        """The current best hypothesis for the pending (undecided) fixes of vehicles ``slots``:
        the best candidate of each vehicle's newest column, backtracked through its trellis —
        what :meth:`flush` would decide now — without deciding anything (the state is left as
        it is). Later fixes may still change these positions, but they depend only on the
        state, so a replay of the same fixes gives the same ones. Per slot, in time order, the
        fixes a cursor uses (moving followers left out) taken at or before ``until_t`` (s),
        with their paths from the vehicle's last decided fix of the chain."""
        s = np.asarray(slots, np.int64)
        s = s[st.n_cols[s] > 0]
        if not len(s):
            return {}
        picks = self._picks(st, s)
        n = st.n_cols[s]
        rows = np.repeat(np.arange(len(s)), n)
        c = np.arange(len(rows)) - np.repeat(np.cumsum(n) - n, n)
        ss = s[rows]
        k = picks[rows, c]
        seg, off, ct = st.seg[ss, c, k], st.off[ss, c, k], st.ct[ss, c]
        # the previous position of each fix: the vehicle's last decided one for its first
        prev_seg, prev_off = np.roll(seg, 1), np.roll(off, 1)
        first = c == 0
        prev_seg[first] = np.where(st.has_dec[ss[first]], st.dec_seg[ss[first]], -1)
        prev_off[first] = st.dec_off[ss[first]]
        back = self.m.backward_m(np.maximum(prev_seg, 0), prev_off, seg, off)
        # where path_between gives [seg]: ahead on the same segment, or a step back
        stay = ((seg == prev_seg) & (off >= prev_off)) | ((prev_seg >= 0) & np.isfinite(back))
        # entries in time order: each column, then its (standing) follower
        fol = st.fol[ss, c] & ~st.fol_moving[ss, c] & (st.fol_t[ss, c] <= until_t)
        use_col = ct <= until_t
        use = np.stack([use_col, use_col & fol], axis=1).ravel()
        idx = np.flatnonzero(use)
        row, is_fol = idx // 2, (idx % 2).astype(bool)
        segs = seg[row].tolist()
        paths: list[list[int]] = [[g] for g in segs]
        path_between = self.m.path_between
        for j in np.flatnonzero(~is_fol & ~stay[row]).tolist():
            i = int(row[j])
            ps = int(prev_seg[i])
            paths[j] = [] if ps < 0 else path_between(ps, float(prev_off[i]), segs[j],
                                                      float(off[i]))  # fmt: skip
        times = np.where(is_fol, st.fol_t[ss, c][row], ct[row]).tolist()
        entries = list(zip(st.chain[ss][row].tolist(), times, segs, off[row].tolist(), paths,
                           strict=True))  # fmt: skip
        owner = ss[row]
        bounds = [*np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]).tolist(), len(row)]
        return {int(owner[a]): entries[a:b] for a, b in pairwise(bounds) if b > a}

    def _decide_oldest(self, st: FleetState, s: np.ndarray) -> list[Decided]:
        """Decide column 0 of vehicles with ``lag + 1`` columns; prune and shift the rest."""
        k0 = self._picks(st, s)[:, 0]
        out = self._emit(st, s, np.zeros(len(s), np.int64), k0)
        alive = np.zeros((len(s), st.k), bool)
        alive[np.arange(len(s)), k0] = True
        n = st.columns
        for c in range(1, n):
            b = st.back[s, c].astype(np.int64)
            ok = np.take_along_axis(alive, np.maximum(b, 0), axis=1) & (b >= 0)
            st.score[s, c] = np.where(ok, st.score[s, c], NEG_INF)
            alive = ok
        for name in _COLUMN_FIELDS:
            arr = getattr(st, name)
            arr[s, : n - 1] = arr[s, 1:]
        st.back[s, 0] = -1  # the new first column starts the trellis
        st.n_cols[s] -= 1
        return out
