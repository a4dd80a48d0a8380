"""Map-matching accuracy and speed on simulated Hai Phong tracks, as a table.

    python bench/mapmatch_accuracy.py [--vehicles 300] [--duration 900]

For each sampling interval (1, 5, 10, 30 s) and GPS noise level (5, 10, 20 m)
it simulates a run with known truth (no outliers or delivery impairments),
matches every vehicle offline and reports fix accuracy, route-length accuracy
(Newson & Krumm) and matching speed (fixes/s, one process).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from analytics.mapmatch.hmm import MapMatcher, MatchParams
from evaluation.mapmatch_score import score_run
from roadnet import load_network
from simulators.scenario import Scenario
from simulators.simulation import Simulation
from simulators.sinks import FileSink
from simulators.truth import TruthWriter

TYPES = ("motorbike", "car", "taxi", "bus", "truck")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--vehicles", type=int, default=300)
    p.add_argument("--duration", type=int, default=900)
    p.add_argument("--intervals", default="1,5,10,30")
    p.add_argument("--sigmas", default="5,10,20")
    args = p.parse_args()
    net = load_network()
    print("| interval s | GPS sigma m | fixes | fix accuracy | route-length accuracy | fixes/s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for interval in (int(v) for v in args.intervals.split(",")):
        for sigma in (float(v) for v in args.sigmas.split(",")):
            gps = {"sigma_m": sigma, "outlier_p": 0, "duplicate_p": 0, "out_of_order_p": 0,
                   "late_p": 0, "drop_p": 0, "outage_p": 0}  # fmt: skip
            sc = Scenario(start="2026-11-25T08:00:00+07:00", duration_s=args.duration,
                          vehicles=args.vehicles, seed=1, gps=gps,
                          fleet={t: {"interval_s": interval} for t in TYPES})  # fmt: skip
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp)
                Simulation(sc, net).run(FileSink(out), TruthWriter(out / "truth"), progress=None)
                matcher = MapMatcher(net, MatchParams(sigma_m=max(sigma, 5.0)))
                s = score_run(out, matcher)
            print(f"| {interval} | {sigma:g} | {s.fixes:,} | {s.fix_accuracy:.3f} |"
                  f" {s.route_accuracy:.3f} | {s.fixes_per_s:,.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
