"""The ``itms`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from itms.settings import Settings

log = logging.getLogger("itms")


def _settings() -> Settings:
    return Settings()


def _stop_event() -> threading.Event:
    """An event set by SIGINT/SIGTERM."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


# -- stack ---------------------------------------------------------------------------------
def cmd_stack(args: argparse.Namespace) -> int:
    from itms import stack

    settings = _settings()
    if args.action == "up":
        t0 = time.monotonic()
        stack.up(settings)
        print(f"stack up in {time.monotonic() - t0:.1f} s")
        args.action = "status"
    if args.action == "down":
        stack.down(settings)
        print("stack down")
        return 0
    rows = stack.status(settings)
    if args.json:
        print(json.dumps(rows, default=str, indent=2))
    else:
        for row in rows:
            state = "running" if row.get("running") else "stopped"
            where = "external" if row.get("external") else "local"
            extra = {
                k: v for k, v in row.items() if k not in {"name", "running", "external", "address"}
            }
            print(f"{row['name']:<11} {state:<8} {where:<8} {row.get('address', '')}")
            for k, v in extra.items():
                print(f"    {k}: {v}")
    return 0 if all(r.get("running") for r in rows) or args.action == "status" else 1


def cmd_db(args: argparse.Namespace) -> int:
    import psycopg

    from store.migrate import migrate
    from store.partitions import PartitionManager, set_retention, ts_tables
    from store.rollups import refresh_dirty_rollups

    dsn = _settings().dsn
    if args.action == "migrate":
        applied = migrate(dsn)
        print(f"applied migrations: {applied or 'none (up to date)'}")
        return 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        if args.action == "maintain":
            now = datetime.now(UTC)
            manager = PartitionManager()
            created = manager.create_ahead(conn, now, ahead=timedelta(days=args.ahead_days))
            dropped = manager.apply_retention(conn, now)
            hours = 0
            while n := refresh_dirty_rollups(conn):
                hours += n
            print(f"partitions created: {created}; dropped by retention: {len(dropped)};"
                  f" rollup hours refreshed: {hours}")  # fmt: skip
        elif args.action == "retention":
            if args.table:
                keep = None if args.keep in (None, "forever") else _interval(args.keep)
                set_retention(conn, args.table, keep)
            for spec in ts_tables(conn).values():
                print(f"{spec.name:<20} chunk {spec.chunk}  keep {spec.retention or 'forever'}")
    return 0


def _interval(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m`` → timedelta."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    try:
        return timedelta(**{units[text[-1]]: float(text[:-1])})
    except (KeyError, ValueError) as exc:
        raise SystemExit(f"bad duration {text!r}: use e.g. 90d, 12h or 30m") from exc


def cmd_topics(args: argparse.Namespace) -> int:
    from ingest.kafka.clients import ensure_topics

    for name in ensure_topics(_settings().kafka):
        print(name)
    return 0


def _network(path: str | None):
    from roadnet import load_network

    settings = _settings()
    return load_network(path or settings.network)


def _incident_params(args: argparse.Namespace, settings: Any):
    """The incident worker's parameters from ``--params``/``--set`` (else
    ``ITMS_INCIDENT_PARAMS``); a file or override that does not fit exits with its reason."""
    from analytics.incidents.params_file import ParamsError
    from analytics.workers.incident_worker import worker_params

    try:
        return worker_params(settings, args.params, args.set or ())
    except ParamsError as exc:
        raise SystemExit(f"incident parameters: {exc}") from exc


def cmd_incident_params(args: argparse.Namespace) -> int:
    from analytics.incidents.params_file import to_toml

    print(to_toml(_incident_params(args, _settings())), end="")
    return 0


def cmd_network(args: argparse.Namespace) -> int:
    import psycopg

    from store.network_writer import sync_network

    network = _network(args.network)
    with psycopg.connect(_settings().dsn) as conn:
        n = sync_network(conn, network)
    print(f"stored {n} segments from {network.source}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    settings = _settings()
    if (args.params or args.set) and args.kind != "incidents":
        raise SystemExit("--params and --set are for the incident worker only")
    stop = _stop_event()
    if args.duration:
        threading.Timer(args.duration, stop.set).start()
    return _run_worker(args, settings, stop, lambda probe: _serve_metrics(args, probe))


def _serve_metrics(args: argparse.Namespace, probe: Any) -> None:
    """Serve the worker's /metrics, /healthz and /readyz when a port was given."""
    if args.metrics_port is not None:
        from analytics.workers.observability import serve

        try:
            serve(probe, args.metrics_host, args.metrics_port)
        except OSError as exc:  # the worker matters more than its metrics
            log.warning("metrics not served on port %s: %s", args.metrics_port, exc)


def _run_worker(
    args: argparse.Namespace, settings: Any, stop: threading.Event,
    expose: Callable[[Any], None],
) -> int:  # fmt: skip
    import psycopg

    from analytics.workers.detector_worker import DETECTOR_GROUP
    from analytics.workers.observability import WorkerProbe
    from itms.wiring.workers import build_detector_worker, build_probe_worker
    from store.network_writer import sync_network

    if args.kind in ("probe", "state", "incidents"):
        network = _network(args.network)
        with psycopg.connect(settings.dsn) as conn:
            sync_network(conn, network)
    if args.kind == "incidents":
        from analytics.workers.incident_worker import run_incident_worker

        params = _incident_params(args, settings)
        log.info("incident worker running (one leader per database)")
        run_incident_worker(settings, network, stop, params=params)
        return 0
    if args.kind == "state":
        from analytics.workers.state_builder import run_state_builder

        log.info("state builder running (one leader per database)")
        probe = WorkerProbe("state-builder")
        expose(probe)
        run_state_builder(settings, network, stop, probe=probe)
        return 0
    if args.kind == "probe":
        worker = build_probe_worker(settings, network, group=args.group or "itms-probe")
    else:
        worker = build_detector_worker(settings, group=args.group or DETECTOR_GROUP)
    expose(worker.probe)
    from analytics.workers.probe_worker import tune_gc

    tune_gc()
    log.info("%s worker consuming %s as %s", args.kind, worker.topic, worker.group)
    worker.run(stop)
    log.info("%s worker stopped: %s", args.kind, worker.stats)
    return 0


def cmd_detectors(args: argparse.Namespace) -> int:
    import psycopg

    from store.detectors import read_inventory, sync_detectors

    network = _network(args.network)
    sites = read_inventory(args.file, network)
    with psycopg.connect(_settings().dsn) as conn:
        n = sync_detectors(conn, sites, network)
    print(f"stored {n} detectors")
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from itms.wiring.api import build_app as create_app

    settings = _settings()
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        log_level="warning",
    )
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from ingest.kafka.clients import make_producer
    from simulators.scenario import Scenario, load_scenario
    from simulators.simulation import Simulation
    from simulators.sinks import FileSink, KafkaSink, MultiSink
    from simulators.truth import TruthWriter

    settings = _settings()
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
    network = _network(scenario.network)
    sinks = []
    producer = None
    if args.out_dir:
        sinks.append(FileSink(args.out_dir))
    if args.kafka or not args.out_dir:
        producer = make_producer(settings.kafka)
        sinks.append(KafkaSink(producer, settings.topic("gps"), settings.topic("detectors")))
    truth = TruthWriter(Path(args.out_dir) / "truth") if args.out_dir else None
    stop = _stop_event()
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


def cmd_mapmatch(args: argparse.Namespace) -> int:
    from analytics.mapmatch.hmm import MatchParams
    from analytics.mapmatch.offline import match_file

    params = MatchParams(sigma_m=args.sigma, beta_m=args.beta, radius_m=args.radius)
    t0 = time.monotonic()
    report = match_file(_network(args.network), args.points, args.out, params)
    dt = time.monotonic() - t0
    print(
        f"{report.fixes} fixes of {report.vehicles} vehicles, {report.matched} matched,"
        f" {report.invalid} invalid rows skipped, {report.duplicates} duplicates; {dt:.1f} s",
        file=sys.stderr,
    )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from ingest.batching import PartitionBatcher
    from ingest.kafka.clients import make_producer
    from ingest.records import read_records
    from ingest.replay import replay

    settings = _settings()
    producer = make_producer(settings.kafka)
    topic = settings.topic(args.kind)
    batcher = None
    if args.batch > 0:
        batcher = PartitionBatcher(
            lambda part, key, value: producer.send(topic, value=value, key=key, partition=part),
            len(producer.partitions_for(topic)), kind=args.kind, max_items=args.batch,
        )  # fmt: skip
    try:
        replay(
            read_records(args.file),
            lambda key, value: producer.send(topic, value=value, key=key),
            kind=args.kind,
            speedup=None if args.fast else args.speedup,
            shift_to_now=args.shift_to_now,
            batcher=batcher,
        )
    finally:
        producer.flush()
        producer.close()
    return 0


def cmd_deadletter(args: argparse.Namespace) -> int:
    from ingest.deadletter import parse_headers
    from ingest.kafka.clients import make_consumer

    settings = _settings()
    consumer = make_consumer(settings.kafka, None, consumer_timeout_ms=3000)
    from kafka.structs import TopicPartition

    topic = settings.topic("deadletter")
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(parts)
    ends = consumer.end_offsets(parts)
    for tp in parts:
        consumer.seek(tp, max(0, ends[tp] - args.n))
    for rec in consumer:
        meta = parse_headers(rec.headers)
        value = (rec.value or b"")[:200].decode("utf-8", "replace")
        print(
            f"{meta.get('source.topic')}[{meta.get('source.partition')}]@"
            f"{meta.get('source.offset')} {meta.get('code')}: {meta.get('reason')}\n    {value}"
        )
    consumer.close()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from itms import stack

    settings = _settings()
    print("starting the local stack (first run downloads Kafka; a few minutes)...", flush=True)
    stack.up(settings)
    env = dict(os.environ)
    exe = [sys.executable, "-m", "itms.cli"]
    net = ["--network", args.network] if args.network else []

    def metrics(k: int) -> list[str]:  # the workers' /metrics next to the API's port
        return ["--metrics-port", str(settings.api_port + 1100 + k)]

    procs = [
        subprocess.Popen([*exe, "worker", "probe", *net, *metrics(1)], env=env),
        subprocess.Popen([*exe, "worker", "detectors", *metrics(2)], env=env),
        subprocess.Popen([*exe, "worker", "state", *net, *metrics(3)], env=env),
        subprocess.Popen([*exe, "worker", "incidents", *net], env=env),
        subprocess.Popen([*exe, "api"], env=env),
    ]
    api = f"http://{settings.api_host}:{settings.api_port}"
    print(
        f"\nITMS demo running.\n  Dashboard:      {api}/\n  API docs:       {api}/docs\n"
        f"  Segment speeds: {api}/v1/segments/current\n"
        f"  Worker metrics: http://127.0.0.1:{settings.api_port + 1101}..{settings.api_port + 1103}"
        "/metrics (probe, detectors, state)\nPress Ctrl-C to stop.\n",
        flush=True,
    )
    sim = [
        *exe,
        "simulate",
        *net,
        "--vehicles",
        str(args.vehicles),
        "--speedup",
        "1",
        "--duration",
        str(int(args.duration or 365 * 86400)),
        "--register-detectors",
    ]
    procs.append(subprocess.Popen(sim, env=env))
    stop = _stop_event()
    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        while not stop.is_set():
            if deadline and time.monotonic() >= deadline:
                break
            if any(p.poll() not in (None, 0) for p in procs):
                print("a demo process failed; stopping", file=sys.stderr)
                return 1
            stop.wait(1.0)
        time.sleep(3.0 if deadline else 0)  # let the worker store the last fixes
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        if args.stop_stack:
            stack.down(settings)
    print("demo stopped")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.what == "incidents":
        return _evaluate_incidents(args)
    from evaluation.congestion_eval import HEADER, evaluate_run, table_row

    network = _network(args.network)
    args.duration = args.duration or 900
    args.seed = 4 if args.seed is None else args.seed
    print(HEADER, flush=True)
    for n in (int(v) for v in args.vehicles.split(",")):
        for interval in (int(v) for v in args.intervals.split(",")):
            for sigma in (float(v) for v in args.sigmas.split(",")):
                row = evaluate_run(network, vehicles=n, interval_s=interval, sigma_m=sigma,
                                   duration_s=args.duration, seed=args.seed)  # fmt: skip
                print(table_row(row), flush=True)
    return 0


def _evaluate_incidents(args: argparse.Namespace) -> int:
    import tempfile

    from evaluation.incident_eval import HEADER, EvalConfig, evaluate, table_row

    args.duration = args.duration or 3600
    args.seed = 1 if args.seed is None else args.seed
    with tempfile.TemporaryDirectory() as tmp:
        path = args.network
        if path is None or path == "grid":
            from simulators.synthetic_grid import write_grid

            path = str(write_grid(Path(tmp) / "grid.geojson", rows=args.grid, cols=args.grid))
        network = _network(path)
        wp = _incident_params(args, _settings())
        cfg = EvalConfig(runs=args.runs, duration_s=args.duration,
                         incidents_per_run=args.incidents, penetration=args.penetration,
                         history_days=args.history_days, seed=args.seed,
                         work_dir=args.work_dir, detector=wp.detector, tracker=wp.tracker,
                         availability_lag_s=wp.availability_lag_s, windows_min=wp.windows_min,
                         detector_lag_s=wp.detector_lag_s,
                         stop_s=wp.stop_s, recent_exit_s=wp.recent_exit_s)  # fmt: skip
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


def _add_incident_params(s: argparse.ArgumentParser, prefix: str) -> None:
    s.add_argument("--params", help=f"{prefix}TOML file of detection thresholds that differ from"
                   " the defaults (default: ITMS_INCIDENT_PARAMS)")  # fmt: skip
    s.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help=f"{prefix}override one threshold, e.g."
                   " detector.probe_overdue.min_vehicles=3 (repeatable)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``itms``."""
    p = argparse.ArgumentParser(prog="itms", description="Intelligent Transport Monitoring System")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("stack", help="start, stop or inspect the local Kafka and PostgreSQL")
    s.add_argument("action", choices=["up", "down", "status"])
    s.add_argument("--json", action="store_true", help="status as JSON")
    s.set_defaults(func=cmd_stack)

    s = sub.add_parser("db", help="database schema, partitions, retention and rollups")
    s.add_argument("action", choices=["migrate", "maintain", "retention"])
    s.add_argument("table", nargs="?", help="retention: time-series table to change")
    s.add_argument("keep", nargs="?", help="retention: how long to keep rows (90d, 12h, forever)")
    s.add_argument("--ahead-days", type=int, default=7, help="maintain: partitions ahead")
    s.set_defaults(func=cmd_db)

    s = sub.add_parser("topics", help="create the Kafka topics")
    s.add_argument("action", choices=["create"])
    s.set_defaults(func=cmd_topics)

    s = sub.add_parser(
        "evaluate",
        help="score map matching and segment speeds (congestion) or incident detection"
        " (incidents) against simulator truth",
    )
    s.add_argument("what", choices=["congestion", "incidents"])
    s.add_argument(
        "--network",
        help="GeoJSON or OSM file (default: bundled Hai Phong demo; incidents: 'grid', a"
        " synthetic grid city of about 1,000 segments)",
    )
    s.add_argument("--runs", type=int, default=4, help="incidents: simulated runs")
    s.add_argument("--incidents", type=int, default=4, help="incidents: per run")
    s.add_argument("--penetration", type=float, default=0.05, help="incidents: probe share")
    s.add_argument("--history-days", type=int, default=3, help="incidents: profile days")
    s.add_argument("--grid", type=int, default=16, help="incidents: grid size (16: 960 seg)")
    s.add_argument("--work-dir", help="incidents: keep the simulated runs here (reused)")
    s.add_argument("--vehicles", default="300,1000", help="probe fleet sizes (comma list)")
    s.add_argument("--intervals", default="1,5,10,30", help="sampling intervals, s")
    s.add_argument("--sigmas", default="10", help="GPS noise levels, m")
    s.add_argument(
        "--duration", type=int, help="simulated seconds per run (congestion 900, incidents 3600)"
    )
    s.add_argument("--seed", type=int, help="congestion 4, incidents 1")
    _add_incident_params(s, "incidents: ")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("network", help="store the road network in the database")
    s.add_argument("action", choices=["sync"])
    s.add_argument("--network", help="GeoJSON or OSM file (default: bundled Hai Phong demo)")
    s.set_defaults(func=cmd_network)

    s = sub.add_parser(
        "worker",
        help="run an analytics worker (probe, detectors), the state builder (state) or the"
        " incident worker (incidents)",
    )
    s.add_argument("kind", choices=["probe", "detectors", "state", "incidents"])
    s.add_argument("--network", help="GeoJSON or OSM file (default: bundled Hai Phong demo)")
    s.add_argument("--group", help="consumer group (default itms-probe / itms-detectors)")
    s.add_argument("--duration", type=float, help="stop after this many seconds")
    s.add_argument("--metrics-port", type=int,
                   help="serve /metrics (Prometheus), /healthz and /readyz on this port")
    s.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port")
    _add_incident_params(s, "incidents: ")
    s.set_defaults(func=cmd_worker)

    s = sub.add_parser(
        "incident-params",
        help="print the incident detector's effective thresholds as a TOML parameters file",
    )
    _add_incident_params(s, "")
    s.set_defaults(func=cmd_incident_params)

    s = sub.add_parser("detectors", help="load the detector inventory (CSV)")
    s.add_argument("action", choices=["load"])
    s.add_argument(
        "file", help="CSV: detector_id, segment_id or lon/lat, [position_m, lanes, kind]"
    )
    s.add_argument("--network", help="GeoJSON or OSM file (default: bundled Hai Phong demo)")
    s.set_defaults(func=cmd_detectors)

    s = sub.add_parser("api", help="serve the HTTP API")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_api)

    from itms.accounts_cli import register as register_account_commands

    register_account_commands(sub)

    s = sub.add_parser("simulate", help="simulated GPS probes and detectors, with ground truth")
    s.add_argument("--scenario", help="scenario file (YAML or JSON); options below override it")
    s.add_argument("--network", help="GeoJSON or OSM file (default: bundled Hai Phong demo)")
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

    s = sub.add_parser("replay", help="publish a recorded CSV/JSON-lines feed to Kafka")
    s.add_argument("kind", choices=["gps", "detectors"])
    s.add_argument("file")
    s.add_argument("--speedup", type=float, default=1.0, help="replay N times faster")
    s.add_argument("--fast", action="store_true", help="as fast as possible")
    s.add_argument("--shift-to-now", action="store_true", help="restamp so the feed starts now")
    s.add_argument(
        "--batch", type=int, default=0, metavar="N",
        help="publish batches of up to N records per partition (JSON arrays) instead of one"
        " message per record",
    )  # fmt: skip
    s.set_defaults(func=cmd_replay)

    s = sub.add_parser("mapmatch", help="match a GPS file to the road network (offline)")
    s.add_argument("--network", help="GeoJSON or OSM file (default: bundled Hai Phong demo)")
    s.add_argument("--points", required=True, help="CSV or JSON lines with GPS contract columns")
    s.add_argument("--out", required=True, help="output CSV (or .jsonl)")
    s.add_argument("--sigma", type=float, default=10.0, help="GPS error, metres")
    s.add_argument("--beta", type=float, default=30.0, help="transition scale, metres")
    s.add_argument("--radius", type=float, default=60.0, help="candidate search radius, metres")
    s.set_defaults(func=cmd_mapmatch)

    s = sub.add_parser("deadletter", help="show the latest dead letters")
    s.add_argument("-n", type=int, default=20, help="per partition")
    s.set_defaults(func=cmd_deadletter)

    s = sub.add_parser("demo", help="stack + simulated Hai Phong feed + worker + API")
    s.add_argument("--duration", type=float, help="stop after this many seconds")
    s.add_argument("--vehicles", type=int, default=800)
    s.add_argument("--network", help="GeoJSON or OSM file (default: bundled Hai Phong demo)")
    s.add_argument("--stop-stack", action="store_true", help="stop Kafka and PostgreSQL at the end")
    s.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``itms`` console script."""
    args = build_parser().parse_args(argv)
    from itms.logs import configure

    configure(fmt=os.environ.get("ITMS_LOG_FORMAT", "text"), verbose=args.verbose)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
