"""Bundled city data: the Hai Phong demo network."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def demo_network_path() -> Path:
    """Path of the bundled Hai Phong demo network (GeoJSON, EPSG:4326)."""
    return _HERE / "haiphong" / "network.geojson"
