"""``itms mapmatch``: offline map matching of a GPS file."""

from __future__ import annotations

import argparse
import sys
import time

from itms.cli._common import NETWORK_HELP, network_from


def cmd_mapmatch(args: argparse.Namespace) -> int:
    from analytics.mapmatch.hmm import MatchParams
    from analytics.mapmatch.offline import match_file

    params = MatchParams(sigma_m=args.sigma, beta_m=args.beta, radius_m=args.radius)
    t0 = time.monotonic()
    report = match_file(network_from(args.network), args.points, args.out, params)
    dt = time.monotonic() - t0
    print(
        f"{report.fixes} fixes of {report.vehicles} vehicles, {report.matched} matched,"
        f" {report.invalid} invalid rows skipped, {report.duplicates} duplicates; {dt:.1f} s",
        file=sys.stderr,
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms mapmatch`` to the parser."""
    s = sub.add_parser("mapmatch", help="match a GPS file to the road network (offline)")
    s.add_argument("--network", help=NETWORK_HELP)
    s.add_argument("--points", required=True, help="CSV or JSON lines with GPS contract columns")
    s.add_argument("--out", required=True, help="output CSV (or .jsonl)")
    s.add_argument("--sigma", type=float, default=10.0, help="GPS error, metres")
    s.add_argument("--beta", type=float, default=30.0, help="transition scale, metres")
    s.add_argument("--radius", type=float, default=60.0, help="candidate search radius, metres")
    s.set_defaults(func=cmd_mapmatch)
