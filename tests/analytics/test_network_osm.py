"""OpenStreetMap loading, checked against an independent parse of a real extract.

Expectations come from reading the shared West Oakland extract with ``bz2`` and
``xml.etree.ElementTree`` (node ids, raw coordinates, tags), not from the loader.
"""

from __future__ import annotations

import bz2
import logging
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import osmium
import pytest
from pyproj import Geod

from roadnet import RoadNetwork, load_network
from roadnet import model as m
from roadnet.osm_loader import load_osm_network

OAKLAND = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "west-oakland.osm.bz2"
KEPT = {"motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential"}
KEPT |= {f"{c}_link" for c in ("motorway", "trunk", "primary", "secondary", "tertiary")}
KEPT |= {"living_street", "service"}
GEOD = Geod(ellps="WGS84")


@dataclass
class RawWay:
    refs: list[str]
    tags: dict[str, str]


@dataclass
class Raw:
    nodes: dict[str, tuple[float, float]]  # id -> (lon, lat)
    highway_ways: dict[str, RawWay]

    @property
    def kept(self) -> dict[str, RawWay]:
        return {
            wid: w
            for wid, w in self.highway_ways.items()
            if w.tags["highway"] in KEPT and w.tags.get("area") != "yes"
        }

    def lonlat(self, way: RawWay) -> np.ndarray:
        return np.array([self.nodes[r] for r in way.refs])


def _directions(tags: dict[str, str]) -> set[str]:
    oneway = tags.get("oneway")
    if oneway in ("yes", "true", "1"):
        return {"f"}
    if oneway in ("-1", "reverse"):
        return {"r"}
    if oneway != "no" and (tags.get("junction") == "roundabout" or tags["highway"] == "motorway"):
        return {"f"}
    return {"f", "r"}


def _key(lon: float, lat: float) -> tuple[int, int]:
    return round(lon * 1e7), round(lat * 1e7)


@pytest.fixture(scope="module")
def raw() -> Raw:
    if not OAKLAND.exists():
        pytest.skip(
            f"the West Oakland OSM extract is not beside the repository ({OAKLAND});"
            " the loader is checked on the hand-built extracts only"
        )
    with bz2.open(OAKLAND) as fh:
        root = ET.parse(fh).getroot()
    nodes = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    ways = {}
    for w in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in w.iter("tag")}
        if "highway" in tags:
            ways[w.get("id")] = RawWay([nd.get("ref") for nd in w.iter("nd")], tags)
    return Raw(nodes, ways)


@pytest.fixture(scope="module")
def net(raw: Raw) -> RoadNetwork:
    return load_network(OAKLAND)


def _shared(raw: Raw) -> set[str]:
    uses = Counter(r for w in raw.kept.values() for r in w.refs)
    return {r for r, n in uses.items() if n >= 2}


def test_kept_ways_are_road_classes(raw: Raw, net: RoadNetwork) -> None:
    assert len(raw.highway_ways) == 31  # plus 7 highway=* nodes (signals, stops)
    assert set(net.segments[m.WAY_ID]) == set(raw.kept)
    assert len(raw.kept) == 23
    assert {"footway", "cycleway"} <= {w.tags["highway"] for w in raw.highway_ways.values()}
    classes = net.segments.groupby(m.WAY_ID)[m.ROAD_CLASS].first()
    assert all(classes[wid] == w.tags["highway"] for wid, w in raw.kept.items())
    names = net.segments.groupby(m.WAY_ID)[m.NAME].first()
    assert all(names[wid] == w.tags.get("name", "") for wid, w in raw.kept.items())


def test_way_lengths_are_geodesic(raw: Raw, net: RoadNetwork) -> None:
    seg = net.segments
    for wid, way in raw.kept.items():
        ll = raw.lonlat(way)
        expected = GEOD.line_length(ll[:, 0], ll[:, 1])
        direction = sorted(_directions(way.tags))[0]
        mine = seg[(seg[m.WAY_ID] == wid) & seg[m.SEGMENT_ID].str.endswith(f":{direction}")]
        assert mine[m.LENGTH].sum() == pytest.approx(expected, rel=0.01), wid


def test_directions_follow_oneway(raw: Raw, net: RoadNetwork) -> None:
    suffix = net.segments[m.SEGMENT_ID].str.rsplit(":", n=1).str[1]
    per_way = suffix.groupby(net.segments[m.WAY_ID]).value_counts().unstack(fill_value=0)
    n_oneway = 0
    for wid, way in raw.kept.items():
        want = _directions(way.tags)
        got = {d for d in ("f", "r") if per_way.loc[wid].get(d, 0) > 0}
        assert got == want, wid
        if want == {"f", "r"}:
            assert per_way.loc[wid, "f"] == per_way.loc[wid, "r"], wid
        n_oneway += len(want) == 1
        assert (net.segments.loc[net.segments[m.WAY_ID] == wid, m.ONEWAY] == (len(want) == 1)).all()
    assert n_oneway == 8


def test_ways_split_at_shared_vertices(raw: Raw, net: RoadNetwork) -> None:
    shared = _shared(raw)
    ends = {r for w in raw.kept.values() for r in (w.refs[0], w.refs[-1])}
    geoms = net.segments.geometry
    endpoints = {_key(*g.coords[0]) for g in geoms} | {_key(*g.coords[-1]) for g in geoms}
    for ref in shared:
        assert _key(*raw.nodes[ref]) in endpoints, ref
    assert {_key(*raw.nodes[r]) for r in shared | ends} == endpoints
    assert net.n_nodes == len(shared | ends)
    # node_lonlat and the segments' from/to nodes agree with geometry ends
    first = np.array([g.coords[0] for g in geoms])
    np.testing.assert_allclose(net.node_lonlat[net.segments[m.FROM_NODE]], first, atol=1e-7)


def test_segment_count_from_raw_pieces(raw: Raw, net: RoadNetwork) -> None:
    shared = _shared(raw)
    expected = 0
    for way in raw.kept.values():
        cuts = [i for i, r in enumerate(way.refs) if r in shared or i in (0, len(way.refs) - 1)]
        expected += (len(cuts) - 1) * len(_directions(way.tags))
    assert len(net) == expected == 77


def test_uncompressed_and_pbf_copies_match(net: RoadNetwork, tmp_path: Path) -> None:
    osm = tmp_path / "west-oakland.osm"
    with bz2.open(OAKLAND) as src, osm.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    plain = load_network(osm)
    cols = [m.SEGMENT_ID, m.FROM_NODE, m.TO_NODE, m.LENGTH]
    assert plain.segments[cols].equals(net.segments[cols])

    pbf = tmp_path / "west-oakland.osm.pbf"
    writer = osmium.SimpleWriter(str(pbf))
    try:
        for obj in osmium.FileProcessor(str(osm)):
            writer.add(obj)
    finally:
        writer.close()
    from_pbf = load_network(pbf)
    assert len(from_pbf) == len(net)
    assert from_pbf.segments[m.LENGTH].sum() == pytest.approx(net.segments[m.LENGTH].sum())


def test_unreadable_or_roadless_files_raise(tmp_path: Path) -> None:
    empty = tmp_path / "empty.osm"
    empty.write_text("")
    junk = tmp_path / "junk.osm.pbf"
    junk.write_bytes(b"not a pbf file at all")
    for path in (empty, junk, tmp_path / "missing.osm"):
        with pytest.raises(ValueError, match="cannot read"):
            load_network(path)
    paths = tmp_path / "paths.osm"
    paths.write_text(
        '<osm version="0.6"><node id="1" lat="1" lon="1"/><node id="2" lat="1" lon="1.001"/>'
        '<way id="5"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way></osm>'
    )
    with pytest.raises(ValueError, match="no usable roads"):
        load_network(paths)


def test_tag_parsing_on_small_extract(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def way(wid: int, refs: str, **tags: str) -> str:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        tgs = "".join(f'<tag k="{k.replace("_", ":")}" v="{v}"/>' for k, v in tags.items())
        return f'<way id="{wid}">{nds}{tgs}</way>'

    nodes = "".join(
        f'<node id="{i}" lat="20.85" lon="{106.68 + i * 0.001:.3f}"/>' for i in range(1, 6)
    )
    ways = [
        way(1, "12", highway="motorway"),
        way(2, "23", highway="motorway", oneway="no", maxspeed="50 mph"),
        way(3, "34", highway="primary", oneway="-1", name_vi="Lạch Tray", lanes="2;3"),
        way(4, "45", highway="tertiary", junction="roundabout", ref="QL5", maxspeed="VN:urban"),
        way(5, "59", highway="primary"),  # node 9 is missing
        way(6, "15", highway="pedestrian", area="yes"),
        way(7, "24", highway="service", area="yes"),
    ]
    path = tmp_path / "small.osm"
    path.write_text(f'<osm version="0.6">{nodes}{"".join(ways)}</osm>', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        net = load_osm_network(path)
    assert "skipped 1 road way" in caplog.text
    seg = net.segments.set_index(m.SEGMENT_ID)
    assert set(seg.index) == {"1:0:f", "2:0:f", "2:0:r", "3:0:r", "4:0:f"}
    assert seg.loc["2:0:f", m.SPEED_LIMIT] == pytest.approx(80.47, abs=0.01)
    assert np.isnan(seg.loc["4:0:f", m.SPEED_LIMIT])
    assert seg.loc["3:0:r", m.NAME] == "Lạch Tray"
    assert seg.loc["4:0:f", m.NAME] == "QL5"
    assert seg.loc["3:0:r", m.LANES] == m.DEFAULT_LANES["primary"]


def test_traffic_signals_mark_the_nearest_junction(tmp_path: Path) -> None:
    # a cross of two streets at node 3; a signal tagged on the junction and one on an
    # approach 11 m before the T junction of node 5; a signal 200 m from any junction; a
    # signal 11 m from node 7, a bend (two roads meet: a mid-block crossing)
    nodes = ('<node id="1" lat="20.850" lon="106.680"/><node id="2" lat="20.850" lon="106.682"/>'
             '<node id="3" lat="20.850" lon="106.684"><tag k="highway" v="traffic_signals"/>'
             '</node><node id="4" lat="20.852" lon="106.684"/>'
             '<node id="5" lat="20.848" lon="106.684"/><node id="6" lat="20.8481" lon="106.684">'
             '<tag k="highway" v="traffic_signals"/></node>'
             '<node id="7" lat="20.846" lon="106.686"/><node id="8" lat="20.846" lon="106.690"/>'
             '<node id="9" lat="20.8478" lon="106.688"><tag k="highway" v="traffic_signals"/>'
             '</node><node id="10" lat="20.848" lon="106.680"/>'
             '<node id="11" lat="20.8461" lon="106.686"><tag k="highway" v="traffic_signals"/>'
             '</node>')  # fmt: skip
    ways = ('<way id="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="primary"/>'
            '</way><way id="2"><nd ref="4"/><nd ref="3"/><nd ref="6"/><nd ref="5"/>'
            '<tag k="highway" v="primary"/></way><way id="3"><nd ref="5"/><nd ref="7"/>'
            '<nd ref="8"/><tag k="highway" v="secondary"/></way><way id="4"><nd ref="5"/>'
            '<nd ref="10"/><tag k="highway" v="residential"/></way>')  # fmt: skip
    path = tmp_path / "signals.osm"
    path.write_text(f'<osm version="0.6">{nodes}{ways}</osm>', encoding="utf-8")
    net = load_osm_network(path)
    assert net.node_signal is not None
    signalised = {tuple(np.round(net.node_lonlat[i], 4)) for i in np.flatnonzero(net.node_signal)}
    assert signalised == {(106.684, 20.85), (106.684, 20.848)}


def test_the_bundled_oakland_extract_has_signals() -> None:
    net = load_osm_network(OAKLAND)
    assert net.node_signal is not None and 1 <= net.node_signal.sum() <= 4
