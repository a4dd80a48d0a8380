"""``itms evaluate``: scoring against simulator truth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itms.cli._common import add_incident_params, current_settings, incident_params, network_from

if TYPE_CHECKING:
    from evaluation.incident_eval import EvalConfig


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.what == "incidents":
        return _evaluate_incidents(args)
    if args.what == "forecast":
        from itms.cli.evaluate_forecast import evaluate_forecast

        return evaluate_forecast(args, _grid_or)
    import tempfile

    from evaluation.congestion_eval import (
        HEADER,
        SOURCES_HEADER,
        evaluate_run,
        source_rows,
        table_row,
    )

    with tempfile.TemporaryDirectory() as tmp:
        network = network_from(_grid_or(args.network, args.grid, Path(tmp)))
    args.duration = args.duration or 900
    args.seed = 4 if args.seed is None else args.seed
    print(HEADER, flush=True)
    by_source: list[str] = []
    for n in (int(v) for v in args.vehicles.split(",")):
        for interval in (int(v) for v in args.intervals.split(",")):
            for sigma in (float(v) for v in args.sigmas.split(",")):
                row = evaluate_run(network, vehicles=n, interval_s=interval, sigma_m=sigma,
                                   duration_s=args.duration, seed=args.seed,
                                   engine=args.engine,
                                   history=args.calibration_day)  # fmt: skip
                print(table_row(row), flush=True)
                by_source.extend(source_rows(row))
    print("\nPublished speeds by source (what the state builder would publish each minute):\n")
    print(SOURCES_HEADER)
    print("\n".join(by_source))
    return 0


def _grid_or(network: str | None, size: int, tmp: Path) -> str | None:
    """``network``, or for ``grid`` a synthetic grid city of ``size`` × ``size`` written
    into ``tmp``."""
    if network != "grid":
        return network
    from simulators.synthetic_grid import write_grid

    return str(write_grid(tmp / "grid.geojson", rows=size, cols=size))


def _eval_config(args: argparse.Namespace, **what: Any) -> EvalConfig:
    """An incident evaluation of ``what`` (runs, seeds, …) judged with the worker's
    parameters (defaults, ``--params``, ``--set``)."""
    from evaluation.incident_eval import EvalConfig

    wp = incident_params(args, current_settings())
    return EvalConfig(detector=wp.detector, tracker=wp.tracker,
                      availability_lag_s=wp.availability_lag_s, windows_min=wp.windows_min,
                      detector_lag_s=wp.detector_lag_s, stop_s=wp.stop_s,
                      recent_exit_s=wp.recent_exit_s, **what)  # fmt: skip


def _evaluate_incidents(args: argparse.Namespace) -> int:
    import tempfile

    from evaluation.incident_eval import HEADER, evaluate, table_row

    if args.split:
        return _evaluate_split(args)
    args.history_days = 3 if args.history_days is None else args.history_days
    args.duration = args.duration or 3600
    args.seed = 1 if args.seed is None else args.seed
    with tempfile.TemporaryDirectory() as tmp:
        path = _grid_or(args.network or "grid", args.grid, Path(tmp))
        network = network_from(path)
        cfg = _eval_config(args, runs=args.runs, duration_s=args.duration,
                           incidents_per_run=args.incidents, penetration=args.penetration,
                           history_days=args.history_days, seed=args.seed,
                           incident_kind=args.incident_kind,
                           sumo_trips_per_hour=args.trips_per_hour, work_dir=args.work_dir,
                           engine=args.engine)  # fmt: skip
        print(f"network {network.source}: {len(network)} directed segments", flush=True)
        for text in args.set or ():
            print(f"parameter {text}", flush=True)
        rows, meta = evaluate(network, cfg, network_path=path,
                              progress=lambda s: print(s, flush=True))  # fmt: skip
    print(f"\n{meta['hours']:.1f} h simulated on {meta['segments']} segments, decision units"
          f" per minute {meta['units']}, {meta['wall_s']:.0f} s\n")  # fmt: skip
    print(HEADER)
    for r in rows:
        print(table_row(r))
    return 0


def _evaluate_split(args: argparse.Namespace) -> int:
    """``--split tuning|held-out``: every SUMO scenario of the split, scored per scenario and
    added up per kind (:mod:`evaluation.incident_split`)."""
    import tempfile
    from dataclasses import replace

    from evaluation.incident_eval import HEADER, evaluate, table_row
    from evaluation.incident_split import (
        PENETRATION,
        TRIPS_PER_HOUR,
        combined,
        scenarios,
    )
    from roadnet.cities import demo_network_path

    if args.engine != "sumo":
        print("itms evaluate incidents: --split needs --engine sumo", file=sys.stderr)
        return 2
    history = 4 if args.history_days is None else args.history_days
    base = _eval_config(args, runs=1, duration_s=args.duration or 3600,
                        penetration=PENETRATION, history_days=history,
                        incident_kind="full_closure", engine="sumo",
                        sumo_trips_per_hour=TRIPS_PER_HOUR)  # fmt: skip
    by_kind: dict[str, list[list]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work_dir or tmp)
        paths = {"grid": str(_grid_or("grid", args.grid, Path(tmp))),
                 "haiphong": str(demo_network_path())}
        networks = {k: network_from(v) for k, v in paths.items()}
        for sc in scenarios(args.split):
            cfg = replace(base, seed=sc.seed, incidents_per_run=sc.incidents,
                          work_dir=str(work / sc.name),
                          history_dir=str(work / f"{sc.network}-history"))  # fmt: skip
            rows, meta = evaluate(networks[sc.network], cfg, network_path=paths[sc.network],
                                  progress=None)  # fmt: skip
            print(f"\n{sc.name}: {meta['hours']:.1f} h on {meta['segments']} segments,"
                  f" {history} history days, {meta['wall_s']:.0f} s", flush=True)  # fmt: skip
            print(HEADER)
            for r in rows:
                if r.method.startswith("fused"):
                    print(table_row(r), flush=True)
            by_kind.setdefault(sc.kind, []).append(rows)
    for kind, runs in by_kind.items():
        print(f"\n{args.split}, {kind} ({len(runs)} scenarios, {history} history days),"
              " every method:\n")
        print(HEADER)
        for k in range(len(runs[0])):
            print(table_row(combined(rows[k] for rows in runs)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms evaluate`` to the parser."""
    s = sub.add_parser(
        "evaluate",
        help="score map matching and segment speeds (congestion), incident detection"
        " (incidents) or speed forecasts (forecast) against simulator truth",
    )
    s.add_argument("what", choices=["congestion", "incidents", "forecast"])
    s.add_argument(
        "--network",
        help="GeoJSON or OSM file, or 'grid': a synthetic grid city of about 1,000 segments"
        " (default: incidents 'grid'; congestion ITMS_NETWORK, else the bundled Hai Phong demo)",
    )
    s.add_argument(
        "--engine", choices=["own", "sumo"], default="own",
        help="simulation engine; with sumo all traffic is simulated: congestion probes are 10 %%"
        " of it, incidents --penetration of it",
    )  # fmt: skip
    s.add_argument("--runs", type=int, default=4, help="incidents: simulated runs")
    s.add_argument("--incidents", type=int, default=4, help="incidents: per run")
    s.add_argument("--penetration", type=float, default=0.05, help="incidents: probe share")
    s.add_argument("--history-days", type=int,
                   help="incidents: profile days (3; with --split 4; 0: a cold start)")
    s.add_argument(
        "--split", choices=["tuning", "held-out"],
        help="incidents with --engine sumo: every scenario of the SUMO split (grid and Hai"
        " Phong, an incident-free hour and one with 4 closures per seed), added up; forecast:"
        " tuning days (seeds 1-3, leave one day out) or also the held-out days (seeds 4-5)",
    )  # fmt: skip
    s.add_argument(
        "--incident-kind",
        choices=["lane_blockage", "full_closure", "stalled_vehicle", "crawl"],
        default="lane_blockage", help="incidents: what the simulated incidents are",
    )  # fmt: skip
    s.add_argument(
        "--trips-per-hour", type=int, default=6000,
        help="incidents with --engine sumo: trips per hour at the weekday peak (all traffic)",
    )  # fmt: skip
    s.add_argument("--grid", type=int, default=16, help="grid size (16: 960 seg)")
    s.add_argument("--work-dir", help="incidents: keep the simulated runs here (reused)")
    s.add_argument("--vehicles", default="300,1000", help="probe fleet sizes (comma list)")
    s.add_argument("--intervals", default="1,5,10,30", help="sampling intervals, s")
    s.add_argument("--sigmas", default="10", help="GPS noise levels, m")
    s.add_argument(
        "--duration", type=int, help="simulated seconds per run (congestion 900, incidents 3600)"
    )
    s.add_argument("--seed", type=int, help="congestion 4, incidents 1")
    s.add_argument(
        "--calibration-day", action=argparse.BooleanOptionalAction, default=True,
        help="congestion: first simulate another day (seed + 1000) and learn the loops' speed"
        " factors on it, as the state builder learns them from past days",
    )  # fmt: skip
    s.add_argument("--no-incident-hold", action="store_true",
                   help="forecast: leave blockages' queues to the model (an ablation)")
    add_incident_params(s, "incidents: ")
    s.set_defaults(func=cmd_evaluate)
