"""Newson & Krumm HMM map matching with an upper-bounded distance table.

States are candidate positions (segment, offset) near each fix. Emission:
Gaussian in the GPS distance (``sigma_m``), times a heading agreement term
when the vehicle moves. Transition: exponential in the difference between
the network route length and the straight-line distance of consecutive fixes
(``beta_m``); routes longer than the bound or implying more than
``max_speed_kmh`` are impossible. A chain breaks (and restarts) at a gap
longer than ``max_gap_s`` or when no transition is possible; fixes without
candidates are left unmatched without breaking the chain, and a fix within
``min_step_sigmas`` × sigma of the previous one takes that one's match (dense
sampling adds noise, not information). All geometry in the
network's metric CRS; distances metres, times seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analytics.mapmatch.candidates import Candidates, find_candidates
from analytics.mapmatch.ubodt import BoundedDistances
from roadnet import model as m
from roadnet.model import RoadNetwork

NEG_INF = -np.inf


@dataclass(frozen=True)
class MatchParams:
    """Matcher settings (metres, seconds, km/h)."""

    sigma_m: float = 10.0
    beta_m: float = 30.0
    radius_m: float = 60.0
    max_candidates: int = 8
    max_speed_kmh: float = 160.0
    max_gap_s: float = 180.0
    bound_m: float = 3000.0
    heading_kappa: float = 1.5
    min_speed_for_heading_kmh: float = 8.0
    backward_tolerance_m: float = 15.0
    min_step_sigmas: float = 2.0
    moving_kmh: float = 5.0


@dataclass
class Column:
    """The trellis column of one fix."""

    fix: int
    t: float
    x: float
    y: float
    seg: np.ndarray
    off: np.ndarray
    score: np.ndarray
    back: np.ndarray  # index into the previous column, -1 at a chain start
    followers: list[int] = field(default_factory=list)  # fixes too close to step on their own


@dataclass
class TrackMatch:
    """Per-fix result of matching one vehicle's track (arrays aligned with the input)."""

    segment: np.ndarray
    offset_m: np.ndarray
    x: np.ndarray
    y: np.ndarray
    chain: np.ndarray  # chain number; a new chain starts after a break
    paths: dict[int, list[int]] = field(default_factory=dict)
    """For a matched fix i with a matched predecessor in its chain: the segments driven from
    the predecessor's segment to fix i's segment, both included."""
    moving_follower: np.ndarray | None = None
    """True for fixes that took the match of the fix they stayed near although their
    reported speed says the vehicle moved (e.g. across a sharp corner): their position
    is unknown, so traversal timing ignores them."""


class MapMatcher:
    """Matches tracks to ``network``; build once, reuse for many vehicles."""

    def __init__(
        self,
        network: RoadNetwork,
        params: MatchParams | None = None,
        distances: BoundedDistances | None = None,
    ) -> None:
        self.network = network
        self.p = params or MatchParams()
        self.dist = distances or BoundedDistances(network, bound_m=self.p.bound_m)
        seg = network.segments
        self.frm = seg[m.FROM_NODE].to_numpy(np.int64)
        self.to = seg[m.TO_NODE].to_numpy(np.int64)
        self.length = seg[m.LENGTH].to_numpy(float)

    # -- building blocks -----------------------------------------------------------------
    def candidates(self, x: np.ndarray, y: np.ndarray) -> Candidates:
        """Candidates of many fixes at once (bulk spatial query)."""
        return find_candidates(
            self.network, x, y, radius_m=self.p.radius_m, max_per_fix=self.p.max_candidates
        )

    def emission(self, cands: Candidates, sl: slice, heading: float, speed: float) -> np.ndarray:
        """Log emission probabilities of the candidates ``cands[sl]``."""
        d = cands.distance_m[sl]
        log_e = -0.5 * (d / self.p.sigma_m) ** 2
        if (
            np.isfinite(heading)
            and np.isfinite(speed)
            and speed >= self.p.min_speed_for_heading_kmh
        ):
            delta = np.radians(cands.bearing_deg[sl] - heading)
            log_e = log_e + self.p.heading_kappa * (np.cos(delta) - 1.0)
        return log_e

    def route_lengths(
        self, seg_a: np.ndarray, off_a: np.ndarray, seg_b: np.ndarray, off_b: np.ndarray
    ) -> np.ndarray:
        """Network distance (metres) from each position a to each position b (matrix)."""
        same = seg_a[:, None] == seg_b[None, :]
        ahead = off_b[None, :] - off_a[:, None]
        via = self.dist.lookup(self.to[seg_a][:, None], self.frm[seg_b][None, :])
        other = (self.length[seg_a] - off_a)[:, None] + via + off_b[None, :]
        stay = same & (ahead >= -self.p.backward_tolerance_m)
        return np.where(stay, np.maximum(ahead, 0.0), other)

    def step(self, prev: Column, new: Column, log_e: np.ndarray) -> bool:
        """Fill ``new.score``/``new.back`` from ``prev``; ``False`` if no transition is possible."""
        dt = max(new.t - prev.t, 1e-3)
        gc = float(np.hypot(new.x - prev.x, new.y - prev.y))
        d = self.route_lengths(prev.seg, prev.off, new.seg, new.off)
        log_t = -np.abs(d - gc) / self.p.beta_m
        too_far = (d > self.p.bound_m) | (d / dt * 3.6 > self.p.max_speed_kmh + 20.0)
        log_t = np.where(too_far | ~np.isfinite(d), NEG_INF, log_t)
        total = prev.score[:, None] + log_t
        best = np.argmax(total, axis=0)
        score = total[best, np.arange(total.shape[1])] + log_e
        if not np.isfinite(score).any():
            return False
        new.back = best
        new.score = score
        return True

    def path_between(self, seg_a: int, off_a: float, seg_b: int, off_b: float) -> list[int]:
        """Segments driven from position a to position b (both ends included)."""
        if seg_a == seg_b and off_b >= off_a - self.p.backward_tolerance_m:
            return [seg_a]
        middle = (
            []
            if self.to[seg_a] == self.frm[seg_b]
            else self.dist.path_segments(int(self.to[seg_a]), int(self.frm[seg_b]))
        )
        return [seg_a, *middle, seg_b]

    # -- offline matching ---------------------------------------------------------------
    def match_track(
        self,
        t: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        heading: np.ndarray | None = None,
        speed_kmh: np.ndarray | None = None,
    ) -> TrackMatch:
        """Match one vehicle's fixes (sorted by time ``t``, seconds; metric ``x``, ``y``)."""
        n = len(t)
        heading = np.full(n, np.nan) if heading is None else np.asarray(heading, float)
        speed_kmh = np.full(n, np.nan) if speed_kmh is None else np.asarray(speed_kmh, float)
        cands = self.candidates(x, y)
        bounds = np.searchsorted(cands.fix, np.arange(n + 1))
        moving_follower = np.zeros(n, bool)
        out = TrackMatch(
            segment=np.full(n, -1, np.int64), offset_m=np.full(n, np.nan),
            x=np.full(n, np.nan), y=np.full(n, np.nan), chain=np.full(n, -1, np.int64),
            moving_follower=moving_follower,
        )  # fmt: skip
        chain: list[Column] = []
        chain_no = 0
        for i in range(n):
            sl = slice(bounds[i], bounds[i + 1])
            if sl.start == sl.stop:
                continue  # an outlier or off-network fix: skip it, keep the chain
            col = Column(
                i, float(t[i]), float(x[i]), float(y[i]), cands.segment[sl],
                cands.offset_m[sl], np.zeros(0), np.full(sl.stop - sl.start, -1),
            )  # fmt: skip
            if chain and (col.t - chain[-1].t) <= self.p.max_gap_s:
                moved = np.hypot(col.x - chain[-1].x, col.y - chain[-1].y)
                if moved < self.p.min_step_sigmas * self.p.sigma_m:
                    # Newson & Krumm: a fix within 2 sigma of the last one adds noise, not
                    # information; it takes the match of the fix it stays near.
                    chain[-1].followers.append(i)
                    moving_follower[i] = speed_kmh[i] >= self.p.moving_kmh
                    continue
            log_e = self.emission(cands, sl, heading[i], speed_kmh[i])
            if (
                chain
                and (col.t - chain[-1].t) <= self.p.max_gap_s
                and self.step(chain[-1], col, log_e)
            ):
                chain.append(col)
                continue
            if chain:
                self._emit(chain, chain_no, cands, bounds, out)
                chain_no += 1
            col.score = log_e
            chain = [col]
        if chain:
            self._emit(chain, chain_no, cands, bounds, out)
        return out

    def _emit(
        self, chain: list[Column], chain_no: int, cands: Candidates, bounds: np.ndarray,
        out: TrackMatch,
    ) -> None:  # fmt: skip
        k = int(np.argmax(chain[-1].score))
        picks = []
        for col in reversed(chain):
            picks.append((col, k))
            k = int(col.back[k]) if col.back[k] >= 0 else 0
        picks.reverse()
        prev = None
        for col, k in picks:
            j = bounds[col.fix] + k
            out.segment[col.fix] = col.seg[k]
            out.offset_m[col.fix] = col.off[k]
            out.x[col.fix] = cands.x[j]
            out.y[col.fix] = cands.y[j]
            out.chain[col.fix] = chain_no
            for f in col.followers:
                out.segment[f], out.offset_m[f] = col.seg[k], col.off[k]
                out.x[f], out.y[f], out.chain[f] = cands.x[j], cands.y[j], chain_no
            if prev is not None:
                out.paths[col.fix] = self.path_between(
                    int(prev[0]), float(prev[1]), int(col.seg[k]), float(col.off[k])
                )
            prev = (col.seg[k], col.off[k])
