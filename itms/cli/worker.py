"""``itms worker``: the analytics workers, the state builder, the incident and forecast workers."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from itms.cli._common import (
    NETWORK_HELP,
    add_incident_params,
    current_settings,
    incident_params,
    log,
    network_from,
    stop_event,
)

if TYPE_CHECKING:
    from analytics.workers.observability import WorkerProbe
    from itms.settings import Settings


def cmd_worker(args: argparse.Namespace) -> int:
    settings = current_settings()
    if (args.params or args.set) and args.kind != "incidents":
        raise SystemExit("--params and --set are for the incident worker only")
    stop = stop_event()
    if args.duration:
        threading.Timer(args.duration, stop.set).start()
    return _run_worker(args, settings, stop, lambda probe: _serve_metrics(args, probe))


def _serve_metrics(args: argparse.Namespace, probe: WorkerProbe) -> None:
    """Serve the worker's /metrics, /healthz and /readyz when a port was given."""
    if args.metrics_port is not None:
        from analytics.workers.observability import serve

        try:
            serve(probe, args.metrics_host, args.metrics_port)
        except OSError as exc:  # the worker matters more than its metrics
            log.warning("metrics not served on port %s: %s", args.metrics_port, exc)


def _run_worker(
    args: argparse.Namespace, settings: Settings, stop: threading.Event,
    expose: Callable[[WorkerProbe], None],
) -> int:  # fmt: skip
    import psycopg

    from analytics.workers.detector_worker import DETECTOR_GROUP
    from analytics.workers.observability import WorkerProbe
    from itms.wiring.workers import build_detector_worker, build_probe_worker
    from store.network_writer import sync_network

    if args.kind in ("probe", "state", "incidents", "forecast"):
        network = network_from(args.network)
        with psycopg.connect(settings.dsn) as conn:
            sync_network(conn, network)
    if args.kind == "incidents":
        from itms.wiring.incidents import run_incident_worker

        params = incident_params(args, settings)
        log.info("incident worker running (one leader per database)")
        run_incident_worker(settings, network, stop, params=params)
        return 0
    if args.kind == "state":
        from itms.wiring.state import run_state_builder

        log.info("state builder running (one leader per database)")
        probe = WorkerProbe("state-builder")
        expose(probe)
        run_state_builder(settings, network, stop, probe=probe)
        return 0
    if args.kind == "forecast":
        from itms.wiring.forecasts import run_forecast_worker

        log.info("forecast worker running (one leader per database)")
        probe = WorkerProbe("forecast")
        expose(probe)
        run_forecast_worker(settings, network, stop, probe=probe)
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms worker`` to the parser."""
    s = sub.add_parser(
        "worker",
        help="run an analytics worker (probe, detectors), the state builder (state), the"
        " incident worker (incidents) or the forecast worker (forecast)",
    )
    s.add_argument("kind", choices=["probe", "detectors", "state", "incidents", "forecast"])
    s.add_argument("--network", help=NETWORK_HELP)
    s.add_argument("--group", help="consumer group (default itms-probe / itms-detectors)")
    s.add_argument("--duration", type=float, help="stop after this many seconds")
    s.add_argument(
        "--metrics-port",
        type=int,
        help="serve /metrics (Prometheus), /healthz and /readyz on this port",
    )
    s.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port")
    add_incident_params(s, "incidents: ")
    s.set_defaults(func=cmd_worker)
