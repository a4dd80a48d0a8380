"""Loader for road networks in GeoJSON (the project's documented network format).

A FeatureCollection of ``LineString`` (or ``MultiLineString``) features in
WGS 84. Properties (all optional but ``road_class`` recommended):

``id``          source way id (string; default: feature index)
``name``        road name
``road_class``  OSM-style class: motorway, trunk, primary, secondary, tertiary,
                unclassified, residential, service, ``*_link`` (default residential)
``lanes``       total lanes (both directions for a two-way road)
``oneway``      true/false, or ``-1`` for one-way against the drawn direction
``maxspeed``    speed limit, km/h
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from roadnet._builder import Way, build_network
from roadnet.model import RoadNetwork


def _oneway(value: Any) -> int:
    if value in (True, 1, "yes", "true", "1"):
        return 1
    if value in (-1, "-1", "reverse"):
        return -1
    return 0


def _number(value: Any) -> float | None:
    try:
        out = float(str(value).split()[0]) if value not in (None, "") else None
    except ValueError:
        return None
    return out if out and np.isfinite(out) and out > 0 else None


def ways_from_geojson(data: dict[str, Any]) -> list[Way]:
    """Ways of a GeoJSON FeatureCollection (see module docstring for properties)."""
    if data.get("type") != "FeatureCollection":
        raise ValueError("network GeoJSON must be a FeatureCollection")
    ways: list[Way] = []
    for i, feat in enumerate(data.get("features", [])):
        geom = feat.get("geometry") or {}
        props = feat.get("properties") or {}
        if geom.get("type") == "LineString":
            parts = [geom["coordinates"]]
        elif geom.get("type") == "MultiLineString":
            parts = geom["coordinates"]
        else:
            continue
        way_id = str(props.get("id", feat.get("id", i)))
        lanes = _number(props.get("lanes"))
        for j, part in enumerate(parts):
            ways.append(
                Way(
                    way_id=way_id if len(parts) == 1 else f"{way_id}.{j}",
                    lonlat=np.asarray(part, float)[:, :2],
                    road_class=str(
                        props.get("road_class") or props.get("highway") or "residential"
                    ),
                    name=str(props.get("name") or ""),
                    lanes=int(lanes) if lanes else None,
                    oneway=_oneway(props.get("oneway")),
                    maxspeed_kmh=_number(props.get("maxspeed")),
                )
            )
    return ways


def load_geojson_network(path: str | Path) -> RoadNetwork:
    """Load a directed network from a GeoJSON file."""
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        data = json.load(fh)
    return build_network(ways_from_geojson(data), source=str(path))
