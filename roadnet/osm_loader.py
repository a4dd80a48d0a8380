"""Loader for OpenStreetMap extracts (``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf``).

Read with pyosmium. Ways whose ``highway`` tag is one of the road classes
(:data:`DEFAULT_ROAD_CLASSES` by default) become roads, except ``area=yes``.
Tags read from each way:

``highway``     road class
``name``        road name; falls back to ``name:vi``, ``name:en``, then ``ref``
``lanes``       total lanes (both directions of a two-way road); unparsable values ignored
``oneway``      ``yes``/``true``/``1`` one-way, ``-1``/``reverse`` one-way against the
                drawn direction, ``no`` two-way; ``junction=roundabout``/``circular`` and
                ``highway=motorway`` imply one-way unless ``oneway=no``
``maxspeed``    speed limit, km/h (``mph`` and ``knots`` converted; symbolic values
                such as ``VN:urban``, ``none`` or ``signals`` ignored)

Coordinates are degrees WGS 84. Ways with any node missing from the extract are
skipped with a warning.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import osmium

from roadnet._builder import Way, build_network
from roadnet.model import RoadNetwork

log = logging.getLogger(__name__)

_MAIN = ("motorway", "trunk", "primary", "secondary", "tertiary")
#: ``highway`` values kept as roads for motor traffic.
DEFAULT_ROAD_CLASSES: frozenset[str] = frozenset(
    (
        *_MAIN,
        *(f"{c}_link" for c in _MAIN),
        "unclassified",
        "residential",
        "living_street",
        "service",
    )
)
_NAME_KEYS = ("name", "name:vi", "name:en", "ref")
_SPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$", re.IGNORECASE)
_UNIT_KMH = {"mph": 1.609344, "knots": 1.852}


def _oneway(tags: dict[str, str]) -> int:
    """Direction code for :class:`Way`: 1 drawn direction, -1 reverse, 0 both."""
    value = tags.get("oneway", "").strip().lower()
    if value in ("yes", "true", "1"):
        return 1
    if value in ("-1", "reverse"):
        return -1
    if value in ("no", "false", "0"):
        return 0
    implied = tags.get("junction") in ("roundabout", "circular") or tags["highway"] == "motorway"
    return 1 if implied else 0


def _maxspeed_kmh(value: str | None) -> float | None:
    """Speed limit in km/h from an OSM ``maxspeed`` value; ``None`` if not numeric."""
    match = _SPEED.match((value or "").split(";")[0])
    if not match:
        return None
    speed = float(match.group(1)) * _UNIT_KMH.get((match.group(2) or "").lower(), 1.0)
    return speed if speed > 0 else None


def _lanes(value: str | None) -> int | None:
    """Positive integer lane count, or ``None``."""
    try:
        lanes = int(str(value).strip())
    except ValueError:
        return None
    return lanes if lanes > 0 else None


def _read_ways(path: Path, road_classes: frozenset[str]) -> tuple[list[Way], int, np.ndarray]:
    """Road ways of an OSM file, the number skipped for missing node locations, and the
    (lon, lat) of nodes tagged ``highway=traffic_signals``."""
    ways: list[Way] = []
    signals: list[tuple[float, float]] = []
    skipped = 0
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    for obj in processor:
        if isinstance(obj, osmium.osm.Node):
            if obj.tags.get("highway") == "traffic_signals" and obj.location.valid():
                signals.append((obj.location.lon, obj.location.lat))
            continue
        if not isinstance(obj, osmium.osm.Way) or obj.tags.get("highway") not in road_classes:
            continue
        tags = {t.k: t.v for t in obj.tags}
        if tags.get("area") == "yes":
            continue
        locations = [nd.location for nd in obj.nodes]
        if not all(loc.valid() for loc in locations):
            skipped += 1
            continue
        ways.append(
            Way(
                way_id=str(obj.id),
                lonlat=np.array([(loc.lon, loc.lat) for loc in locations], float).reshape(-1, 2),
                road_class=tags["highway"],
                name=next((tags[k] for k in _NAME_KEYS if tags.get(k)), ""),
                lanes=_lanes(tags.get("lanes")),
                oneway=_oneway(tags),
                maxspeed_kmh=_maxspeed_kmh(tags.get("maxspeed")),
            )
        )
    return ways, skipped, np.array(signals, float).reshape(-1, 2)


def load_osm_network(
    path: str | Path, *, road_classes: frozenset[str] = DEFAULT_ROAD_CLASSES
) -> RoadNetwork:
    """Load a directed network from an OpenStreetMap extract.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf`` file.
    road_classes
        ``highway`` values to keep.

    Raises
    ------
    ValueError
        If the file cannot be read or holds no usable road.
    """
    path = Path(path)
    try:
        ways, skipped, signals = _read_ways(path, road_classes)
    except (RuntimeError, OSError) as exc:
        raise ValueError(f"cannot read OpenStreetMap file {path}: {exc}") from exc
    if skipped:
        log.warning("%s: skipped %d road ways with nodes missing from the extract", path, skipped)
    if not any(len(w.lonlat) >= 2 for w in ways):
        raise ValueError(
            f"no usable roads in {path} (no way with highway in {sorted(road_classes)} "
            "and two or more located nodes)"
        )
    return build_network(ways, source=str(path), signals_lonlat=signals)
