"""``itms detectors``: the detector inventory."""

from __future__ import annotations

import argparse

from itms.cli._common import NETWORK_HELP, current_settings, network_from


def cmd_detectors(args: argparse.Namespace) -> int:
    import psycopg

    from store.detectors import read_inventory, sync_detectors

    network = network_from(args.network)
    warnings: list[str] = []
    sites = read_inventory(args.file, network, warnings=warnings)
    with psycopg.connect(current_settings().dsn) as conn:
        n = sync_detectors(conn, sites, network)
    print(f"stored {n} detectors")
    for msg in warnings:
        print(f"warning: {msg}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms detectors`` to the parser."""
    s = sub.add_parser("detectors", help="load the detector inventory (CSV)")
    s.add_argument("action", choices=["load"])
    s.add_argument(
        "file", help="CSV: detector_id, segment_id [position_m] or lon/lat [bearing_deg or"
        " direction], optional station_id, lanes, kind (docs/CONTRACTS.md)"
    )
    s.add_argument("--network", help=NETWORK_HELP)
    s.set_defaults(func=cmd_detectors)
