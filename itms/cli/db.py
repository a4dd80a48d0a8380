"""``itms db``: database schema, partitions, retention and rollups."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from itms.cli._common import current_settings, interval


def cmd_db(args: argparse.Namespace) -> int:
    import psycopg

    from store.migrate import migrate
    from store.partitions import PartitionManager, set_retention, ts_tables
    from store.rollups import refresh_dirty_rollups

    dsn = current_settings().dsn
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
                keep = None if args.keep in (None, "forever") else interval(args.keep)
                set_retention(conn, args.table, keep)
            for spec in ts_tables(conn).values():
                print(f"{spec.name:<20} chunk {spec.chunk}  keep {spec.retention or 'forever'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms db`` to the parser."""
    s = sub.add_parser("db", help="database schema, partitions, retention and rollups")
    s.add_argument("action", choices=["migrate", "maintain", "retention"])
    s.add_argument("table", nargs="?", help="retention: time-series table to change")
    s.add_argument("keep", nargs="?", help="retention: how long to keep rows (90d, 12h, forever)")
    s.add_argument("--ahead-days", type=int, default=7, help="maintain: partitions ahead")
    s.set_defaults(func=cmd_db)
