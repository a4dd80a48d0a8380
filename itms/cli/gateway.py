"""``itms gateway``: feed gateways that poll outside sources into the feed topics."""

from __future__ import annotations

import argparse
import threading

from itms.cli._common import current_settings, log, stop_event


def cmd_gateway(args: argparse.Namespace) -> int:
    from analytics.workers.observability import WorkerProbe, serve
    from itms.wiring.gateways import run_gtfs_rt_gateway

    settings = current_settings()
    stop = stop_event()
    if args.duration:
        threading.Timer(args.duration, stop.set).start()
    probe = WorkerProbe("gtfs-rt-gateway")
    if args.metrics_port is not None:
        try:
            serve(probe, args.metrics_host, args.metrics_port)
        except OSError as exc:  # the gateway matters more than its metrics
            log.warning("metrics not served on port %s: %s", args.metrics_port, exc)
    log.info("polling %s every %.0f s into %s", args.url, args.interval, settings.topic("gps"))
    gw = run_gtfs_rt_gateway(settings, args.url, stop, interval_s=args.interval,
                             vehicle_type=args.vehicle_type, probe=probe)  # fmt: skip
    s = gw.stats
    log.info("gateway stopped: %d polls ok, failed %s, %d positions published, %d repeated",
             s.polls_ok, dict(s.polls_failed), s.published, s.repeated)  # fmt: skip
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms gateway`` to the parser."""
    s = sub.add_parser("gateway", help="poll a live feed into the feed topics")
    gsub = s.add_subparsers(dest="gateway_kind", required=True)
    g = gsub.add_parser(
        "gtfs-rt",
        help="poll a GTFS-Realtime VehiclePositions URL and publish new positions to the GPS"
        " topic (repeats dropped; an unreachable or broken feed is retried with back-off)",
    )  # fmt: skip
    g.add_argument("--url", required=True, help="the feed's URL (protocol buffers, or gzip)")
    g.add_argument("--interval", type=float, default=15.0, help="seconds between polls")
    g.add_argument("--vehicle-type", default="bus", help="vehicle type of the positions")
    g.add_argument("--duration", type=float, help="stop after this many seconds")
    g.add_argument("--metrics-port", type=int, help="serve /metrics, /healthz, /readyz here")
    g.add_argument("--metrics-host", default="127.0.0.1")
    g.set_defaults(func=cmd_gateway)
