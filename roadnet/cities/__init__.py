"""Bundled city data: the Hai Phong demo network, its corridors and named places."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
HAIPHONG = _HERE / "haiphong"


def demo_network_path() -> Path:
    """Path of the bundled Hai Phong demo network (GeoJSON, EPSG:4326)."""
    return HAIPHONG / "network.geojson"


def demo_corridors_path() -> Path:
    """Path of the Hai Phong demo corridors (YAML: ids, names, waypoints in EPSG:4326)."""
    return HAIPHONG / "corridors.yaml"


def demo_places_path() -> Path:
    """Path of the Hai Phong demo places (JSON: named origins and destinations, EPSG:4326)."""
    return HAIPHONG / "places.json"
