"""The privacy threshold: a probe-based speed is published only when enough distinct vehicles
contributed (``ITMS_PRIVACY_MIN_VEHICLES``); otherwise the segment reports no data.

A state with ``0 < n_vehicles < threshold`` (sources ``probe`` and ``fused``) is withheld
entirely, so a single vehicle's speed can never be read back. Detector-only, smoothed and
profile states carry no individual probe (``n_vehicles == 0``) and are published.
"""

from __future__ import annotations


def publishable(n_vehicles: int | None, min_vehicles: int) -> bool:
    """True when a state built from ``n_vehicles`` distinct probe vehicles may be published."""
    n = n_vehicles or 0
    return n == 0 or n >= min_vehicles
