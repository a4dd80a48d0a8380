"""What the command modules share: settings, the stop signal, network and incident options."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from itms.settings import Settings

if TYPE_CHECKING:
    from analytics.workers.incident_worker import IncidentWorkerParams
    from roadnet import RoadNetwork

log = logging.getLogger("itms")

#: Help of every --network option (the settings' network when it is set).
NETWORK_HELP = "GeoJSON or OSM file (default: ITMS_NETWORK, else the bundled Hai Phong demo)"


def current_settings() -> Settings:
    """The settings of this run, from the environment (``ITMS_*``)."""
    return Settings()


def stop_event() -> threading.Event:
    """An event set by SIGINT/SIGTERM."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def interval(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m`` → timedelta."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    try:
        return timedelta(**{units[text[-1]]: float(text[:-1])})
    except (KeyError, ValueError) as exc:
        raise SystemExit(f"bad duration {text!r}: use e.g. 90d, 12h or 30m") from exc


def network_from(path: str | None) -> RoadNetwork:
    from roadnet import load_network

    return load_network(path or current_settings().network)


def incident_params(args: argparse.Namespace, settings: Settings) -> IncidentWorkerParams:
    """The incident worker's parameters from ``--params``/``--set`` (else
    ``ITMS_INCIDENT_PARAMS``); a file or override that does not fit exits with its reason."""
    from analytics.incidents.params_file import ParamsError
    from itms.wiring.incidents import worker_params

    try:
        return worker_params(settings, args.params, args.set or ())
    except ParamsError as exc:
        raise SystemExit(f"incident parameters: {exc}") from exc


def add_incident_params(s: argparse.ArgumentParser, prefix: str) -> None:
    s.add_argument("--params", help=f"{prefix}TOML file of detection thresholds that differ from"
                   " the defaults (default: ITMS_INCIDENT_PARAMS)")  # fmt: skip
    s.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help=f"{prefix}override one threshold, e.g."
                   " detector.probe_overdue.min_vehicles=3 (repeatable)")  # fmt: skip
