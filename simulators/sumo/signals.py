"""Traffic lights mapped in OpenStreetMap, placed on the network's junctions.

OSM marks a signal with a node tagged ``highway=traffic_signals``: at the junction itself,
or on each approach a few metres before it (dual carriageways, stop lines). Each tagged
node becomes a signal at the nearest junction of the project network (a node where three
or more roads meet) within ``radius_m``; signals farther from any junction (mid-block
pedestrian crossings) are left out. Positions: WGS 84 lon/lat in, metres between them in
the network's metric CRS.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely

from roadnet import model as m
from roadnet.model import RoadNetwork

OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf")


def is_osm_file(source: str) -> bool:
    """Whether a network's source is an OpenStreetMap extract on disk."""
    return source.lower().endswith(OSM_SUFFIXES) and Path(source).is_file()


def osm_signal_lonlat(path: str | Path) -> np.ndarray:
    """``(n, 2)`` lon/lat of the nodes tagged ``highway=traffic_signals`` in an extract."""
    import osmium

    found = []
    processor = osmium.FileProcessor(str(path), osmium.osm.NODE).with_filter(
        osmium.filter.TagFilter(("highway", "traffic_signals"))
    )
    for obj in processor:
        if isinstance(obj, osmium.osm.Node) and obj.location.valid():
            found.append((obj.location.lon, obj.location.lat))
    return np.array(found, float).reshape(-1, 2)


def junction_nodes(network: RoadNetwork) -> np.ndarray:
    """Indexes of the nodes where three or more roads meet (distinct neighbours)."""
    seg = network.segments
    a, b = seg[m.FROM_NODE].to_numpy(np.int64), seg[m.TO_NODE].to_numpy(np.int64)
    pairs = np.unique(np.sort(np.stack([a, b], axis=1), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    degree = np.bincount(pairs.ravel(), minlength=network.n_nodes)
    return np.flatnonzero(degree >= 3)


def signalised_nodes(network: RoadNetwork, lonlat: np.ndarray, *, radius_m: float = 30.0
                     ) -> np.ndarray:  # fmt: skip
    """Sorted indexes of the junctions that get a signal: for each tagged point, the
    nearest junction within ``radius_m``."""
    junctions = junction_nodes(network)
    if len(lonlat) == 0 or len(junctions) == 0:
        return np.zeros(0, np.int64)
    jx, jy = network.projector.to_metric(network.node_lonlat[junctions, 0],
                                         network.node_lonlat[junctions, 1])  # fmt: skip
    px, py = network.projector.to_metric(lonlat[:, 0], lonlat[:, 1])
    tree = shapely.STRtree(shapely.points(jx, jy))
    idx, dist = tree.query_nearest(shapely.points(px, py), max_distance=radius_m,
                                   return_distance=True, all_matches=False)  # fmt: skip
    return np.unique(junctions[idx[1][dist <= radius_m]])
