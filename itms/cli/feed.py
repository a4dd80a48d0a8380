"""``itms feed convert``: recorded fleet files (GTFS-Realtime, a tracker's own CSV) into the
contract's records; the file options shared with ``itms replay``."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from ingest.column_map import FIELDS
from ingest.feed_files import FeedFile


def add_file_options(s: argparse.ArgumentParser) -> None:
    """``--map``, ``--ts-unit``, ``--tz``, ``--vehicle-type``."""
    s.add_argument(
        "--map", metavar="FIELD=COLUMN,...",
        help="CSV in its own columns: which column holds which contract field, e.g."
        " vehicle_id=VehID,lat=Latitude,lon=Longitude,ts=GPSTime",
    )  # fmt: skip
    s.add_argument("--ts-unit", choices=["s", "ms"],
                   help="numeric times are epoch seconds or milliseconds (default ms)")
    s.add_argument("--tz", metavar="ZONE",
                   help="time zone of times written without a UTC offset (IANA, e.g."
                   " Asia/Ho_Chi_Minh)")  # fmt: skip
    s.add_argument("--vehicle-type",
                   help="vehicle type of records that name none (GTFS-Realtime: bus)")


def open_from_args(args: argparse.Namespace, kind: str) -> FeedFile:
    """The file of ``args.file`` with the file options; raises ``ValueError`` /
    :class:`~ingest.errors.FeedDecodeError` (both ``ValueError``) on bad input."""
    from ingest.column_map import ColumnMap
    from ingest.feed_files import open_feed

    cmap = ColumnMap.parse(args.map, kind=kind, ts_unit=args.ts_unit, tz=args.tz)
    return open_feed(args.file, kind=kind, columns=cmap, vehicle_type=args.vehicle_type)


def cmd_convert(args: argparse.Namespace) -> int:
    out = Path(args.out)
    stem = out.name.lower().removesuffix(".gz")
    if not stem.endswith((".jsonl", ".ndjson", ".csv")):
        print(f"itms feed convert: {out}: write .jsonl or .csv", file=sys.stderr)
        return 2
    try:
        feed = open_from_args(args, args.kind)
        records = list(feed.records)
    except (ValueError, OSError) as exc:
        print(f"itms feed convert: {exc}", file=sys.stderr)
        return 2
    if stem.endswith(".csv"):
        _write_csv(out, records, args.kind)
    else:
        with out.open("w", encoding="utf-8") as fh:
            for r in records:
                fh.write((json.dumps(r, ensure_ascii=False) if isinstance(r, dict) else r) + "\n")
    print(f"{feed.summary()}; written to {out}")
    return 0


def _write_csv(out: Path, records: list[dict[str, Any] | str], kind: str) -> None:
    rows = [r for r in records if isinstance(r, dict)]
    known = [f for f in FIELDS[kind] if any(f in r for r in rows)]
    extra = sorted({k for r in rows for k in r} - set(known))
    with out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=known + extra)
        w.writeheader()
        w.writerows(rows)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms feed`` to the parser."""
    s = sub.add_parser("feed", help="recorded fleet files into the feed contract")
    fsub = s.add_subparsers(dest="feed_command", required=True)
    c = fsub.add_parser(
        "convert",
        help="convert a GTFS-Realtime VehiclePositions file (.pb, .pb.gz) or a CSV in its own"
        " columns (--map) into contract records (.jsonl or .csv)",
    )  # fmt: skip
    c.add_argument("file")
    c.add_argument("--out", required=True, help="output file: .jsonl or .csv")
    c.add_argument("--kind", choices=["gps", "detectors"], default="gps")
    add_file_options(c)
    c.set_defaults(func=cmd_convert)
