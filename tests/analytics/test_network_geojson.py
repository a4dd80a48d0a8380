"""Network building from GeoJSON: splitting at intersections, directions, lengths, topology."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod

from roadnet import load_network
from roadnet import model as m


def _fc(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def _line(coords: list, **props: object) -> dict:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "LineString", "coordinates": coords},
    }


@pytest.fixture
def cross(tmp_path: Path) -> Path:
    """A two-way east-west road crossed in its middle vertex by a one-way north-south road."""
    path = tmp_path / "cross.geojson"
    ew = _line(
        [[106.680, 20.850], [106.685, 20.850], [106.690, 20.850]],
        id="ew",
        name="Đông Tây",
        road_class="primary",
        lanes=4,
    )
    ns = _line(
        [[106.685, 20.845], [106.685, 20.850], [106.685, 20.855]],
        id="ns",
        name="Bắc Nam",
        road_class="secondary",
        oneway=True,
        maxspeed=30,
    )
    path.write_text(json.dumps(_fc(ew, ns)), encoding="utf-8")
    return path


def test_split_at_shared_vertex_and_directions(cross: Path) -> None:
    net = load_network(cross)
    seg = net.segments.set_index(m.SEGMENT_ID)
    # ew: 2 pieces x 2 directions; ns: 2 pieces x 1 direction
    assert len(net) == 6
    assert net.n_nodes == 5
    assert set(seg.index) == {"ew:0:f", "ew:0:r", "ew:1:f", "ew:1:r", "ns:0:f", "ns:1:f"}
    # reverse runs the other way between the same nodes
    assert seg.loc["ew:0:f", m.FROM_NODE] == seg.loc["ew:0:r", m.TO_NODE]
    # the centre node joins all four pieces
    centre = seg.loc["ew:0:f", m.TO_NODE]
    assert seg.loc["ns:0:f", m.TO_NODE] == centre == seg.loc["ns:1:f", m.FROM_NODE]
    # two-way lanes split per direction; speed limit caps free flow
    assert seg.loc["ew:0:f", m.LANES] == 2
    assert seg.loc["ns:0:f", m.FREE_FLOW] == 30.0
    assert seg.loc["ns:0:f", m.NAME] == "Bắc Nam"


def test_lengths_are_geodesic(cross: Path) -> None:
    net = load_network(cross)
    geod = Geod(ellps="WGS84")
    for geom, length in zip(net.segments.geometry, net.segments[m.LENGTH], strict=True):
        assert length == pytest.approx(geod.geometry_length(geom), rel=1e-6)
    # 0.005 deg of longitude at 20.85 N is about 520 m
    assert net.segments[m.LENGTH].iloc[0] == pytest.approx(520.6, abs=1.0)


def test_graph_and_metric_projection(cross: Path) -> None:
    net = load_network(cross)
    assert net.projector.crs.to_epsg() == 32648  # UTM 48N for Hai Phong
    g = net.graph
    assert g.nnz == 6
    seg = net.segments
    i = int(np.flatnonzero(seg[m.SEGMENT_ID] == "ns:1:f")[0])
    assert g[seg[m.FROM_NODE][i], seg[m.TO_NODE][i]] == pytest.approx(seg[m.LENGTH][i])


def test_nearest_segments_in_metres(cross: Path) -> None:
    net = load_network(cross)
    x, y = net.projector.to_metric(np.array([106.6825, 106.7]), np.array([20.8501, 20.85]))
    idx, dist = net.nearest_segments(x, y, max_distance_m=50)
    assert net.segments[m.SEGMENT_ID][idx[0]].startswith("ew:0")
    assert dist[0] == pytest.approx(11.1, abs=0.5)  # 0.0001 deg latitude
    assert idx[1] == -1 and np.isinf(dist[1])


def test_bad_network_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.geojson"
    empty.write_text(json.dumps(_fc()))
    with pytest.raises(ValueError, match="no road ways"):
        load_network(empty)
    with pytest.raises(ValueError, match="unknown network format"):
        load_network(tmp_path / "roads.shp")


def test_bundled_demo_network_loads() -> None:
    net = load_network()
    assert len(net) > 50
    assert net.segments[m.NAME].str.contains("Lạch Tray").any()
    assert (net.segments[m.LENGTH] > 0).all()
