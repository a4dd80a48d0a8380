"""Directed road network: segments, nodes, topology and spatial index.

Geometry is kept twice: WGS 84 (EPSG:4326, degrees) for display and storage,
and a metric projection (UTM zone of the data, metres) for all distance work.
Segment lengths are geodesic metres; speeds km/h.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from scipy import sparse

from roadnet.projection import Projector

# Column names of RoadNetwork.segments
SEGMENT_ID = "segment_id"
FROM_NODE = "from_node"
TO_NODE = "to_node"
NAME = "name"
ROAD_CLASS = "road_class"
LANES = "lanes"
ONEWAY = "oneway"
SPEED_LIMIT = "speed_limit_kmh"
FREE_FLOW = "free_flow_kmh"
LENGTH = "length_m"
WAY_ID = "way_id"

#: Default free-flow speeds per road class in an Asian city, km/h (used until learned).
DEFAULT_FREE_FLOW_KMH: dict[str, float] = {
    "motorway": 90.0,
    "trunk": 60.0,
    "primary": 50.0,
    "secondary": 45.0,
    "tertiary": 40.0,
    "unclassified": 35.0,
    "residential": 30.0,
    "living_street": 15.0,
    "service": 20.0,
}
DEFAULT_LANES: dict[str, int] = {"motorway": 3, "trunk": 2, "primary": 2, "secondary": 2}


def default_free_flow_kmh(road_class: str) -> float:
    """Free-flow speed for a road class (``*_link`` classes as their parent, minus 10 km/h)."""
    if road_class.endswith("_link"):
        return max(DEFAULT_FREE_FLOW_KMH.get(road_class[:-5], 35.0) - 10.0, 20.0)
    return DEFAULT_FREE_FLOW_KMH.get(road_class, 30.0)


@dataclass(eq=False)
class RoadNetwork:
    """A directed road network.

    Attributes
    ----------
    segments
        One row per directed segment (see the column constants of this module);
        geometry in EPSG:4326, drawn in the direction of travel.
    node_lonlat
        ``(n_nodes, 2)`` node coordinates, degrees.
    projector
        The metric projection used for ``geom_m`` and all distances.
    node_signal
        Per node, whether it has traffic signals (from OSM ``highway=traffic_signals``);
        ``None`` when the source does not say.
    """

    segments: gpd.GeoDataFrame
    node_lonlat: np.ndarray
    projector: Projector
    source: str = ""
    node_signal: np.ndarray | None = None  # per node: traffic signals known (None: unknown)
    _index_of: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.segments = self.segments.reset_index(drop=True)
        self._index_of = {sid: i for i, sid in enumerate(self.segments[SEGMENT_ID])}

    def __len__(self) -> int:
        return len(self.segments)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_lonlat)

    @cached_property
    def geom_m(self) -> np.ndarray:
        """Segment geometries in the metric CRS (array of LineStrings, metres)."""
        return self.projector.geoms_to_metric(self.segments.geometry.values)

    @cached_property
    def tree(self) -> shapely.STRtree:
        """Spatial index over :attr:`geom_m`."""
        return shapely.STRtree(self.geom_m)

    @cached_property
    def graph(self) -> sparse.csr_matrix:
        """Node→node adjacency weighted by segment length (metres); shortest parallel edge kept."""
        seg = self.segments
        rows = seg[FROM_NODE].to_numpy(np.int64)
        cols = seg[TO_NODE].to_numpy(np.int64)
        w = seg[LENGTH].to_numpy(float)
        order = np.lexsort((w, cols, rows))
        pairs = np.column_stack((rows[order], cols[order]))
        _, first = np.unique(pairs, axis=0, return_index=True)
        keep = order[first]
        return sparse.csr_matrix(
            (w[keep], (rows[keep], cols[keep])), shape=(self.n_nodes, self.n_nodes)
        )

    @cached_property
    def reverse(self) -> np.ndarray:
        """Index of each segment's reverse twin (the segment from its end node back to its start
        node, the other direction of a two-way road), −1 where there is none."""
        return reverse_segments(self.segments[FROM_NODE].to_numpy(np.int64),
                                self.segments[TO_NODE].to_numpy(np.int64))  # fmt: skip

    def index_of(self, segment_id: str) -> int:
        """Row index of a segment id; ``KeyError`` if unknown."""
        return self._index_of[segment_id]

    def nearest_segments(
        self, x: np.ndarray, y: np.ndarray, *, max_distance_m: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest segment of each metric point, within ``max_distance_m``.

        Returns ``(segment_index, distance_m)`` arrays aligned with the input;
        index ``-1`` and distance ``inf`` where no segment is close enough. Ties
        (a two-way road's two directions) resolve to the lowest index.
        """
        pts = shapely.points(np.asarray(x, float), np.asarray(y, float))
        idx = np.full(len(pts), -1, dtype=np.int64)
        dist = np.full(len(pts), np.inf)
        if len(pts) == 0:
            return idx, dist
        (p_i, s_i), d = self.tree.query_nearest(
            pts, max_distance=max_distance_m, return_distance=True, all_matches=False
        )
        idx[p_i] = s_i
        dist[p_i] = d
        return idx, dist


def reverse_segments(from_node: np.ndarray, to_node: np.ndarray) -> np.ndarray:
    """For each directed segment (``from_node`` → ``to_node``), the index of a segment going
    ``to_node`` → ``from_node`` (the lowest when there are parallel ones), −1 where none does.
    Self-loops have no reverse."""
    fr, to = np.asarray(from_node, np.int64), np.asarray(to_node, np.int64)
    out = np.full(len(fr), -1, np.int64)
    if not len(fr):
        return out
    nodes, compact = np.unique(np.concatenate([fr, to]), return_inverse=True)
    fr, to, n = compact[: len(fr)], compact[len(fr) :], len(nodes)  # any node ids, no overflow
    key = fr * n + to
    order = np.lexsort((np.arange(len(fr)), key))  # by (from, to), then by index
    pos = np.minimum(np.searchsorted(key[order], to * n + fr), len(fr) - 1)
    hit = (key[order][pos] == to * n + fr) & (fr != to)
    out[hit] = order[pos[hit]]
    return out


def load_network(path: str | Path | None = None) -> RoadNetwork:
    """Load a network from GeoJSON (``.geojson``/``.json``), OpenStreetMap or SUMO.

    OpenStreetMap extracts may be ``.osm``, ``.osm.pbf`` or ``.osm.bz2``; SUMO networks
    ``.net.xml`` (edge ids kept); ``None`` loads the bundled Hai Phong demo network.
    """
    from roadnet.geojson_loader import load_geojson_network

    if path is None:
        from roadnet.cities import demo_network_path

        path = demo_network_path()
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".geojson", ".json")):
        return load_geojson_network(path)
    if name.endswith((".osm", ".osm.pbf", ".pbf", ".osm.bz2", ".osm.gz")):
        from roadnet.osm_loader import load_osm_network

        return load_osm_network(path)
    if name.endswith(".net.xml"):
        from roadnet.sumo_loader import load_sumo_network

        return load_sumo_network(path)
    raise ValueError(
        f"unknown network format for {path} (expected .geojson, .osm/.osm.pbf or a SUMO .net.xml)"
    )
