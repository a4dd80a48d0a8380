"""Fresh environments for a run: databases and topic prefixes, the network, detectors and
speed history stored before the feed."""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime

import psycopg

from bench.reliability.feeds import Feed
from itms.settings import Settings
from roadnet.model import RoadNetwork
from store import database_admin
from store.detectors import read_inventory, sync_detectors
from store.network_writer import sync_network
from store.speed_history import seed_free_flow_history


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_database(admin_dsn: str, name: str) -> str:
    """Create and migrate database ``name`` on the server of ``admin_dsn``; returns its DSN."""
    return database_admin.create_database(admin_dsn, name)


def fresh_environment(base: Settings, prefix: str) -> tuple[str, str, Settings]:
    """A new migrated database and topic prefix on ``base``'s servers, named ``prefix`` +
    time + random: (name, its DSN, settings pointing at both)."""
    tag = f"{prefix}{datetime.now(UTC):%H%M%S}{uuid.uuid4().hex[:4]}"
    dsn = create_database(base.dsn, tag)
    settings = base.model_copy(update={"database_url": dsn, "topic_prefix": f"{tag}.",
                                       "kafka_bootstrap": base.bootstrap_servers})  # fmt: skip
    return tag, dsn, settings


def drop_database(admin_dsn: str, name: str) -> None:
    """Drop database ``name`` (connections closed) if it exists."""
    database_admin.drop_database(admin_dsn, name)


def prepare_db(dsn: str, network: RoadNetwork, feed: Feed | None = None) -> None:
    """Store the network (and the feed's detectors and a day of speed history before it,
    :func:`seed_speed_history`) in the database ``dsn``."""
    with psycopg.connect(dsn) as conn:
        sync_network(conn, network)
        if feed is not None:
            sync_detectors(conn, read_inventory(feed.inventory, network), network)
            if feed.start is not None:
                seed_speed_history(conn, network, feed.start)


def seed_speed_history(
    conn: psycopg.Connection, network: RoadNetwork, start: datetime, *,
    hours: float = 2.0,
) -> None:  # fmt: skip
    """The speed profile of a system that has run before: every segment at its free-flow speed
    one day before the ``hours`` from 30 minutes before ``start`` (one state per segment and
    15-minute slot, rolled up). A database without any profile for the hour is a fresh
    installation, whose incident worker judges probes only against recent baselines."""
    seed_free_flow_history(conn, network, start, hours=hours)
