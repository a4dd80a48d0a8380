"""Pure building blocks of the per-minute segment state: probe/detector fusion, confidence
and the minute's estimate (measured, else filled from the corridor). Speeds km/h; arrays are
aligned with the network's segments (windows: one row per minute, the last is the minute).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.smoothing import CorridorSmoother


def fuse_speeds(
    probe_kmh: np.ndarray, probe_vehicles: np.ndarray, detector_kmh: np.ndarray,
    *, detector_weight: float = 3.0,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Weighted harmonic mean of probe and detector speeds.

    A probe speed weighs as many distinct vehicles as contributed to it, a
    detector speed as ``detector_weight`` vehicles. Returns (speed, effective
    number of observations); speed is NaN where neither source has data.
    """
    wp = np.where(np.isfinite(probe_kmh) & (probe_kmh > 0), probe_vehicles, 0.0)
    wd = np.where(np.isfinite(detector_kmh) & (detector_kmh > 0), detector_weight, 0.0)
    inv = wp / np.where(wp > 0, probe_kmh, 1.0) + wd / np.where(wd > 0, detector_kmh, 1.0)
    n = wp + wd
    speed = np.where(n > 0, n / np.where(inv > 0, inv, 1.0), np.nan)
    return speed, n


def confidence(n_effective: np.ndarray, *, half: float = 3.0) -> np.ndarray:
    """0–1 confidence from the effective number of observations (1 − e^(−n/half))."""
    return 1.0 - np.exp(-np.asarray(n_effective, float) / half)


@dataclass
class MinuteEstimate:
    """A minute's speed per segment (NaN: unknown), its confidence (0–1), its source
    (``probe``, ``detector``, ``fused``, ``smoothed``; empty where unknown) and the probe
    vehicles the minute's measurement rests on (of the cells where they measure it)."""

    speed: np.ndarray
    confidence: np.ndarray
    source: np.ndarray
    vehicles: np.ndarray


def estimate_minute(
    probe_kmh: np.ndarray, vehicles: np.ndarray, detector_kmh: np.ndarray, *,
    smoother: CorridorSmoother, free_flow: np.ndarray, detector_weight: float = 3.0,
    publish_min_vehicles: int = 1, smoothed_confidence: float = 0.5,
    cell_kmh: np.ndarray | None = None, cell_vehicles: np.ndarray | None = None,
    fill_min_ratio: float = 0.6,
) -> MinuteEstimate:  # fmt: skip
    """The last minute of a window of measurements (``[minutes, segments]``): probe and
    detector speeds fused where measured; elsewhere filled by ``smoother`` from the window's
    data that could itself be published (detector speeds, probe speeds of at least
    ``publish_min_vehicles`` vehicles), its confidence scaled by ``smoothed_confidence``,
    where the fill is at least ``fill_min_ratio`` of free flow: slower fills are not published
    (on signalised streets they spread a neighbour's red-light queue as a jam that is not there:
    9–21 km/h off, biased low, against 7–9 for faster fills; docs/EVALUATION.md).
    ``cell_kmh`` (Edie's space-mean speed of the minute, vehicles still queued included)
    is the minute's probe measurement where there is one, with its ``cell_vehicles``;
    the smoother is fed from completed traversals only (cells at a red light spread
    upstream as a jam that is not there)."""
    p_now, v_now = probe_kmh[-1], vehicles[-1]
    if cell_kmh is not None and cell_vehicles is not None:
        cell = np.isfinite(cell_kmh[-1])
        p_now = np.where(cell, np.maximum(cell_kmh[-1], 1.0), p_now)
        v_now = np.where(cell, np.maximum(cell_vehicles[-1], v_now), v_now)
    speed, n_eff = fuse_speeds(p_now, v_now, detector_kmh[-1],
                               detector_weight=detector_weight)  # fmt: skip
    conf = confidence(n_eff)
    measured = np.isfinite(speed)
    has_p, has_d = np.isfinite(p_now), np.isfinite(detector_kmh[-1])
    source = np.where(has_p & has_d, "fused", np.where(has_p, "probe", "detector"))
    public = vehicles >= publish_min_vehicles
    sp_w, sn_w = fuse_speeds(np.where(public, probe_kmh, np.nan), vehicles, detector_kmh,
                             detector_weight=detector_weight)  # fmt: skip
    smooth, weight = smoother.estimate(sp_w, np.nan_to_num(sn_w), free_flow)
    with np.errstate(invalid="ignore"):
        fill = ~measured & (smooth >= fill_min_ratio * free_flow)  # NaN: no fill
    return MinuteEstimate(
        np.where(fill, smooth, speed),
        np.where(fill, smoothed_confidence * confidence(weight), conf),
        np.where(fill, "smoothed", np.where(measured, source, "")),
        v_now,
    )
