"""``itms evaluate forecast``: speed forecasts scored on multi-day simulated scenarios."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from itms.cli._common import network_from


def evaluate_forecast(args: argparse.Namespace, grid_or) -> int:
    """Simulate (or reuse from ``--work-dir``) the days of the split and print the tables
    (:mod:`evaluation.forecast_eval`): tuning days always, held-out days with
    ``--split held-out``."""
    from analytics.forecast.incident_hold import HoldParams
    from evaluation.forecast_days import DAY_SPLIT, SPECS, describe, load_days
    from evaluation.forecast_eval import ForecastEvalParams, evaluate_split, table
    from roadnet.cities import demo_network_path

    split = args.split or "tuning"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        name = args.network or "haiphong"
        path = str(demo_network_path()) if name == "haiphong" else grid_or(name, args.grid, work)
        network = network_from(path)
        label = name if name in ("haiphong", "grid") else Path(name).stem
        t0 = time.perf_counter()
        spec = SPECS[args.engine]
        tuning = load_days(network, path, work, name=label, engine=args.engine,
                           seeds=DAY_SPLIT["tuning"], spec=spec)  # fmt: skip
        held = []
        if split == "held-out":
            held = load_days(network, path, work, name=label, engine=args.engine,
                             seeds=DAY_SPLIT["held-out"], spec=spec)  # fmt: skip
        print(f"network {label}: {len(network)} segments; days {describe(tuning + held)}")
        params = ForecastEvalParams(hold=None if args.no_incident_hold else HoldParams())
        tune, ho = evaluate_split(network, tuning, held, params)
        print(f"\n{label}, {args.engine}: tuning days (leave one day out), MAE km/h:\n")
        print(table(tune))
        if held:
            print(f"\n{label}, {args.engine}: held-out days (trained on the tuning days):\n")
            print(table(ho))
        print(f"\n{time.perf_counter() - t0:.0f} s")
    return 0
