"""Turns source ways (polylines with attributes) into a directed, split RoadNetwork.

Ways are split at every vertex shared with another way (an intersection) and at
their ends; two-way ways become two directed segments. Vertices are identified
by their coordinates rounded to 1e-7 degree (about 1 cm).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod

from roadnet import model as m
from roadnet.projection import Projector, utm_crs_for

_GEOD = Geod(ellps="WGS84")
_KEY_SCALE = 1e7


@dataclass(frozen=True, slots=True)
class Way:
    """A source polyline. ``oneway``: 0 both directions, 1 drawn direction only, -1 reverse only."""

    way_id: str
    lonlat: np.ndarray
    road_class: str
    name: str = ""
    lanes: int | None = None
    oneway: int = 0
    maxspeed_kmh: float | None = None


def geodesic_lengths(lonlat: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Geodesic length (metres, WGS 84 ellipsoid) of polylines stored back to back.

    ``lonlat`` holds all vertices; ``starts`` the index of each polyline's first vertex.
    """
    ends = np.append(starts[1:], len(lonlat))
    _, _, d = _GEOD.inv(lonlat[:-1, 0], lonlat[:-1, 1], lonlat[1:, 0], lonlat[1:, 1])
    d = np.append(np.asarray(d, float), 0.0)
    d[ends - 1] = 0.0  # no distance across polyline boundaries
    return np.add.reduceat(d, starts)


#: A signal tagged on an approach (OSM often tags the stop line, not the junction) belongs to
#: the nearest junction within this distance (metres).
SIGNAL_REACH_M = 30.0


def junction_nodes(segments: pd.DataFrame, n_nodes: int) -> np.ndarray:
    """Indexes of the nodes where three or more roads meet (distinct neighbours)."""
    a = segments[m.FROM_NODE].to_numpy(np.int64)
    b = segments[m.TO_NODE].to_numpy(np.int64)
    pairs = np.unique(np.sort(np.stack([a, b], axis=1), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.flatnonzero(np.bincount(pairs.ravel(), minlength=n_nodes) >= 3)


def signalised_junctions(
    segments: pd.DataFrame, node_lonlat: np.ndarray, projector: Projector,
    signals_lonlat: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Per node, whether it is signalised: each signal (WGS 84 lon/lat) marks the nearest
    junction within :data:`SIGNAL_REACH_M` (metric distance); signals farther from any
    junction (mid-block pedestrian crossings) are left out."""
    signal = np.zeros(len(node_lonlat), bool)
    junctions = junction_nodes(segments, len(node_lonlat))
    if len(signals_lonlat) == 0 or len(junctions) == 0:
        return signal
    jx, jy = projector.to_metric(node_lonlat[junctions, 0], node_lonlat[junctions, 1])
    sx, sy = projector.to_metric(signals_lonlat[:, 0], signals_lonlat[:, 1])
    tree = shapely.STRtree(shapely.points(jx, jy))
    (_, nearest), _ = tree.query_nearest(shapely.points(sx, sy), max_distance=SIGNAL_REACH_M,
                                         return_distance=True)  # fmt: skip
    signal[junctions[nearest]] = True
    return signal


def build_network(
    ways: Sequence[Way], *, source: str = "", signals_lonlat: np.ndarray | None = None
) -> m.RoadNetwork:
    """Build the directed network from ways; raises ``ValueError`` when nothing usable remains.
    ``signals_lonlat``: traffic signals (WGS 84), each marking its nearest node within
    :data:`SIGNAL_REACH_M` as signalised (``RoadNetwork.node_signal``)."""
    ways = [w for w in ways if len(w.lonlat) >= 2]
    if not ways:
        raise ValueError(f"no road ways with two or more points in {source or 'input'}")
    counts = np.array([len(w.lonlat) for w in ways])
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    coords = np.concatenate([np.asarray(w.lonlat, float) for w in ways])
    keys = np.round(coords * _KEY_SCALE).astype(np.int64)
    uniq, vertex_id, n_uses = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    vertex_id = vertex_id.ravel()
    is_node = n_uses[vertex_id] >= 2
    is_node[starts] = True
    is_node[starts + counts - 1] = True
    node_vertices = np.unique(vertex_id[is_node])
    node_of_vertex = np.full(len(uniq), -1, dtype=np.int64)
    node_of_vertex[node_vertices] = np.arange(len(node_vertices))
    node_lonlat = uniq[node_vertices] / _KEY_SCALE

    rows: list[tuple] = []
    pieces: list[np.ndarray] = []
    for w, s, n in zip(ways, starts, counts, strict=True):
        split_at = np.flatnonzero(is_node[s : s + n])
        for k, (a, b) in enumerate(pairwise(split_at)):
            piece = coords[s + a : s + b + 1]
            u, v = node_of_vertex[vertex_id[s + a]], node_of_vertex[vertex_id[s + b]]
            if u == v and len(piece) < 3:
                continue
            free_flow = m.default_free_flow_kmh(w.road_class)
            if w.maxspeed_kmh:
                free_flow = min(free_flow, w.maxspeed_kmh)
            lanes = w.lanes or m.DEFAULT_LANES.get(w.road_class, 1)
            if w.oneway == 0 and w.lanes:
                lanes = max(1, w.lanes // 2)
            common = (
                w.name,
                w.road_class,
                lanes,
                w.oneway != 0,
                w.maxspeed_kmh,
                free_flow,
                w.way_id,
            )
            if w.oneway >= 0:
                rows.append((f"{w.way_id}:{k}:f", u, v, *common))
                pieces.append(piece)
            if w.oneway <= 0:
                rows.append((f"{w.way_id}:{k}:r", v, u, *common))
                pieces.append(piece[::-1])
    if not rows:
        raise ValueError(f"no road segments could be built from {source or 'input'}")

    piece_counts = np.array([len(p) for p in pieces])
    piece_starts = np.concatenate(([0], np.cumsum(piece_counts)[:-1]))
    flat = np.concatenate(pieces)
    lengths = geodesic_lengths(flat, piece_starts)
    geoms = shapely.linestrings(flat, indices=np.repeat(np.arange(len(pieces)), piece_counts))
    columns = [
        m.SEGMENT_ID,
        m.FROM_NODE,
        m.TO_NODE,
        m.NAME,
        m.ROAD_CLASS,
        m.LANES,
        m.ONEWAY,
        m.SPEED_LIMIT,
        m.FREE_FLOW,
        m.WAY_ID,
    ]
    frame = gpd.GeoDataFrame(
        dict(zip(columns, zip(*rows, strict=True), strict=True)), geometry=geoms, crs="EPSG:4326"
    )
    frame[m.LENGTH] = lengths
    frame = frame[frame[m.LENGTH] > 0.5].reset_index(drop=True)
    frame[m.SPEED_LIMIT] = frame[m.SPEED_LIMIT].astype(float)
    centre = coords.mean(axis=0)
    projector = Projector(utm_crs_for(centre[0], centre[1]))
    node_signal = None
    if signals_lonlat is not None:
        node_signal = signalised_junctions(frame, node_lonlat, projector, signals_lonlat)
    return m.RoadNetwork(
        segments=frame,
        node_lonlat=node_lonlat,
        projector=projector,
        source=source,
        node_signal=node_signal,
    )
