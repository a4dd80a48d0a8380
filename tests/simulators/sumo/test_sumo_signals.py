"""Traffic lights mapped in OpenStreetMap become SUMO signals at the network's junctions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from roadnet import load_network
from simulators.sumo.network_export import NetOptions, build_sumo_network

LAT, LON = 20.85, 106.68
DLON = 0.001  # about 104 m at this latitude


def _node(i: int, lon: float, lat: float, signal: bool = False) -> str:
    tag = '<tag k="highway" v="traffic_signals"/>' if signal else ""
    return f'<node id="{i}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">{tag}</node>'


def _way(i: int, refs: list[int], highway: str) -> str:
    nds = "".join(f'<nd ref="{r}"/>' for r in refs)
    return f'<way id="{i}" version="1">{nds}<tag k="highway" v="{highway}"/></way>'


def _extract(path: Path) -> Path:
    """An east-west primary road crossed by a primary road at x = 0 (the junction node is
    tagged) and met by a residential street at x = 3 (the tag 15 m before it, on the
    approach); a mid-block tag at x = 1.5 (a pedestrian crossing)."""
    nodes = [_node(1, LON - 2 * DLON, LAT), _node(2, LON, LAT, signal=True),
             _node(3, LON + 1.5 * DLON, LAT, signal=True),
             _node(4, LON + 2.85 * DLON, LAT, signal=True), _node(5, LON + 3 * DLON, LAT),
             _node(6, LON + 5 * DLON, LAT), _node(7, LON, LAT - 0.002),
             _node(8, LON, LAT + 0.002), _node(9, LON + 3 * DLON, LAT + 0.002)]  # fmt: skip
    ways = [_way(10, [1, 2, 3, 4, 5, 6], "primary"), _way(11, [7, 2, 8], "primary"),
            _way(12, [5, 9], "residential")]  # fmt: skip
    path.write_text('<?xml version="1.0"?><osm version="0.6">' + "".join(nodes + ways)
                    + "</osm>", encoding="utf-8")  # fmt: skip
    return path


def test_mapped_signals_stand_at_their_junctions(tmp_path: Path) -> None:
    network = load_network(_extract(tmp_path / "town.osm"))
    assert network.node_signal is not None
    nodes = np.flatnonzero(network.node_signal)
    got = sorted(map(tuple, network.node_lonlat[nodes].round(6).tolist()))
    assert got == [(LON, LAT), (round(LON + 3 * DLON, 6), LAT)]  # not the mid-block crossing
    net = build_sumo_network(network, tmp_path / "sumo", NetOptions(
        tls_guess=False, tls_nodes=tuple(nodes.tolist())))  # fmt: skip
    assert net.traffic_lights == 2
    assert build_sumo_network(network, tmp_path / "none", NetOptions(
        tls_guess=False)).traffic_lights == 0  # fmt: skip


def test_a_run_on_an_osm_network_uses_its_signals(tmp_path: Path) -> None:
    import json

    from simulators.scenario import Scenario
    from simulators.sumo.engine import simulate_sumo

    network = load_network(_extract(tmp_path / "town.osm"))
    sc = Scenario.model_validate({"start": "2026-11-25T07:30:00+07:00", "duration_s": 120,
                                  "vehicles": 30, "sumo": {"warmup_s": 0}})  # fmt: skip
    simulate_sumo(sc, network, tmp_path / "run", progress=None)
    stats = json.loads((tmp_path / "run" / "truth" / "run.json").read_text("utf-8"))["stats"]
    assert stats["mapped_signal_junctions"] == 2 and stats["traffic_lights"] == 2
    assert stats["tls_guessed"] is False
