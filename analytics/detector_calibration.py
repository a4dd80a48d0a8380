"""Detector spot speeds turned into segment speeds by a factor learned from probes.

A loop measures the time-mean speed of the vehicles passing one point; a segment's speed is
the space-mean speed over its whole length, delay at its signal included. Mid-block, between
signals, the spot speed overstates the segment's speed by 20–40 % (measured on SUMO runs of
signalised cities), and by how much depends on the site: the loop's distance to the stop
line, the signal's cycle. So each segment with loops gets its own factor: the median, over
past minutes in which probes timed the segment (at least ``min_vehicles`` distinct vehicles)
and its loops reported a speed, of the ratio probe speed / loop speed (taken on logarithms,
so halving and doubling weigh alike). A segment with fewer than ``min_pairs`` such minutes has
no factor (NaN). Speeds km/h; arrays aligned with the network's segments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def speed_factors(
    segment: np.ndarray, probe_kmh: np.ndarray, detector_kmh: np.ndarray, n_segments: int,
    *, min_pairs: int = 10,
) -> np.ndarray:  # fmt: skip
    """Per segment, the factor that maps its loops' speed to its segment speed (see the
    module docstring); ``segment`` indexes, ``probe_kmh`` and ``detector_kmh`` one entry per
    paired minute."""
    out = np.full(n_segments, np.nan)
    ok = (probe_kmh > 0) & (detector_kmh > 0) & (segment >= 0) & (segment < n_segments)
    if not ok.any():
        return out
    ratio = pd.Series(np.log(probe_kmh[ok] / detector_kmh[ok]))
    g = ratio.groupby(segment[ok])
    stats = pd.DataFrame({"median": g.median(), "n": g.size()})
    stats = stats[stats["n"] >= min_pairs]
    out[stats.index.to_numpy(np.int64)] = np.exp(stats["median"].to_numpy(float))
    return out


def calibrated(detector_kmh: np.ndarray, factor: np.ndarray, *, uncalibrated: bool = True
               ) -> np.ndarray:  # fmt: skip
    """Detector speeds (``[minutes, segments]`` or ``[segments]``) as segment speeds: times
    the segment's factor where it has one; elsewhere as measured when ``uncalibrated``, else
    NaN (not used for speed)."""
    known = np.isfinite(factor)
    return np.where(known, detector_kmh * np.where(known, factor, 1.0),
                    detector_kmh if uncalibrated else np.nan)  # fmt: skip
