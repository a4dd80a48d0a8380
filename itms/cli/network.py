"""``itms network``: the road network in the database."""

from __future__ import annotations

import argparse

from itms.cli._common import NETWORK_HELP, current_settings, network_from


def cmd_network(args: argparse.Namespace) -> int:
    import psycopg

    from store.network_writer import sync_network

    network = network_from(args.network)
    with psycopg.connect(current_settings().dsn) as conn:
        n = sync_network(conn, network)
    print(f"stored {n} segments from {network.source}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms network`` to the parser."""
    s = sub.add_parser("network", help="store the road network in the database")
    s.add_argument("action", choices=["sync"])
    s.add_argument("--network", help=NETWORK_HELP)
    s.set_defaults(func=cmd_network)
