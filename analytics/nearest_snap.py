"""Nearest-segment assignment of GPS fixes: the thin baseline before HMM map matching.

Each fix goes to the closest directed segment within a distance, and per
(segment, minute, vehicle) the fixes are summed into observation rows.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from analytics.network import model as m
from analytics.network.model import RoadNetwork
from store.probe_writer import ObservationRow

#: Spot speeds below this (km/h) count as this value in harmonic means (a stopped
#: vehicle would otherwise make the space-mean speed zero).
MIN_SPEED_KMH = 1.0


class NearestSnapper:
    """Assigns fixes (WGS 84 degrees) to the nearest segment within ``max_distance_m`` metres."""

    def __init__(self, network: RoadNetwork, *, max_distance_m: float = 40.0) -> None:
        self.network = network
        self.max_distance_m = max_distance_m

    def snap(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Segment row index per fix; ``-1`` when no segment is within range."""
        x, y = self.network.projector.to_metric(lon, lat)
        idx, _ = self.network.nearest_segments(x, y, max_distance_m=self.max_distance_m)
        return idx


def observation_rows(
    network: RoadNetwork,
    *,
    segment_index: np.ndarray,
    vehicle_id: np.ndarray,
    vehicle_type: np.ndarray,
    ts_ms: np.ndarray,
    speed_kmh: np.ndarray,
) -> list[ObservationRow]:
    """Sum fixes per (segment, minute, vehicle); NaN speeds count as fixes without a speed."""
    keep = segment_index >= 0
    if not keep.any():
        return []
    speed = speed_kmh[keep].astype(float)
    has_speed = np.isfinite(speed)
    frame = pd.DataFrame(
        {
            "segment": network.segments[m.SEGMENT_ID].to_numpy()[segment_index[keep]],
            "minute": ts_ms[keep] // 60_000,
            "vehicle": vehicle_id[keep],
            "vtype": vehicle_type[keep],
            "n": 1,
            "n_speed": has_speed.astype(int),
            "sum_speed": np.where(has_speed, speed, 0.0),
            "sum_inv": np.where(
                has_speed, 1.0 / np.maximum(np.nan_to_num(speed), MIN_SPEED_KMH), 0.0
            ),
        }
    )
    agg = frame.groupby(["segment", "minute", "vehicle"], sort=True).agg(
        vtype=("vtype", "first"),
        n=("n", "sum"),
        n_speed=("n_speed", "sum"),
        sum_speed=("sum_speed", "sum"),
        sum_inv=("sum_inv", "sum"),
    )
    minutes = {
        mm: datetime.fromtimestamp(mm * 60, tz=UTC) for mm in agg.index.get_level_values(1).unique()
    }
    return [
        (seg, minutes[mm], veh, vt, int(n), int(ns), float(ss), float(si))
        for (seg, mm, veh), vt, n, ns, ss, si in zip(
            agg.index,
            agg["vtype"],
            agg["n"],
            agg["n_speed"],
            agg["sum_speed"],
            agg["sum_inv"],
            strict=True,
        )
    ]
