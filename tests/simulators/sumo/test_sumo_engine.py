"""The SUMO engine on a tiny signalised grid: ids kept, contract feeds, consistent truth,
determinism by seed, an incident's queue (issue 17)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from sumo_tiny import START, tiny_scenario

from ingest.contracts import contract_model
from roadnet import load_network
from roadnet.model import RoadNetwork
from simulators.scenario import IncidentSpec
from simulators.sumo.network_export import build_sumo_network


@pytest.fixture(scope="module")
def grid(tiny_grid: RoadNetwork) -> RoadNetwork:
    """The tiny signalised grid of ``conftest.py``."""
    return tiny_grid


@pytest.fixture(scope="module")
def run(grid: RoadNetwork, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from simulators.sumo.engine import simulate_sumo

    out = tmp_path_factory.mktemp("run")
    simulate_sumo(tiny_scenario(), grid, out, progress=None)
    return out


def test_segment_ids_are_sumo_edge_ids_and_signals_are_guessed(grid, tmp_path) -> None:
    net = build_sumo_network(grid, tmp_path)
    assert sorted(net.edges) == sorted(grid.segments["segment_id"].astype(str))
    assert net.dropped == []
    assert net.traffic_lights > 0
    # lanes as in the project's network
    lanes = dict(zip(grid.segments["segment_id"], grid.segments["lanes"], strict=True))
    assert all(net.lanes[e] == lanes[e] for e in net.edges)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_feeds_follow_the_contracts(run: Path) -> None:
    gps, det = _lines(run / "gps.jsonl"), _lines(run / "detectors.jsonl")
    assert len(gps) > 500 and len(det) > 20
    for model, lines in ((contract_model("gps", strict=True), gps),
                         (contract_model("detectors", strict=True), det)):  # fmt: skip
        for line in lines:
            model.model_validate_json(line)
    loops = list(csv.DictReader((run / "truth" / "detectors.csv").open(encoding="utf-8")))
    assert {r["detector_id"] for r in loops} == {json.loads(x)["detector_id"] for x in det}
    assert all(r["detector_id"] == f"{r['station_id']}__l{r['lane']}" for r in loops)
    # ts within the run
    t0 = START.timestamp() * 1000
    assert all(t0 <= json.loads(x)["ts"] <= t0 + 420_000 for x in gps)


def test_true_fix_positions_lie_on_their_true_segment(run: Path, grid: RoadNetwork) -> None:
    with gzip.open(run / "truth" / "fixes.csv.gz", "rt", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["segment_id"]]
    assert len(rows) > 500
    index = {s: i for i, s in enumerate(grid.segments["segment_id"])}
    x, y = grid.projector.to_metric(np.array([float(r["lon"]) for r in rows]),
                                    np.array([float(r["lat"]) for r in rows]))  # fmt: skip
    seg = np.array([index[r["segment_id"]] for r in rows])
    d = shapely.distance(grid.geom_m[seg], shapely.points(x, y))
    # lanes lie beside the centre line; inside a junction the vehicle is entering the segment
    assert np.quantile(d, 0.95) < 15.0


def test_truth_speeds_agree_with_the_probe_traversals(run: Path) -> None:
    speeds = list(csv.DictReader((run / "truth" / "segment_speeds.csv").open(encoding="utf-8")))
    trav = list(csv.DictReader((run / "truth" / "traversals.csv").open(encoding="utf-8")))
    assert len(speeds) > 100 and len(trav) > 50
    truth = np.array([float(r["speed_kmh"]) for r in speeds])
    probes = np.array([float(r["speed_kmh"]) for r in trav])
    assert truth.min() > 0 and truth.max() < 80 and probes.max() < 90
    # the same traffic seen two ways: medians within a factor of 1.5
    assert 1 / 1.5 < np.median(probes) / np.median(truth) < 1.5


def test_runs_are_deterministic_by_seed(grid: RoadNetwork, run: Path, tmp_path: Path) -> None:
    from simulators.sumo.engine import simulate_sumo

    simulate_sumo(tiny_scenario(), grid, tmp_path / "again", progress=None)
    for name in ("gps.jsonl", "detectors.jsonl", "truth/segment_speeds.csv",
                 "truth/traversals.csv"):  # fmt: skip
        assert (tmp_path / "again" / name).read_bytes() == (run / name).read_bytes(), name
    simulate_sumo(tiny_scenario(seed=6), grid, tmp_path / "other", progress=None)
    assert (tmp_path / "other" / "gps.jsonl").read_bytes() != (run / "gps.jsonl").read_bytes()


def test_a_full_closure_forms_a_queue(grid: RoadNetwork, tmp_path: Path) -> None:
    from simulators.sumo.engine import simulate_sumo

    seg = grid.segments
    busiest = str(seg["segment_id"][seg["road_class"] == "trunk"].iloc[1])
    inc = IncidentSpec(id="inc-1", segment_id=busiest, position=0.8, start_s=60, duration_s=400,
                       kind="full_closure")  # fmt: skip
    simulate_sumo(tiny_scenario(duration_s=600, vehicles=900, incidents=[inc]), grid,
                  tmp_path / "run", progress=None)  # fmt: skip
    (row,) = csv.DictReader((tmp_path / "run" / "truth" / "incidents.csv").open(encoding="utf-8"))
    assert row["incident_id"] == "inc-1" and float(row["max_queue_m"]) > 30.0
    assert row["start"] == "2026-11-25T00:31:00Z" and row["end"] == "2026-11-25T00:37:40Z"
    speeds = [r for r in csv.DictReader((tmp_path / "run" / "truth" / "segment_speeds.csv").open(
        encoding="utf-8")) if r["segment_id"] == busiest]  # fmt: skip
    during = [float(r["speed_kmh"]) for r in speeds if "00:33" <= r["minute"][11:16] <= "00:37"]
    queued = [float(r["queue_m"]) for r in speeds if "00:33" <= r["minute"][11:16] <= "00:37"]
    assert during and max(during) < 10.0 and max(queued) > 0  # standing behind the closure


def test_an_exported_network_loads_back_with_its_ids(grid: RoadNetwork, tmp_path: Path) -> None:
    net = build_sumo_network(grid, tmp_path)
    back = load_network(net.path)
    a = grid.segments.set_index("segment_id")
    b = back.segments.set_index("segment_id").reindex(a.index)
    assert b["lanes"].tolist() == a["lanes"].tolist()
    assert (b["road_class"] == a["road_class"]).all()
    # junction shapes shorten edges a little; lanes lie a few metres beside the centre line
    assert (a["length_m"] - b["length_m"]).abs().max() < 40.0
    mid_a = grid.geom_m.tolist()
    mid_b = back.projector.geoms_to_metric(b.geometry.values)
    d = [ga.interpolate(0.5, normalized=True).distance(gb.interpolate(0.5, normalized=True))
         for ga, gb in zip(mid_a, mid_b, strict=True)]  # fmt: skip
    assert max(d) < 10.0


def test_buses_stop_at_stops_along_their_way(run: Path, grid: RoadNetwork) -> None:
    from simulators.sumo.bus_stops import BusStops, stops_for_trip

    stops = BusStops(np.arange(5), np.zeros(5), np.array(
        [[500.0, 0.0], [100.0, 50.0], [300.0, -100.0], [900.0, 20.0], [450.0, 600.0]]))  # fmt: skip
    got = stops_for_trip(stops, np.array([0.0, 0.0]), np.array([1000.0, 0.0]),
                         np.random.default_rng(0))  # fmt: skip
    # ordered along the way, ≥ 400 m apart, off-corridor stop 4 left out
    assert [k for k, _ in got] == [1, 0, 3]
    assert all(15.0 <= dwell <= 30.0 for _, dwell in got)
    routes = (run / "sumo" / "trips.rou.xml").read_text(encoding="utf-8")
    assert routes.count("<stop busStop=") > 5
    assert "Error" not in (run / "sumo" / "sumo.log").read_text(encoding="utf-8")


WEST_OAKLAND = Path(__file__).resolve().parents[4] / "shared" / "data" / "west-oakland.osm.bz2"


@pytest.mark.skipif(not WEST_OAKLAND.exists(), reason="no shared OSM extract beside the repo")
def test_joined_junctions_drop_short_edges_and_no_trip_uses_them(tmp_path: Path) -> None:
    from simulators.sumo.engine import simulate_sumo

    osm = load_network(WEST_OAKLAND)
    stats = simulate_sumo(tiny_scenario(duration_s=300, vehicles=200), osm, tmp_path, progress=None)
    dropped = set(stats["dropped_segments"])
    assert dropped  # a real OSM extract has junctions a few metres apart
    trips = (tmp_path / "sumo" / "trips.rou.xml").read_text(encoding="utf-8")
    assert not any(f'"{d}"' in trips for d in dropped)
    assert "Error" not in (tmp_path / "sumo" / "sumo.log").read_text(encoding="utf-8")


@pytest.mark.skipif(not WEST_OAKLAND.exists(), reason="no shared OSM extract beside the repo")
def test_osm_signals_become_traffic_lights(tmp_path: Path) -> None:
    from simulators.sumo.network_export import NetOptions

    osm = load_network(WEST_OAKLAND)
    assert osm.node_signal is not None and osm.node_signal.any()
    mapped = tuple(np.flatnonzero(osm.node_signal).tolist())
    net = build_sumo_network(osm, tmp_path, NetOptions(tls_guess=False, join_junctions=False,
                                                       tls_nodes=mapped))  # fmt: skip
    assert net.traffic_lights == len(mapped)
    # no signals named and no guess: none
    assert build_sumo_network(osm, tmp_path / "unknown",
                              NetOptions(tls_guess=False)).traffic_lights == 0  # fmt: skip
