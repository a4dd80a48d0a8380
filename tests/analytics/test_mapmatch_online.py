"""Online map matching with a decision lag agrees with offline matching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analytics.mapmatch.hmm import MapMatcher, MatchParams
from analytics.mapmatch.online import OnlineMatcher, VehicleState
from roadnet import load_network
from simulators.scenario import Scenario
from simulators.simulation import Simulation
from simulators.sinks import FileSink


def _online(matcher: MapMatcher, g: pd.DataFrame, lag: int) -> dict:
    online = OnlineMatcher(matcher, lag=lag)
    state = VehicleState()
    x, y = g["x"].to_numpy(), g["y"].to_numpy()
    cands = matcher.candidates(x, y)
    bounds = np.searchsorted(cands.fix, np.arange(len(g) + 1))
    out = {}
    for i, (ts, h, v) in enumerate(zip(g["ts"], g["heading_deg"], g["speed_kmh"], strict=True)):
        decided = online.push(state, int(ts), ts / 1000, x[i], y[i], float(h), float(v), cands,
                              slice(bounds[i], bounds[i + 1]))  # fmt: skip
        out.update({d.key: d.segment for d in decided})
    out.update({d.key: d.segment for d in online.flush(state)})
    return out


def test_online_matches_like_offline(tmp_path: Path) -> None:
    net = load_network()
    sc = Scenario(start="2026-11-25T09:00:00+07:00", duration_s=300, vehicles=80, seed=3,
                  gps={"duplicate_p": 0, "out_of_order_p": 0, "late_p": 0})  # fmt: skip
    Simulation(sc, net).run(FileSink(tmp_path), None, progress=None)
    fixes = pd.read_json(tmp_path / "gps.jsonl", lines=True, dtype=False)
    fixes = fixes.sort_values(["vehicle_id", "ts"])
    fixes["x"], fixes["y"] = net.projector.to_metric(
        fixes["lon"].to_numpy(), fixes["lat"].to_numpy()
    )
    fixes["speed_kmh"] = fixes.get("speed_kmh", np.nan)
    matcher = MapMatcher(net, MatchParams(sigma_m=8))
    same_long = same_lag = total = 0
    for _, g in fixes.groupby("vehicle_id"):
        off = matcher.match_track(
            g["ts"].to_numpy() / 1000, g["x"].to_numpy(), g["y"].to_numpy(),
            g["heading_deg"].to_numpy(float), g["speed_kmh"].to_numpy(float),
        )  # fmt: skip
        offline = dict(zip(g["ts"].astype(int), off.segment, strict=True))
        long_lag = _online(matcher, g, lag=10_000)
        short_lag = _online(matcher, g, lag=4)
        assert set(long_lag) == set(short_lag) == set(offline)  # every fix decided once
        total += len(offline)
        same_long += sum(long_lag[k] == offline[k] for k in offline)
        same_lag += sum(short_lag[k] == offline[k] for k in offline)
    assert same_long == total  # an unbounded lag is the offline Viterbi
    assert same_lag / total > 0.97
