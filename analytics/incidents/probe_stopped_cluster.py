"""Stopped probes: several probes standing still on one segment while others creep past.

A crash or a stalled vehicle stops the probes right behind it (and the involved vehicles, if
they report), while traffic in the open lanes still passes slowly. A red light, by contrast,
stops nearly everyone for a short time and lets them go at normal speed. Per decision minute
each segment has, over the traversals that ended in the last few minutes, the number of
distinct vehicles that stood still there for at least the stop time (``stopped``), the number
that did not (``passing``) and the harmonic-mean speed of the passing ones. An alarm needs at
least ``min_stopped`` stopped and ``min_passing`` passing vehicles, passing speed below
``passing_ratio`` of the reference, and a share of stopped vehicles above the segment's usual
share (``baseline_share``, e.g. from signals; 0 when unknown) by ``share_margin``.
Resolution is one segment (traversals do not say where on the segment the stop was).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StoppedClusterParams:
    """Defaults: two stopped vehicles (one could be a pick-up or a breakdown off the lane),
    passing vehicles below 70 % of the reference (clearly hindered, not just a slow truck
    among them), stopped share 30 points above usual."""

    min_stopped: int = 2
    min_passing: int = 1
    passing_ratio: float = 0.7
    share_margin: float = 0.3


class ProbeStoppedCluster:
    """Stateless per-minute test over segments."""

    name = "probe_stopped"

    def __init__(self, params: StoppedClusterParams | None = None) -> None:
        self.p = params or StoppedClusterParams()

    def detect(
        self, stopped: np.ndarray, passing: np.ndarray, passing_kmh: np.ndarray,
        reference_kmh: np.ndarray, baseline_share: np.ndarray | float = 0.0,
    ) -> np.ndarray:  # fmt: skip
        """Alarmed segments (boolean array)."""
        p = self.p
        stopped = np.asarray(stopped, float)
        passing = np.asarray(passing, float)
        total = stopped + passing
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0, stopped / total, 0.0)
            slow = np.asarray(passing_kmh, float) < p.passing_ratio * np.asarray(reference_kmh)
        return (
            (stopped >= p.min_stopped)
            & (passing >= p.min_passing)
            & slow
            & (share >= np.asarray(baseline_share) + p.share_margin)
        )
