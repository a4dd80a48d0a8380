"""``itms topics``: the Kafka topics."""

from __future__ import annotations

import argparse

from itms.cli._common import current_settings


def cmd_topics(args: argparse.Namespace) -> int:
    from ingest.kafka.clients import ensure_topics

    for name in ensure_topics(current_settings().kafka):
        print(name)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms topics`` to the parser."""
    s = sub.add_parser("topics", help="create the Kafka topics")
    s.add_argument("action", choices=["create"])
    s.set_defaults(func=cmd_topics)
