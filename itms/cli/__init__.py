"""The ``itms`` command line: one module per command group, each registering its subcommands."""

from __future__ import annotations

import argparse
import os

from itms.accounts_cli import register as register_account_commands
from itms.cli import (
    api,
    db,
    deadletter,
    demo,
    detectors,
    evaluate,
    feed,
    forecast,
    gateway,
    incident_params,
    mapmatch,
    network,
    replay,
    simulate,
    stack,
    topics,
    worker,
)

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``itms``."""
    p = argparse.ArgumentParser(prog="itms", description="Intelligent Transport Monitoring System")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    for group in (stack, db, topics, evaluate, network, worker, incident_params, detectors, api):
        group.register(sub)
    register_account_commands(sub)
    for group in (simulate, replay, feed, gateway, mapmatch, deadletter, forecast, demo):
        group.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``itms`` console script."""
    args = build_parser().parse_args(argv)
    from itms.logs import configure

    configure(fmt=os.environ.get("ITMS_LOG_FORMAT", "text"), verbose=args.verbose)
    return int(args.func(args) or 0)
