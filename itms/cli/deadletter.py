"""``itms deadletter``: the latest dead letters."""

from __future__ import annotations

import argparse

from itms.cli._common import current_settings


def cmd_deadletter(args: argparse.Namespace) -> int:
    from ingest.deadletter import parse_headers
    from ingest.kafka.clients import make_consumer

    settings = current_settings()
    consumer = make_consumer(settings.kafka, None, consumer_timeout_ms=3000)
    from kafka.structs import TopicPartition

    topic = settings.topic("deadletter")
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(parts)
    ends = consumer.end_offsets(parts)
    for tp in parts:
        consumer.seek(tp, max(0, ends[tp] - args.n))
    shown = 0
    for rec in consumer:
        shown += 1
        meta = parse_headers(rec.headers)
        value = (rec.value or b"")[:200].decode("utf-8", "replace")
        print(
            f"{meta.get('source.topic')}[{meta.get('source.partition')}]@"
            f"{meta.get('source.offset')} {meta.get('code')}: {meta.get('reason')}\n    {value}"
        )
    consumer.close()
    if not shown:
        print(f"no dead letters in {topic}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms deadletter`` to the parser."""
    s = sub.add_parser("deadletter", help="show the latest dead letters")
    s.add_argument("-n", type=int, default=20, help="per partition")
    s.set_defaults(func=cmd_deadletter)
