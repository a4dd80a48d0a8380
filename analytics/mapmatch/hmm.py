"""Newson & Krumm HMM map matching with an upper-bounded distance table.

States are candidate positions (segment, offset) near each fix. Emission:
Gaussian in the GPS distance (``sigma_m``), times a heading agreement term
where the device reports a heading (at any speed: a standing vehicle's heading is
the way it faced when it stopped). Transition: exponential in the
difference between the network route length and the straight-line distance of
consecutive fixes (``beta_m``); routes longer than the bound or implying more than
``max_speed_kmh`` are impossible. Vehicles standing in queues and at signals:

- between two fixes whose devices report standing (below ``moving_kmh``) the
  expected distance is zero, not the noise between them, and such a fix makes a
  column of its own once ``standing_column_s`` have passed since the last one;
- a step backwards (the vehicle seen behind where it was: the noise of a standing
  vehicle, also back across the junction onto the segment it is queued on) is a
  standstill scored by its size, a Gaussian penalty of scale
  ``backward_scale_sigmas`` × ``sigma_m``, impossible beyond ``max_backward_m``, or
  beyond ``moving_backward_m`` where both fixes report moving (a moving vehicle does
  not go back: on the reverse twin of its road every step is one).

A chain breaks (and restarts) at a gap longer than ``max_gap_s`` or when no
transition is possible; fixes without candidates are left unmatched without
breaking the chain, and a fix within ``min_step_sigmas`` × sigma of the previous
one takes that one's match (dense sampling adds noise, not information) unless
it is a standing vehicle's next look (above). All geometry in the network's metric CRS; distances
metres, times seconds, speeds km/h.
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
    min_speed_for_heading_kmh: float = 0.0
    backward_scale_sigmas: float = 1.5
    max_backward_m: float = 60.0
    moving_backward_m: float = 15.0
    min_step_sigmas: float = 2.0
    moving_kmh: float = 5.0
    standing_column_s: float = 10.0


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
    speed: float = np.nan  # reported speed, km/h (NaN: not reported)
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
        return self.emission_of(cands.distance_m[sl], cands.bearing_deg[sl], heading, speed)

    def emission_of(
        self, distance_m: np.ndarray, bearing_deg: np.ndarray, heading: np.ndarray | float,
        speed: np.ndarray | float,
    ) -> np.ndarray:  # fmt: skip
        """Log emission of candidates (broadcast arrays; heading and speed as the device
        reports them, NaN when it does not): the GPS distance, and the heading where it is
        reported (unless with a speed below ``min_speed_for_heading_kmh``, 0 by default)."""
        p = self.p
        log_e = -0.5 * (distance_m / p.sigma_m) ** 2
        with np.errstate(invalid="ignore"):
            use = np.isfinite(heading) & ~(speed < p.min_speed_for_heading_kmh)
        delta = np.radians(bearing_deg - heading)
        return log_e + np.where(use, p.heading_kappa * (np.cos(delta) - 1.0), 0.0)

    def _behind(
        self, seg_a: np.ndarray, off_a: np.ndarray, seg_b: np.ndarray, off_b: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(same segment, metres ahead on it, metres b lies behind a): behind on the same
        segment, or on the segment leading into a's (not its reverse twin); inf otherwise."""
        same = seg_a == seg_b
        ahead = off_b - off_a
        before = (self.to[seg_b] == self.frm[seg_a]) & (self.frm[seg_b] != self.to[seg_a])
        back = np.where(same, -ahead, np.where(before, self.length[seg_b] - off_b + off_a,
                                               np.inf))  # fmt: skip
        return same, ahead, back

    def backward_m(
        self, seg_a: np.ndarray, off_a: np.ndarray, seg_b: np.ndarray, off_b: np.ndarray
    ) -> np.ndarray:
        """How far (m) each position b lies behind position a (broadcast arrays): b on the
        same segment, or on the segment leading into a's (not its reverse twin), at most
        ``max_backward_m`` back; NaN where b is not behind a."""
        back = self._behind(np.asarray(seg_a), off_a, np.asarray(seg_b), off_b)[2]
        return np.where((back > 0) & (back <= self.p.max_backward_m), back, np.nan)

    def transition_log(
        self, seg_a: np.ndarray, off_a: np.ndarray, seg_b: np.ndarray, off_b: np.ndarray,
        via: np.ndarray, gc: np.ndarray | float, dt: np.ndarray | float,
        moving: np.ndarray | bool,
    ) -> np.ndarray:  # fmt: skip
        """Log transition probabilities from positions a to positions b (broadcast arrays;
        ``via``: network distance from a's end node to b's start node, m; ``gc``: straight
        distance between the fixes, m; ``dt``: time between them, s; ``moving``: both fixes
        report moving)."""
        p = self.p
        same, ahead, back = self._behind(seg_a, off_a, seg_b, off_b)
        is_back = (back > 0) & (back <= np.where(moving, p.moving_backward_m,
                                                 p.max_backward_m))  # fmt: skip
        # a step back: the vehicle stood (distance 0), scored by the step's size
        d = np.where(is_back, 0.0, np.where(same & (ahead >= 0), ahead,
                                            (self.length[seg_a] - off_a) + via + off_b))
        penalty = np.where(is_back, back, 0.0) / (p.backward_scale_sigmas * p.sigma_m)
        log_t = -np.abs(d - gc) / p.beta_m - 0.5 * penalty * penalty
        limit = np.minimum(p.bound_m, (p.max_speed_kmh + 20.0) / 3.6 * np.asarray(dt))
        return np.where(d > limit, NEG_INF, log_t)  # longer or faster: impossible (no route: inf)

    def step(self, prev: Column, new: Column, log_e: np.ndarray) -> bool:
        """Fill ``new.score``/``new.back`` from ``prev``; ``False`` if no transition is possible."""
        dt = max(new.t - prev.t, 1e-3)
        gc = float(np.hypot(new.x - prev.x, new.y - prev.y))
        p = self.p
        if prev.speed < p.moving_kmh and new.speed < p.moving_kmh:
            gc = 0.0  # standing at both fixes: the distance between them is noise
        via = self.dist.lookup(self.to[prev.seg][:, None], self.frm[new.seg][None, :])
        log_t = self.transition_log(prev.seg[:, None], prev.off[:, None], new.seg[None, :],
                                    new.off[None, :], via, gc, dt,
                                    prev.speed >= p.moving_kmh and new.speed >= p.moving_kmh,
                                    )  # fmt: skip
        total = prev.score[:, None] + log_t
        best = np.argmax(total, axis=0)
        score = total[best, np.arange(total.shape[1])] + log_e
        if not np.isfinite(score).any():
            return False
        new.back = best
        new.score = score
        return True

    def path_between(self, seg_a: int, off_a: float, seg_b: int, off_b: float) -> list[int]:
        """Segments driven from position a to position b (both ends included); ``[seg_b]``
        when b is not ahead of a (:meth:`backward_m`: the vehicle stood, whatever the
        noise says; traversals hold its position)."""
        if seg_a == seg_b and off_b >= off_a:
            return [seg_a]
        if self._is_back(seg_a, off_a, seg_b, off_b):
            return [seg_b]
        middle = (
            []
            if self.to[seg_a] == self.frm[seg_b]
            else self.dist.path_segments(int(self.to[seg_a]), int(self.frm[seg_b]))
        )
        return [seg_a, *middle, seg_b]

    def _standing_step(self, prev: Column, new: Column) -> bool:
        """Whether ``new`` makes a column of its own although it stays near ``prev``: both
        report standing and ``standing_column_s`` have passed (each look at a standing
        vehicle counts; denser ones add noise, not information)."""
        p = self.p
        return (prev.speed < p.moving_kmh and new.speed < p.moving_kmh
                and new.t - prev.t >= p.standing_column_s)  # fmt: skip

    def _is_back(self, seg_a: int, off_a: float, seg_b: int, off_b: float) -> bool:
        """:meth:`backward_m` of one pair of positions (scalar arithmetic: called per fix)."""
        if seg_a == seg_b:
            back = off_a - off_b
        elif self.to[seg_b] == self.frm[seg_a] and self.frm[seg_b] != self.to[seg_a]:
            back = float(self.length[seg_b]) - off_b + off_a
        else:
            return False
        return 0.0 < back <= self.p.max_backward_m

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
                speed=float(speed_kmh[i]),
            )  # fmt: skip
            if (
                chain and (col.t - chain[-1].t) <= self.p.max_gap_s
                and not self._standing_step(chain[-1], col)
            ):  # fmt: skip
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
