"""A project road network as a SUMO network, edge ids kept as the project's segment ids.

The network is written as SUMO plain XML (nodes and edges in the network's metric CRS, x
east and y north in metres) and built by ``netconvert`` without moving the origin, so SUMO
positions are the project's metric coordinates and SUMO edge ids are segment ids: feeds and
truth from SUMO speak the project's ids. Two directions of a road drawn on one centre line
become two edges side by side (lanes spread to the right of the direction of travel).
Traffic lights stand where the network knows signals (OSM ``highway=traffic_signals``) and
are guessed at other junctions of major roads (``tls_guess``); joining junctions
closer than ``join_dist_m`` removes the short edges between them (listed as ``dropped``).
"""

from __future__ import annotations

import subprocess
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from roadnet import model as m
from roadnet.model import RoadNetwork
from simulators.sumo.binaries import binary

#: Right of way by road class (higher wins; also steers the traffic-light guess).
PRIORITY = {"motorway": 14, "trunk": 13, "primary": 12, "secondary": 11, "tertiary": 10,
            "unclassified": 9, "residential": 8, "living_street": 7, "service": 6}  # fmt: skip


@dataclass(frozen=True)
class NetOptions:
    """How ``netconvert`` builds the network: traffic lights guessed at junctions whose
    incoming roads are fast enough (``tls_guess_threshold``: sum of incoming speeds, m/s,
    netconvert's measure), and at the network's nodes ``tls_nodes`` (the signals it
    maps: ``RoadNetwork.node_signal``); fixed-time plans of ``tls_cycle_s``; junctions within
    ``join_dist_m`` joined when ``join_junctions``."""

    tls_guess: bool = True
    tls_guess_threshold: float = 40.0
    tls_cycle_s: int = 90
    join_junctions: bool = True
    join_dist_m: float = 10.0
    lane_width_m: float = 3.2
    tls_nodes: tuple[int, ...] = ()


@dataclass
class SumoNetwork:
    """The built network: its file, the segment ids SUMO kept and those it dropped, each
    lane's length (m; junction shapes make it a little shorter than the segment) and each
    edge's number of lanes."""

    path: Path
    edges: list[str]
    dropped: list[str] = field(default_factory=list)
    traffic_lights: int = 0
    lane_length_m: dict[str, float] = field(default_factory=dict)
    lanes: dict[str, int] = field(default_factory=dict)


def _fmt(xy: np.ndarray) -> str:
    return " ".join(f"{x:.2f},{y:.2f}" for x, y in xy)


def write_plain_xml(
    network: RoadNetwork, directory: Path, *, tls_nodes: tuple[int, ...] = ()
) -> tuple[Path, Path]:
    """Write ``nodes.nod.xml`` and ``edges.edg.xml`` of ``network`` (metric coordinates);
    the nodes ``tls_nodes`` are traffic lights."""
    directory.mkdir(parents=True, exist_ok=True)
    seg = network.segments
    nx, ny = network.projector.to_metric(network.node_lonlat[:, 0], network.node_lonlat[:, 1])
    used = np.unique(np.concatenate([seg[m.FROM_NODE].to_numpy(), seg[m.TO_NODE].to_numpy()]))
    nodes = ET.Element("nodes")
    # the CRS of the coordinates, so that the .net.xml is georeferenced (lon/lat recoverable)
    with warnings.catch_warnings():  # a UTM zone loses nothing as a PROJ string
        warnings.simplefilter("ignore", UserWarning)
        proj = network.projector.crs.to_proj4()
    lo = (float(nx[used].min()), float(ny[used].min()))
    hi = (float(nx[used].max()), float(ny[used].max()))
    bounds = f"{lo[0]:.2f},{lo[1]:.2f},{hi[0]:.2f},{hi[1]:.2f}"
    ET.SubElement(nodes, "location", netOffset="0.00,0.00", convBoundary=bounds,
                  origBoundary=bounds, projParameter=proj)  # fmt: skip
    signals = set(tls_nodes)
    for i in used.tolist():
        node = ET.SubElement(nodes, "node", id=f"n{i}", x=f"{nx[i]:.2f}", y=f"{ny[i]:.2f}")
        if i in signals:
            node.set("type", "traffic_light")
    edges = ET.Element("edges")
    coords = [shapely.get_coordinates(g) for g in network.geom_m]
    classes = seg[m.ROAD_CLASS].fillna("").astype(str).to_numpy()
    for k, row in enumerate(seg[[m.SEGMENT_ID, m.FROM_NODE, m.TO_NODE, m.LANES, m.FREE_FLOW,
                                 m.NAME]].itertuples(index=False)):  # fmt: skip
        sid, fr, to, lanes, ff, name = row
        attrs = {"id": str(sid), "from": f"n{fr}", "to": f"n{to}",
                 "numLanes": str(max(int(lanes), 1)), "speed": f"{float(ff) / 3.6:.2f}",
                 "priority": str(PRIORITY.get(classes[k], 8)),
                 "shape": _fmt(coords[k])}  # fmt: skip
        if isinstance(name, str) and name:
            attrs["name"] = name
        edge = ET.SubElement(edges, "edge", attrs)
        ET.SubElement(edge, "param", key="road_class", value=classes[k])
    nod, edg = directory / "nodes.nod.xml", directory / "edges.edg.xml"
    ET.ElementTree(nodes).write(nod, encoding="utf-8", xml_declaration=True)
    ET.ElementTree(edges).write(edg, encoding="utf-8", xml_declaration=True)
    return nod, edg


def build_sumo_network(
    network: RoadNetwork, directory: Path, options: NetOptions | None = None
) -> SumoNetwork:
    """Build ``directory/network.net.xml`` with ``netconvert``; raises ``RuntimeError`` with
    netconvert's message when it fails."""
    opt = options or NetOptions()
    nod, edg = write_plain_xml(network, directory, tls_nodes=opt.tls_nodes)
    out = directory / "network.net.xml"
    # file names relative to the folder: SUMO reads "a:b" in a path as host:port
    cmd = [
        binary("netconvert"), "--node-files", nod.name, "--edge-files", edg.name,
        "--output-file", out.name, "--offset.disable-normalization", "true",
        "--no-turnarounds.except-deadend", "true", "--default.lanewidth", str(opt.lane_width_m),
        "--tls.default-type", "static", "--tls.cycle.time", str(opt.tls_cycle_s),
        "--no-warnings", "true", "--verbose", "false",
    ]  # fmt: skip
    if opt.tls_guess:
        cmd += ["--tls.guess", "true", "--tls.guess.threshold", str(opt.tls_guess_threshold)]
    if opt.join_junctions:
        cmd += ["--junctions.join", "true", "--junctions.join-dist", str(opt.join_dist_m)]
    done = subprocess.run(cmd, cwd=directory, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"netconvert failed: {done.stderr.strip() or done.stdout.strip()}")
    return read_sumo_network(out, network)


def read_sumo_network(path: Path, network: RoadNetwork) -> SumoNetwork:
    """What a built .net.xml holds of ``network``: normal (non-internal) edges, lanes and
    their lengths, traffic lights."""
    edges: list[str] = []
    lane_length: dict[str, float] = {}
    lanes: dict[str, int] = {}
    tls = 0
    for _, el in ET.iterparse(path):
        if el.tag == "edge" and el.get("function") != "internal":
            eid = el.get("id", "")
            edges.append(eid)
            for lane in el.iter("lane"):
                lane_length[lane.get("id", "")] = float(lane.get("length", "0"))
            lanes[eid] = sum(1 for _ in el.iter("lane"))
        elif el.tag == "tlLogic":
            tls += 1
        if el.tag in ("edge", "junction", "connection", "tlLogic"):
            el.clear()
    known = set(edges)
    dropped = [s for s in network.segments[m.SEGMENT_ID].astype(str) if s not in known]
    return SumoNetwork(path, edges, dropped, tls, lane_length, lanes)
