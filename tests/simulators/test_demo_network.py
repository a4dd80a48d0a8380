"""The bundled Hai Phong demo network and its named places: size, connectivity,
names, extent and topology (crossing roads meet at a node)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from scipy.sparse.csgraph import connected_components

from roadnet import load_network
from roadnet import model as m
from roadnet.cities import demo_network_path
from roadnet.model import RoadNetwork

PLACES = demo_network_path().parent / "places.json"

ARTERIALS = (
    "Lạch Tray",
    "Lê Hồng Phong",
    "Trần Hưng Đạo",
    "Điện Biên Phủ",
    "Nguyễn Văn Linh",
    "Tôn Đức Thắng",
    "Hùng Vương",
    "Bạch Đằng",
    "Hai Bà Trưng",
    "Tô Hiệu",
    "Cầu Đất",
    "Lê Lợi",
    "Lê Thánh Tông",
    "Hoàng Văn Thụ",
    "Trần Phú",
    "Lương Khánh Thiện",
    "Trần Nguyên Hãn",
    "Văn Cao",
    "Thiên Lôi",
    "Ngô Gia Tự",
    "Phạm Văn Đồng",
    "Ngô Quyền",
    "Đà Nẵng",
    "Đường Đình Vũ",
    "Quốc lộ 5",
    "Quốc lộ 10",
    "Cầu Bính",
    "Cầu Hoàng Văn Thụ",
    "Cầu Rào",
    "Cầu Niệm",
    "Cầu An Dương",
    "Cầu Lạc Long",
    "Cầu Quay",
)
BBOX = (106.55, 20.75, 106.85, 20.95)  # lon_min, lat_min, lon_max, lat_max


@pytest.fixture(scope="module")
def network() -> RoadNetwork:
    return load_network()


def test_size_is_a_small_city(network: RoadNetwork) -> None:
    assert 600 <= len(network) <= 1500
    assert network.n_nodes > 150


def test_largest_strongly_connected_component_holds_almost_everything(
    network: RoadNetwork,
) -> None:
    _, label = connected_components(network.graph, directed=True, connection="strong")
    biggest = np.bincount(label).argmax()
    seg = network.segments
    inside = (label[seg[m.FROM_NODE].to_numpy()] == biggest) & (
        label[seg[m.TO_NODE].to_numpy()] == biggest
    )
    assert inside.mean() >= 0.95


def test_main_arterials_and_bridges_are_named(network: RoadNetwork) -> None:
    names = set(network.segments[m.NAME])
    missing = [n for n in ARTERIALS if n not in names]
    assert not missing, missing
    assert network.segments[m.NAME].str.len().gt(0).all()


def test_places_lie_on_the_network(network: RoadNetwork) -> None:
    places = json.loads(PLACES.read_text(encoding="utf-8"))["places"]
    ids = {p["id"] for p in places}
    assert {
        "city-centre",
        "dinh-vu-port",
        "cat-bi-airport",
        "chua-ve-port",
        "nr5-west",
        "do-son",
    } <= ids
    assert len(ids) == len(places)
    nx, ny = network.projector.to_metric(network.node_lonlat[:, 0], network.node_lonlat[:, 1])
    for p in places:
        px, py = network.projector.to_metric(np.array([p["lon"]]), np.array([p["lat"]]))
        nearest = np.hypot(nx - px[0], ny - py[0]).min()
        assert nearest <= 150.0, (p["id"], nearest)


def test_lengths_are_plausible(network: RoadNetwork) -> None:
    length = network.segments[m.LENGTH]
    assert (length > 0.5).all()
    assert 150_000 <= length.sum() <= 1_500_000


def test_everything_lies_inside_hai_phong(network: RoadNetwork) -> None:
    lon_min, lat_min, lon_max, lat_max = network.segments.total_bounds
    assert lon_min >= BBOX[0] and lat_min >= BBOX[1]
    assert lon_max <= BBOX[2] and lat_max <= BBOX[3]


def test_roads_only_cross_at_nodes(network: RoadNetwork) -> None:
    """Two segments that touch do so at a shared node, never mid-segment."""
    # one geometry per undirected piece: "<way>:<k>:f" and "<way>:<k>:r" share "<way>:<k>"
    piece = network.segments[m.SEGMENT_ID].str.rsplit(":", n=1).str[0]
    geoms = network.geom_m[~piece.duplicated().to_numpy()]
    tree = shapely.STRtree(geoms)
    nx, ny = network.projector.to_metric(network.node_lonlat[:, 0], network.node_lonlat[:, 1])
    nodes = shapely.points(nx, ny)
    node_tree = shapely.STRtree(nodes)
    left, right = tree.query(geoms, predicate="intersects")
    for i, j in zip(left, right, strict=True):
        if i >= j:
            continue
        where = shapely.intersection(geoms[i], geoms[j])
        for p in shapely.get_parts(where):
            assert p.geom_type == "Point", (i, j, p.geom_type)
            _, dist = node_tree.query_nearest(p, return_distance=True)
            assert dist[0] < 0.5, (i, j, p)
