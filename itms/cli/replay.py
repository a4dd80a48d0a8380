"""``itms replay``: publishing recorded feeds to Kafka."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from datetime import datetime, timedelta

from itms.cli._common import current_settings


def _argument(parse: Callable[[str], timedelta | datetime]) -> Callable[[str], object]:
    """An argparse type from a parser raising ``ValueError`` (the message reaches the user)."""

    def convert(text: str) -> object:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def cmd_replay(args: argparse.Namespace) -> int:
    from ingest.batching import PartitionBatcher
    from ingest.kafka.clients import make_producer
    from ingest.replay import replay
    from ingest.time_shift import TimeShift
    from itms.cli.feed import open_from_args

    try:  # what can be checked before connecting: columns, a truncated GTFS-Realtime file
        feed = open_from_args(args, args.kind)
    except (ValueError, OSError) as exc:
        print(f"itms replay: {exc}", file=sys.stderr)
        return 2
    settings = current_settings()
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
            feed.records,
            lambda key, value: producer.send(topic, value=value, key=key),
            kind=args.kind,
            speedup=None if args.fast else args.speedup,
            shift=TimeShift(by=args.shift_by, to=args.shift_to, to_now=args.shift_to_now),
            batcher=batcher,
        )
    finally:
        producer.flush()
        producer.close()
    print(feed.summary(), file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms replay`` to the parser."""
    s = sub.add_parser(
        "replay",
        help="publish a recorded feed to Kafka: CSV or JSON lines in the contract's columns,"
        " a CSV in its own (--map), a GTFS-Realtime VehiclePositions file (.pb, .pb.gz)",
    )  # fmt: skip
    # argparse reads only plain numbers (-5, -.5) after an option as values; any word starting
    # "-<digit>" is one here too, so "--shift-by -2h30m" needs no "=" (replay has no such option)
    s._negative_number_matcher = re.compile(r"-\.?\d")
    s.add_argument("kind", choices=["gps", "detectors"])
    s.add_argument("file")
    s.add_argument("--speedup", type=float, default=1.0, help="replay N times faster")
    s.add_argument("--fast", action="store_true", help="as fast as possible")
    from ingest.time_shift import parse_duration, parse_time

    shift = s.add_mutually_exclusive_group()
    shift.add_argument("--shift-to-now", action="store_true", help="restamp so the feed starts now")
    shift.add_argument(
        "--shift-by", type=_argument(parse_duration), metavar="DURATION",
        help="move every timestamp by DURATION (e.g. 7d, 86400s; -2h30m back):"
        " files given the same shift keep their distance (recorded days stay a day apart)",
    )  # fmt: skip
    shift.add_argument(
        "--shift-to", type=_argument(parse_time), metavar="TIME",
        help="restamp so the file's first record is at TIME (RFC 3339 with offset)",
    )  # fmt: skip
    s.add_argument(
        "--batch", type=int, default=0, metavar="N",
        help="publish batches of up to N records per partition (JSON arrays) instead of one"
        " message per record",
    )  # fmt: skip
    from itms.cli.feed import add_file_options

    add_file_options(s)
    s.set_defaults(func=cmd_replay)
