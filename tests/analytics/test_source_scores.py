"""Detector-sourced speeds and the naive snap baseline, on hand-made run folders."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from evaluation.detector_speed_score import detector_speed_score
from evaluation.naive_snap import naive_snap_accuracy
from roadnet import load_network
from roadnet.placement import bearing_at

T0 = 1_764_547_200_000  # 2025-12-01T00:00Z


def _write(run: Path, readings: list[dict], truth_rows: list[str]) -> None:
    (run / "truth").mkdir(parents=True)
    (run / "detectors.jsonl").write_text("\n".join(json.dumps(r) for r in readings) + "\n")
    (run / "truth" / "detectors.csv").write_text(
        "detector_id,segment_id,position_m,station_id,lane\n"
        "S__l0,a,50,S,0\nS__l1,a,50,S,1\nT,b,50,T,0\n"
    )
    (run / "truth" / "segment_speeds.csv").write_text(
        "minute,segment_id,speed_kmh,travel_time_s,flow_veh_h,queue_m\n" + "\n".join(truth_rows)
    )


def test_lanes_combine_into_the_segment_speed_and_are_scored(tmp_path: Path) -> None:
    readings = [  # minute 00:00 (interval midpoints at 00:00:30)
        {"detector_id": "S__l0", "ts": T0 + 60_000, "interval_s": 60, "volume": 10,
         "occupancy": 0.1, "speed_kmh": 30.0},
        {"detector_id": "S__l1", "ts": T0 + 60_000, "interval_s": 60, "volume": 20,
         "occupancy": 0.1, "speed_kmh": 60.0},
        {"detector_id": "T", "ts": T0 + 60_000, "interval_s": 60, "volume": 0,
         "occupancy": 0.0},
    ]  # fmt: skip
    _write(tmp_path, readings, ["2025-12-01T00:00:00Z,a,40.0,36,1800,0",
                                "2025-12-01T00:00:00Z,b,50.0,29,60,0",
                                "2025-12-01T00:01:00Z,a,45.0,32,1800,0"])  # fmt: skip
    score = detector_speed_score(tmp_path)
    # 30 vehicles / (10/30 + 20/60) h·km⁻¹ = 45 km/h against 40: +5
    assert score.segment_minutes == 1
    assert score.mae_kmh == pytest.approx(5.0) and score.bias_kmh == pytest.approx(5.0)
    assert score.coverage == pytest.approx(1 / 3)  # loop b counted nobody; minute 00:01 none


def test_naive_snap_takes_the_direction_from_the_heading(tmp_path: Path) -> None:
    net = load_network()
    rev = net.reverse
    k = int(np.flatnonzero((rev >= 0) & (net.segments["length_m"].to_numpy() > 200))[0])
    lon, lat = net.segments.geometry.iloc[k].interpolate(0.5, normalized=True).coords[0]
    heading = float(bearing_at(net.geom_m[[k]], np.array([net.segments["length_m"].iloc[k] / 2])
                               )[0])  # fmt: skip
    ids = net.segments["segment_id"]
    (tmp_path / "truth").mkdir()
    fixes = [{"vehicle_id": "v", "ts": T0 + i, "lon": lon, "lat": lat,
              "heading_deg": (heading + 180 * (i % 2)) % 360} for i in range(4)]  # fmt: skip
    (tmp_path / "gps.jsonl").write_text("\n".join(json.dumps(f) for f in fixes) + "\n")
    truth = [f"v,{T0 + i},{lon},{lat},{ids.iloc[k if i % 2 == 0 else rev[k]]},0,30"
             for i in range(3)] + [f"v,{T0 + 3},{lon},{lat},{ids.iloc[k]},0,30"]  # fmt: skip
    with gzip.open(tmp_path / "truth" / "fixes.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write("vehicle_id,ts,lon,lat,segment_id,offset_m,speed_kmh\n" + "\n".join(truth))
    # fixes 0–2 snap to their true direction; fix 3 heads the other way from its truth
    assert naive_snap_accuracy(tmp_path, net) == pytest.approx(0.75)
