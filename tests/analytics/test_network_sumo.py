"""SUMO .net.xml networks as project networks: edge ids kept, georeferenced, roads only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from roadnet import load_network

NET = """<?xml version="1.0" encoding="UTF-8"?>
<net version="1.20">
    <location netOffset="-660000.00,-2300000.00" convBoundary="0,0,500,10"
              origBoundary="106.5,20.7,106.6,20.8"
              projParameter="+proj=utm +zone=48 +datum=WGS84 +units=m +no_defs"/>
    <edge id=":J1_0" function="internal">
        <lane id=":J1_0_0" index="0" speed="10" length="5" shape="300,0 305,0"/>
    </edge>
    <edge id="main_east" from="J0" to="J1" name="Lê Lợi" type="highway.primary">
        <lane id="main_east_0" index="0" speed="13.89" length="300" shape="0,-1.6 300,-1.6"/>
        <lane id="main_east_1" index="1" speed="13.89" length="300" shape="0,1.6 300,1.6"/>
    </edge>
    <edge id="main_west" from="J1" to="J0" name="Lê Lợi" type="highway.primary">
        <lane id="main_west_0" index="0" speed="13.89" length="300" shape="300,4.8 0,4.8"/>
    </edge>
    <edge id="footway" from="J1" to="J2" type="highway.footway">
        <lane id="footway_0" index="0" allow="pedestrian" speed="2" length="200"
              shape="300,0 500,0"/>
    </edge>
    <junction id="J0" type="priority" x="0" y="0"/>
    <junction id="J1" type="traffic_light" x="300" y="0"/>
    <junction id="J2" type="dead_end" x="500" y="0"/>
    <junction id=":J1_0_0" type="internal" x="300" y="0"/>
</net>
"""


def test_edges_become_segments_with_their_ids(tmp_path: Path) -> None:
    path = tmp_path / "city.net.xml"
    path.write_text(NET, encoding="utf-8")
    net = load_network(path)
    seg = net.segments.set_index("segment_id")
    assert sorted(seg.index) == ["main_east", "main_west"]  # internal and footway left out
    assert seg.loc["main_east", "road_class"] == "primary"
    assert seg.loc["main_east", "lanes"] == 2 and seg.loc["main_west", "lanes"] == 1
    assert seg.loc["main_east", "free_flow_kmh"] == pytest.approx(50.0, abs=0.1)
    assert seg.loc["main_east", "name"] == "Lê Lợi"
    assert seg.loc["main_east", "length_m"] == pytest.approx(300.0, rel=0.01)
    # x/y minus the offset are UTM 48N: (660000, 2300000) is about 106.53 E, 20.79 N
    lon, lat = seg.loc["main_east", "geometry"].coords[0]
    assert lon == pytest.approx(106.534, abs=0.01) and lat == pytest.approx(20.794, abs=0.01)
    e, w = seg.loc["main_east"], seg.loc["main_west"]
    assert (e["from_node"], e["to_node"]) == (w["to_node"], w["from_node"])
    assert net.reverse[net.index_of("main_east")] == net.index_of("main_west")
    x, _ = net.projector.to_metric(np.array([lon]), np.array([lat]))
    assert np.isfinite(x).all()


def test_a_net_without_projection_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain.net.xml"
    path.write_text(NET.replace('projParameter="+proj=utm +zone=48 +datum=WGS84 +units=m'
                                ' +no_defs"', 'projParameter="!"'), encoding="utf-8")  # fmt: skip
    with pytest.raises(ValueError, match="no projection"):
        load_network(path)


def test_traffic_light_junctions_are_signalised_nodes(tmp_path: Path) -> None:
    path = tmp_path / "city.net.xml"
    path.write_text(NET, encoding="utf-8")
    net = load_network(path)
    east = net.segments.set_index("segment_id").loc["main_east"]
    assert net.node_signal is not None
    assert net.node_signal[east["to_node"]] and not net.node_signal[east["from_node"]]
