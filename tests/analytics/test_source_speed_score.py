"""Published speeds by source, on a hand-made run folder of a tiny network."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from evaluation.source_speed_score import published_speeds, source_scores
from roadnet import load_network

T0 = "2025-12-01T00:00:00Z"


def _network(tmp: Path):
    """One road of three one-way 200 m segments: a → b → c."""
    lon = [106.68 + k * 0.0019 for k in range(4)]
    features = [{"type": "Feature", "properties": {"id": s, "road_class": "primary",
                                                   "oneway": "yes"},
                 "geometry": {"type": "LineString",
                              "coordinates": [[lon[k], 20.85], [lon[k + 1], 20.85]]}}
                for k, s in enumerate("abc")]  # fmt: skip
    path = tmp / "road.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return load_network(path)


def test_each_minute_is_published_from_its_source_and_scored_per_source(tmp_path: Path) -> None:
    net = _network(tmp_path)
    ids = net.segments["segment_id"].tolist()
    run = tmp_path / "run"
    (run / "truth").mkdir(parents=True)
    minutes = pd.date_range(T0, periods=3, freq="min")
    truth = [f"{t:%Y-%m-%dT%H:%M:%SZ},{s},{v},10,600,0" for t in minutes
             for s, v in zip(ids, (20.0, 30.0, 40.0), strict=True)]  # fmt: skip
    (run / "truth" / "segment_speeds.csv").write_text(
        "minute,segment_id,speed_kmh,travel_time_s,flow_veh_h,queue_m\n" + "\n".join(truth))
    (run / "truth" / "detectors.csv").write_text(
        f"detector_id,segment_id,position_m,station_id,lane\nD,{ids[2]},100,D,0\n")
    ts = int(minutes[0].timestamp() * 1000) + 60_000  # the first minute's reading
    (run / "detectors.jsonl").write_text(json.dumps(
        {"detector_id": "D", "ts": ts, "interval_s": 60, "volume": 10, "occupancy": 0.1,
         "speed_kmh": 50.0}) + "\n")  # fmt: skip
    probe = pd.DataFrame({"segment_id": [ids[0]] * 3, "minute": minutes, "vehicles": 2,
                          "hm": [22.0, 22.0, 22.0]})  # fmt: skip
    pub = published_speeds(run, net, probe)
    first = pub[pub["minute"] == minutes[0]].set_index("segment_id")
    assert first.loc[ids[0], "source"] == "probe" and first.loc[ids[2], "source"] == "detector"
    assert first.loc[ids[1], "source"] == "smoothed"
    scores = source_scores(run, pub)
    assert scores["probe"].segment_minutes == 3
    assert scores["probe"].mae_kmh == pytest.approx(2.0)
    assert scores["detector"].bias_kmh == pytest.approx(10.0)
    assert scores["all"].segment_minutes == len(pub)
    assert scores["all"].coverage == pytest.approx(len(pub) / 9)


def test_the_congestion_evaluation_reports_matching_and_every_source(capsys) -> None:
    """``itms evaluate congestion`` on a short own-simulator run (a calibration day first):
    the matching row and the published speeds by source."""
    from itms.cli import main

    assert main(["evaluate", "congestion", "--vehicles", "30", "--intervals", "10",
                 "--duration", "180", "--seed", "4"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    main_row = next(ln for ln in out.splitlines() if ln.startswith("| 30 | 10 | 10 |"))
    cells = [c.strip() for c in main_row.strip("|").split("|")]
    fix_accuracy, naive, median_error = float(cells[4]), float(cells[5]), float(cells[6])
    assert 0.9 < fix_accuracy <= 1.0 and 0.9 < naive <= 1.0 and 0 < median_error < 15
    by_source = {}
    for ln in out.split("Published speeds by source")[1].splitlines():
        c = [x.strip() for x in ln.strip("|").split("|")]
        if len(c) == 8 and c[0] == "30" and c[4]:
            by_source[c[3]] = (int(c[4].replace(",", "")), float(c[6]))
    assert set(by_source) == {"probe", "detector", "fused", "measured", "smoothed", "all"}
    n = {s: v[0] for s, v in by_source.items()}
    assert n["measured"] == n["probe"] + n["detector"] + n["fused"]
    assert n["all"] == n["measured"] + n["smoothed"] > 0
    judged = next(ln for ln in out.splitlines() if "smoothed ÷ measured" in ln)
    ratio = float(judged.strip("|").split("|")[6].strip().rstrip("×"))
    assert ratio == pytest.approx(by_source["smoothed"][1] / by_source["measured"][1], rel=0.02)
    assert by_source["detector"][1] < 3.0  # the own simulator's loops time their segment
