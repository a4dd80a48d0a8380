"""The simulators: determinism, GPS error statistics, sampling, delivery impairments,
detector consistency with the fundamental relation, and incident queues in the truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from roadnet import load_network
from roadnet.model import RoadNetwork
from simulators.detectors import EFFECTIVE_LENGTH_M
from simulators.scenario import Scenario
from simulators.simulation import Simulation
from simulators.sinks import FileSink
from simulators.truth import TruthWriter


@pytest.fixture(scope="module")
def network() -> RoadNetwork:
    return load_network()


def _incident_site(network: RoadNetwork) -> tuple[str, str, str]:
    """A Lạch Tray segment of 250–700 m whose predecessor is Lạch Tray too, that
    predecessor, and the segment farthest from it (unaffected by the queue)."""
    from simulators.traffic.model import predecessor_table

    seg = network.segments
    preds = predecessor_table(network)
    ok = (seg["name"] == "Lạch Tray") & seg["length_m"].between(250, 700)
    for i in np.flatnonzero(ok):
        same = [p for p in preds[i] if seg["name"].iloc[p] == "Lạch Tray"]
        if same:
            far = seg.geometry.to_crs(network.projector.crs).centroid.distance(
                seg.geometry.to_crs(network.projector.crs).centroid.iloc[i]
            )
            return (
                seg["segment_id"].iloc[i],
                seg["segment_id"].iloc[same[0]],
                seg["segment_id"].iloc[int(far.to_numpy().argmax())],
            )
    raise AssertionError("no suitable Lạch Tray segment in the demo network")


@pytest.fixture(scope="module")
def site(network: RoadNetwork) -> tuple[str, str, str]:
    return _incident_site(network)


def _scenario(incident_segment: str = "", **over: object) -> Scenario:
    data = {
        "name": "test",
        "start": "2026-11-25T07:30:00+07:00",
        "duration_s": 900,
        "seed": 11,
        "vehicles": 1500,
        "incidents": [
            {"id": "inc-1", "segment_id": incident_segment, "position": 0.25, "start_s": 120,
             "duration_s": 600, "kind": "lane_blockage", "lanes_blocked": 1}
        ],
        "detectors": {"spacing": 2, "interval_s": 60},
    }  # fmt: skip
    data.update(over)
    if not incident_segment:
        data["incidents"] = []
    return Scenario.model_validate(data)


def _run(network: RoadNetwork, scenario: Scenario, out: Path) -> dict:
    sim = Simulation(scenario, network)
    return sim.run(FileSink(out), TruthWriter(out / "truth"), progress=None)


@pytest.fixture(scope="module")
def run_dir(network: RoadNetwork, site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    _run(network, _scenario(site[0]), out)
    return out


def _jsonl(path: Path) -> pd.DataFrame:
    with path.open(encoding="utf-8") as fh:
        return pd.DataFrame([json.loads(line) for line in fh])


def _gps(out: Path) -> pd.DataFrame:
    return _jsonl(out / "gps.jsonl")


def test_same_seed_same_feeds_and_truth(network: RoadNetwork, site, tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    sc = _scenario(site[0], duration_s=240, vehicles=300)
    _run(network, sc, a)
    _run(network, sc, b)
    _run(network, sc.model_copy(update={"seed": 12}), c)
    for name in (
        "gps.jsonl",
        "detectors.jsonl",
        "truth/segment_speeds.csv",
        "truth/traversals.csv",
    ):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "gps.jsonl").read_bytes() != (c / "gps.jsonl").read_bytes()


def test_gps_error_matches_configured_sigma(network: RoadNetwork, tmp_path: Path) -> None:
    sigma = 12.0
    gps = {"sigma_m": sigma, "outlier_p": 0.0, "duplicate_p": 0.0}
    _run(network, _scenario(duration_s=300, vehicles=600, gps=gps), tmp_path)
    fixes = _gps(tmp_path)
    truth = pd.read_csv(tmp_path / "truth" / "fixes.csv.gz")
    joined = fixes.merge(truth, left_on=["vehicle_id", "ts"], right_on=["vehicle_id", "ts"],
                         suffixes=("", "_true"))  # fmt: skip
    assert len(joined) > 5000
    ex, ey = network.projector.to_metric(joined["lon"].to_numpy(), joined["lat"].to_numpy())
    tx, ty = network.projector.to_metric(
        joined["lon_true"].to_numpy(), joined["lat_true"].to_numpy()
    )
    dx, dy = ex - tx, ey - ty
    for d in (dx, dy):
        assert abs(d.mean()) < 0.05 * sigma
        assert d.std() == pytest.approx(sigma, rel=0.05)
    # radial error of a 2-D Gaussian: median sigma * sqrt(2 ln 2)
    assert np.median(np.hypot(dx, dy)) == pytest.approx(sigma * 1.1774, rel=0.06)


def test_sampling_intervals_follow_the_fleet(run_dir: Path) -> None:
    truth = pd.read_csv(run_dir / "truth" / "fixes.csv.gz")
    truth["type"] = truth["vehicle_id"].str[:3]
    gaps = truth.sort_values("ts").groupby("vehicle_id")["ts"].diff().dropna() / 1000
    by_type = gaps.groupby(truth.loc[gaps.index, "type"]).agg(lambda g: g.mode().iloc[0])
    assert by_type.to_dict() == {"bus": 10, "car": 10, "mot": 10, "tax": 15, "tru": 30}


def test_delivery_has_duplicates_out_of_order_and_gaps(run_dir: Path) -> None:
    fixes = _gps(run_dir)
    truth = pd.read_csv(run_dir / "truth" / "fixes.csv.gz")
    stats = json.loads((run_dir / "truth" / "run.json").read_text())["stats"]
    assert fixes.duplicated(["vehicle_id", "ts"]).sum() == stats["duplicated"] > 0
    delivered_unique = len(fixes.drop_duplicates(["vehicle_id", "ts"]))
    assert delivered_unique == len(truth) - stats["dropped"]
    back_steps = (fixes.groupby("vehicle_id")["ts"].diff() < 0).sum()
    assert back_steps >= stats["delayed"] * 0.5  # out-of-order arrivals per vehicle


def test_incident_queue_is_visible_upstream_in_true_speeds(run_dir: Path, site) -> None:
    incident_segment, upstream, far = site
    speeds = pd.read_csv(run_dir / "truth" / "segment_speeds.csv", parse_dates=["minute"])
    incidents = pd.read_csv(run_dir / "truth" / "incidents.csv")
    assert incidents["segment_id"].tolist() == [incident_segment]
    assert incidents["max_queue_m"].iloc[0] > 300
    start = pd.Timestamp(incidents["start"].iloc[0])
    sp = speeds.pivot(index="minute", columns="segment_id", values="speed_kmh")
    queue = speeds.pivot(index="minute", columns="segment_id", values="queue_m")
    before = sp[sp.index < start][incident_segment].mean()
    late = sp.index >= start + pd.Timedelta(minutes=5)
    during = sp[late & (sp.index < start + pd.Timedelta(minutes=10))]
    assert during[incident_segment].mean() < 0.5 * before
    # the queue spilled into the segment upstream on the same road, slowing it too
    assert queue.loc[late, upstream].max() > 0
    assert during[upstream].min() < 0.7 * sp[sp.index < start][upstream].mean()
    # far away roads are unaffected
    assert queue[far].max() == 0
    assert abs(during[far].mean() - sp[sp.index < start][far].mean()) < 8


def test_detectors_follow_the_fundamental_relation_and_the_probes(run_dir: Path) -> None:
    det = _jsonl(run_dir / "detectors.jsonl")
    sites = pd.read_csv(run_dir / "truth" / "detectors.csv")
    assert len(sites) >= 5 and len(det) == len(sites) * 15
    det = det.dropna(subset=["speed_kmh"])
    det = det[det["volume"] >= 20]
    from roadnet import load_network as _load

    lanes = _load().segments.set_index("segment_id")["lanes"]
    det = det.merge(sites, on="detector_id")
    flow_lane = det["volume"] * 3600 / det["interval_s"] / det["segment_id"].map(lanes)
    implied = flow_lane / det["speed_kmh"] * EFFECTIVE_LENGTH_M / 1000
    # occupancy = density x effective length; Poisson counts and speed noise around it
    rel = (det["occupancy"] - implied).abs() / implied
    assert rel.median() < 0.12
    # detector speeds agree with the probes passing the same segment in the same minute
    trav = pd.read_csv(run_dir / "truth" / "traversals.csv")
    trav["minute_end"] = (trav["exit_ts"] // 60_000 + 1) * 60_000
    probe = trav.groupby(["segment_id", "minute_end"])["speed_kmh"].agg(
        lambda s: len(s) / (1 / s).sum()
    )
    key = list(zip(det["segment_id"], det["ts"].astype("int64"), strict=True))
    both = [(d, probe.get(k)) for d, k in zip(det["speed_kmh"], key, strict=True)]
    pairs = np.array([(d, p) for d, p in both if p is not None and np.isfinite(p)])
    assert len(pairs) > 20
    assert np.median(np.abs(pairs[:, 0] - pairs[:, 1]) / pairs[:, 1]) < 0.2


def test_scenario_file_errors_are_clear(tmp_path: Path, network: RoadNetwork) -> None:
    from simulators.scenario import load_scenario

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "duration_s: -5\nincidents: [{id: x, segment_id: nope, start_s: 0, duration_s: 10}]\n"
    )
    with pytest.raises(ValueError, match="duration_s"):
        load_scenario(bad)
    ok = tmp_path / "ok.yaml"
    ok.write_text(
        "duration_s: 60\nincidents: [{id: x, segment_id: nope, start_s: 0, duration_s: 10}]\n"
    )
    with pytest.raises(ValueError, match="unknown segment nope"):
        Simulation(load_scenario(ok), network)


def test_truth_traversal_speeds_match_segment_truth(run_dir: Path) -> None:
    """Vehicles drive at the true traffic speed: their harmonic mean tracks the minute truth."""
    trav = pd.read_csv(run_dir / "truth" / "traversals.csv")
    trav = trav[trav["vehicle_type"].isin(["motorbike", "car", "taxi"])]
    trav["minute"] = pd.to_datetime(trav["entry_ts"] // 60_000 * 60_000, unit="ms", utc=True)
    hm = trav.groupby(["segment_id", "minute"])["speed_kmh"].agg(
        ["count", lambda s: len(s) / (1 / s).sum()]
    )
    hm.columns = ["n", "hm"]
    hm = hm[hm["n"] >= 5].reset_index()
    truth = pd.read_csv(run_dir / "truth" / "segment_speeds.csv", parse_dates=["minute"])
    joined = hm.merge(truth, on=["segment_id", "minute"])
    err = (joined["hm"] - joined["speed_kmh"]) / joined["speed_kmh"]
    assert len(joined) > 50
    assert abs(err.median()) < 0.12
