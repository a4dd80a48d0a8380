"""SUMO networks (``.net.xml``) as project road networks, SUMO edge ids kept.

Every normal edge that road vehicles may use becomes a directed segment with the edge's id,
junctions become nodes; the geometry is the edge's shape (or its middle lane's), turned from
SUMO's x/y (metres, minus ``netOffset``) into WGS 84 with the net's ``projParameter``; a net
without a projection cannot be placed on the map and is refused. Road class from the edge
type (``highway.primary``) or a ``road_class`` parameter, lanes from the lane count, speeds
from the lanes' limits (m/s in SUMO, km/h here); junctions of type ``traffic_light`` are the
signalised nodes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from roadnet import model as m
from roadnet._builder import geodesic_lengths
from roadnet.projection import Projector, utm_crs_for

#: vehicle classes that make a lane a road for ITMS
ROAD_CLASSES = {"passenger", "motorcycle", "moped", "bus", "truck", "taxi", "delivery",
                "trailer", "coach", "private", "evehicle", "emergency"}  # fmt: skip


def _coords(shape: str) -> np.ndarray:
    return np.array([[float(v) for v in p.split(",")[:2]] for p in shape.split()], float)


def _for_roads(lane: ET.Element) -> bool:
    allow, disallow = lane.get("allow"), lane.get("disallow")
    if allow is not None:
        return bool(set(allow.split()) & ROAD_CLASSES) or allow == "all"
    if disallow is None:
        return True
    return disallow != "all" and not set(disallow.split()) >= ROAD_CLASSES


def load_sumo_network(path: str | Path) -> m.RoadNetwork:
    """Load a SUMO ``.net.xml``; raises ``ValueError`` when it has no projection or no roads."""
    path = Path(path)
    root = ET.parse(path).getroot()
    loc = root.find("location")
    proj = None if loc is None else loc.get("projParameter")
    if not proj or proj == "!":
        raise ValueError(f"{path}: the SUMO network has no projection (projParameter), so it"
                         " cannot be placed on the map; build it with netconvert --proj.utm"
                         " or from OSM")  # fmt: skip
    off = np.array([float(v) for v in (loc.get("netOffset") or "0,0").split(",")])  # type: ignore[union-attr]
    to_wgs84 = Transformer.from_proj(proj, "EPSG:4326", always_xy=True)
    nodes = [j for j in root.iter("junction") if j.get("type") != "internal"]
    junctions = {j.get("id", ""): (float(j.get("x", "0")), float(j.get("y", "0"))) for j in nodes}
    signal = np.array([(j.get("type") or "").startswith("traffic_light") for j in nodes], bool)
    node_index = {jid: k for k, jid in enumerate(junctions)}
    rows, shapes = [], []
    for e in root.iter("edge"):
        lanes = e.findall("lane")
        if e.get("function") or not lanes or not any(_for_roads(lane) for lane in lanes):
            continue
        shape = e.get("shape") or lanes[len(lanes) // 2].get("shape") or ""
        xy = _coords(shape) - off
        if len(xy) < 2:
            continue
        params = {p.get("key"): p.get("value") for p in e.findall("param")}
        etype = e.get("type") or ""
        road_class = params.get("road_class") or (
            etype.split(".", 1)[1] if etype.startswith("highway.") else "unclassified")
        speed_kmh = max(float(lane.get("speed", "13.89")) for lane in lanes) * 3.6
        rows.append((e.get("id"), node_index[e.get("from", "")], node_index[e.get("to", "")],
                     e.get("name", ""), road_class, len(lanes), True, speed_kmh, speed_kmh,
                     e.get("id")))  # fmt: skip
        shapes.append(xy)
    if not rows:
        raise ValueError(f"{path}: no edges for road vehicles")
    counts = np.array([len(s) for s in shapes])
    flat = np.concatenate(shapes)
    lon, lat = to_wgs84.transform(flat[:, 0], flat[:, 1])
    lonlat = np.column_stack([lon, lat])
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    geoms = shapely.linestrings(lonlat, indices=np.repeat(np.arange(len(shapes)), counts))
    columns = [m.SEGMENT_ID, m.FROM_NODE, m.TO_NODE, m.NAME, m.ROAD_CLASS, m.LANES, m.ONEWAY,
               m.SPEED_LIMIT, m.FREE_FLOW, m.WAY_ID]  # fmt: skip
    frame = gpd.GeoDataFrame(dict(zip(columns, zip(*rows, strict=True), strict=True)),
                             geometry=geoms, crs="EPSG:4326")  # fmt: skip
    frame[m.LENGTH] = geodesic_lengths(lonlat, starts)
    jxy = np.array(list(junctions.values()), float) - off
    jlon, jlat = to_wgs84.transform(jxy[:, 0], jxy[:, 1])
    centre = lonlat.mean(axis=0)
    return m.RoadNetwork(segments=frame, node_lonlat=np.column_stack([jlon, jlat]),
                         projector=Projector(utm_crs_for(centre[0], centre[1])),
                         source=str(path), node_signal=signal)  # fmt: skip
