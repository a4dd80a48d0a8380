"""Spatio-temporal smoothing of per-minute segment speeds along the road graph.

A graph generalisation of Treiber & Helbing's adaptive smoothing method (ASM): the
current-minute speed of a segment is estimated from its own and its direct neighbours'
speeds over the last minutes, with two anisotropic kernels — free flow (information
travels downstream at ``c_free``) and congestion (upstream at ``c_cong``) — mixed by
how slow the traffic is. Only past and present minutes are used, so it runs in real
time and fills short gaps. Neighbours of different road classes are compared by their
speed relative to their own free-flow speed: a residential street beside a fast trunk road
takes the trunk road's share of free flow, not its speed. Speeds km/h, distances metres,
times seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from roadnet import model as m
from roadnet.model import RoadNetwork


@dataclass(frozen=True)
class SmoothingParams:
    """Kernel widths, wave speeds and the free/congested crossover."""

    sigma_m: float = 300.0  # spatial kernel width, metres
    tau_s: float = 60.0  # temporal kernel width, seconds
    c_free_kmh: float = 50.0  # free-flow wave speed (information travels downstream)
    c_cong_kmh: float = -18.0  # congested wave speed (travels upstream)
    v_crit_ratio: float = 0.6  # crossover speed as a share of the segment's free-flow speed
    dv_ratio: float = 0.2  # crossover width as a share of the free-flow speed
    window_min: int = 5  # minutes of history used (plus the current minute)
    min_weight: float = 0.3  # minimum total kernel weight to produce an estimate


class CorridorSmoother:
    """Adaptive smoothing over each segment, its successors and its predecessors.

    Source pairs are built once: ``pair_target``, ``pair_source`` and ``pair_x_m``, the
    signed distance (metres) from the target's midpoint to the source's along travel
    (successors +, predecessors −, the segment itself 0). The exact reverse segment
    (a U-turn) is never a source.
    """

    def __init__(
        self, from_node: np.ndarray, to_node: np.ndarray, length_m: np.ndarray,
        params: SmoothingParams | None = None,
    ) -> None:  # fmt: skip
        self.params = p = params or SmoothingParams()
        fr, to = np.asarray(from_node, np.int64), np.asarray(to_node, np.int64)
        length = np.asarray(length_m, float)
        self.n = n = len(fr)
        # successors: segments whose from_node is this segment's to_node
        order = np.argsort(fr, kind="stable")
        start = np.searchsorted(fr[order], to, "left")
        count = np.searchsorted(fr[order], to, "right") - start
        up = np.repeat(np.arange(n), count)
        first = np.repeat(start - np.cumsum(count) + count, count)
        down = order[np.arange(count.sum()) + first]
        keep = to[down] != fr[up]  # drops U-turns (and self-loops)
        up, down = up[keep], down[keep]
        gap = 0.5 * (length[up] + length[down])
        self_idx = np.arange(n)
        self.pair_target = np.concatenate((self_idx, up, down))
        self.pair_source = np.concatenate((self_idx, down, up))
        self.pair_x_m = np.concatenate((np.zeros(n), gap, -gap))
        # kernels per (row of the window, pair); row r is window_min - r minutes ago
        dt = -60.0 * np.arange(p.window_min, -1, -1, dtype=float)[:, None]
        x = self.pair_x_m[None, :]
        self._phi_free = self._kernel(x, dt - x / (p.c_free_kmh / 3.6))
        self._phi_cong = self._kernel(x, dt - x / (p.c_cong_kmh / 3.6))

    def _kernel(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.exp(-np.abs(x) / self.params.sigma_m - np.abs(t) / self.params.tau_s)

    @classmethod
    def for_network(
        cls, network: RoadNetwork, params: SmoothingParams | None = None
    ) -> CorridorSmoother:
        """Smoother over all segments of a network."""
        seg = network.segments
        fr, to, length = (seg[c].to_numpy() for c in (m.FROM_NODE, m.TO_NODE, m.LENGTH))
        return cls(fr, to, length, params)

    def estimate(
        self, speed_kmh: np.ndarray, weight: np.ndarray, free_flow_kmh: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Smoothed current-minute speed of every segment.

        ``speed_kmh`` and ``weight`` are ``(window_min + 1, n_segments)``; row −1 is the
        current minute, row −1−k is k minutes earlier; NaN speed or weight 0 means no
        observation. ``weight`` is the evidence (e.g. effective number of vehicles);
        ``free_flow_kmh`` (> 0) per segment. Returns (speed km/h, NaN where the total kernel
        weight < ``min_weight``; total kernel weight).
        """
        p = self.params
        shape = (p.window_min + 1, self.n)
        speed, w = np.asarray(speed_kmh, float), np.asarray(weight, float)
        if speed.shape != shape or w.shape != shape:
            raise ValueError(f"speed and weight must have shape {shape}")
        ff = np.asarray(free_flow_kmh, float)
        # each source's speed as a share of its own free-flow speed
        v = speed[:, self.pair_source] / ff[self.pair_source]
        w = w[:, self.pair_source]
        ok = np.isfinite(v) & (v > 0) & (w > 0)
        w = np.where(ok, w, 0.0)
        inv = w / np.where(ok, v, 1.0)

        def sums(phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            sw = np.bincount(self.pair_target, (phi * w).sum(axis=0), self.n)
            si = np.bincount(self.pair_target, (phi * inv).sum(axis=0), self.n)
            return sw, np.divide(sw, si, out=np.full(self.n, np.nan), where=si > 0), si > 0

        w_free, r_free, has = sums(self._phi_free)
        w_cong, r_cong, _ = sums(self._phi_cong)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (p.v_crit_ratio - np.fmin(r_free, r_cong)) / p.dv_ratio
            mix = 0.5 * (1.0 + np.tanh(z))  # share of the congested estimate
        total = np.where(has, mix * w_cong + (1.0 - mix) * w_free, 0.0)
        smoothed = np.where(has, (mix * r_cong + (1.0 - mix) * r_free) * ff, np.nan)
        return np.where(total >= p.min_weight, smoothed, np.nan), total
