"""``itms simulate``: simulated feeds with ground truth."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from itms.cli._common import NETWORK_HELP, current_settings, network_from, stop_event

if TYPE_CHECKING:
    from itms.settings import Settings
    from roadnet.model import RoadNetwork
    from simulators.scenario import Scenario


def cmd_simulate(args: argparse.Namespace) -> int:
    from ingest.kafka.clients import make_producer
    from simulators.scenario import Scenario, load_scenario
    from simulators.simulation import Simulation
    from simulators.sinks import FileSink, KafkaSink, MultiSink
    from simulators.truth import TruthWriter

    settings = current_settings()
    scenario = load_scenario(args.scenario) if args.scenario else Scenario()
    updates = {
        k: v
        for k, v in {
            "vehicles": args.vehicles, "duration_s": args.duration, "seed": args.seed,
            "network": args.network, "start": args.start,
        }.items()
        if v is not None
    }  # fmt: skip
    data = scenario.model_dump()
    data.update(updates)
    if args.gps_sigma is not None:
        data["gps"]["sigma_m"] = args.gps_sigma
    if args.interval is not None:
        for vtype in ("motorbike", "car", "taxi", "bus", "truck"):
            data["fleet"].setdefault(vtype, {})["interval_s"] = args.interval
    scenario = Scenario.model_validate(data)
    network = network_from(scenario.network)
    if (args.engine or scenario.engine) == "sumo":
        return _simulate_sumo(args, scenario, network, settings)
    sinks = []
    producer = None
    if args.out_dir:
        sinks.append(FileSink(args.out_dir))
    if args.kafka or not args.out_dir:
        producer = make_producer(settings.kafka)
        sinks.append(KafkaSink(producer, settings.topic("gps"), settings.topic("detectors")))
    truth = TruthWriter(Path(args.out_dir) / "truth") if args.out_dir else None
    stop = stop_event()
    sim = Simulation(scenario, network)
    if args.register_detectors:
        import psycopg

        from store.detectors import DetectorSite, sync_detectors
        from store.network_writer import sync_network

        ids = network.segments["segment_id"].to_numpy()
        sites = [
            DetectorSite(
                s.detector_id, str(ids[s.segment]), s.position_m, s.lanes, "loop", None, None
            )
            for s in sim.detectors.sites
        ]
        with psycopg.connect(settings.dsn) as conn:
            sync_network(conn, network)
            sync_detectors(conn, sites, network)
    try:
        sim.run(MultiSink(*sinks), truth, speedup=args.speedup or None, should_stop=stop.is_set)
    finally:
        if producer is not None:
            producer.close()
    return 0


def _simulate_sumo(
    args: argparse.Namespace, scenario: Scenario, network: RoadNetwork, settings: Settings
) -> int:
    """The SUMO engine: a batch run into ``--out-dir`` (and Kafka with ``--kafka``)."""
    from ingest.kafka.clients import make_producer
    from simulators.sinks import KafkaSink
    from simulators.sumo.engine import simulate_sumo

    if not args.out_dir:
        raise SystemExit("itms simulate --engine sumo: give --out-dir (SUMO runs as a batch;"
                         " --kafka publishes the output too)")  # fmt: skip
    if args.speedup:
        raise SystemExit("itms simulate --engine sumo: no --speedup (SUMO runs as a batch);"
                         " replay the output: itms replay gps DIR/gps.jsonl --speedup N")
    producer = make_producer(settings.kafka) if args.kafka else None
    sink = None if producer is None else KafkaSink(
        producer, settings.topic("gps"), settings.topic("detectors"))  # fmt: skip
    try:
        simulate_sumo(scenario, network, args.out_dir, sink=sink)
    finally:
        if producer is not None:
            producer.close()
    if args.register_detectors:
        import psycopg

        from store.detectors import read_inventory, sync_detectors
        from store.network_writer import sync_network

        sites = read_inventory(Path(args.out_dir) / "truth" / "detectors.csv", network)
        with psycopg.connect(settings.dsn) as conn:
            sync_network(conn, network)
            sync_detectors(conn, sites, network)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms simulate`` to the parser."""
    s = sub.add_parser("simulate", help="simulated GPS probes and detectors, with ground truth")
    s.add_argument("--scenario", help="scenario file (YAML or JSON); options below override it")
    s.add_argument(
        "--engine", choices=["own", "sumo"],
        help="own (default, or the scenario's engine): the project's simulator (live pacing,"
        " Kafka); sumo: SUMO with signals, lanes and the sublane model (a batch run into"
        " --out-dir; see docs/SUMO.md)",
    )  # fmt: skip
    s.add_argument("--network", help=NETWORK_HELP)
    s.add_argument("--vehicles", type=int, help="fleet size")
    s.add_argument("--interval", type=int, help="seconds between fixes, every vehicle type")
    s.add_argument("--gps-sigma", type=float, help="GPS error per axis, metres")
    s.add_argument("--duration", type=int, help="simulated seconds")
    s.add_argument("--start", help="simulated start time, RFC 3339 (default now)")
    s.add_argument("--speedup", type=float, default=0.0, help="pace to wall time; 0 = flat out")
    s.add_argument("--seed", type=int)
    s.add_argument("--out-dir", help="write feeds (JSON lines) and ground truth here")
    s.add_argument("--kafka", action="store_true", help="also publish to Kafka with --out-dir")
    s.add_argument(
        "--register-detectors", action="store_true",
        help="store the simulated detectors in the database inventory",
    )  # fmt: skip
    s.set_defaults(func=cmd_simulate)
