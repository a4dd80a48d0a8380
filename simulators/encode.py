"""Encoding simulated fixes as contract messages (JSON bytes keyed by vehicle id)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from simulators.random_drive import FixBatch


def gps_messages(batch: FixBatch, *, source: str = "simulator") -> Iterator[tuple[bytes, bytes]]:
    """``(key, value)`` pairs of the GPS contract for one batch of fixes."""
    for vid, lon, lat, speed in zip(
        batch.vehicle_id, batch.lon, batch.lat, batch.speed_kmh, strict=True
    ):
        msg = {
            "vehicle_id": vid,
            "ts": batch.ts_ms,
            "lat": round(float(lat), 7),
            "lon": round(float(lon), 7),
            "speed_kmh": float(speed),
            "vehicle_type": "motorbike",
            "source": source,
        }
        yield vid.encode(), json.dumps(msg, separators=(",", ":")).encode()
