"""Time-of-day demand: the share of capacity used on an average weekday.

Values are volume/capacity ratios by local hour, shaped after Vietnamese city
traffic: a sharp morning peak (07:00–08:30), a midday bump, and a longer
evening peak (16:30–18:30). Local time is the city's (Asia/Ho_Chi_Minh for
Hai Phong, UTC+7).
"""

from __future__ import annotations

import numpy as np

#: Volume/capacity by local hour 0..24 (24 = 0), linear in between.
_HOURLY_VC = np.array(
    [0.10, 0.07, 0.06, 0.06, 0.08, 0.20, 0.50, 0.92, 0.95, 0.70, 0.60, 0.65,
     0.68, 0.58, 0.58, 0.65, 0.80, 0.97, 0.98, 0.78, 0.60, 0.45, 0.30, 0.18, 0.10]
)  # fmt: skip

#: Arterials carry relatively more at peaks than local streets.
CLASS_WEIGHT: dict[str, float] = {
    "motorway": 1.0, "trunk": 1.0, "primary": 1.0, "secondary": 0.85, "tertiary": 0.75,
    "unclassified": 0.6, "residential": 0.5, "living_street": 0.3, "service": 0.3,
}  # fmt: skip


def volume_capacity(local_hour: float | np.ndarray) -> np.ndarray:
    """Average weekday v/c ratio at ``local_hour`` (0–24, fractional)."""
    h = np.mod(np.asarray(local_hour, float), 24.0)
    return np.interp(h, np.arange(25), _HOURLY_VC)


def class_weight(road_class: str) -> float:
    """Peak demand weight of a road class (``*_link`` as its parent)."""
    return CLASS_WEIGHT.get(road_class.removesuffix("_link"), 0.5)
