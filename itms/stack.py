"""The local stack: start, stop and inspect Kafka and PostgreSQL, or use external ones.

When ``ITMS_KAFKA_BOOTSTRAP`` / ``ITMS_DATABASE_URL`` are set, nothing local is
started for that component; ``status`` then reports the external service.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from ingest.kafka.clients import ensure_topics
from ingest.kafka.local_broker import LocalKafkaBroker
from itms.settings import Settings
from store.database_admin import server_facts
from store.local_cluster import LocalPostgres
from store.migrate import current_version, detect_mode, migrate

log = logging.getLogger(__name__)


def local_kafka(settings: Settings) -> LocalKafkaBroker:
    """The project-owned broker described by ``settings``."""
    return LocalKafkaBroker(
        state_dir=settings.state_dir,
        port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
    )


def local_postgres(settings: Settings) -> LocalPostgres:
    """The project-owned PostgreSQL cluster described by ``settings``."""
    return LocalPostgres(
        state_dir=settings.state_dir,
        port=settings.pg_port,
        database=settings.pg_database,
        user=settings.pg_user,
    )


@contextmanager
def own_stack(settings: Settings) -> Iterator[None]:
    """Run the local PostgreSQL and broker of ``settings`` for the ``with`` block: those not
    running are started, and stopped again afterwards (benchmarks with a stack of their own)."""
    started = []
    try:
        for comp in (local_postgres(settings), local_kafka(settings)):
            if not comp.is_running():
                comp.up()
                started.append(comp)
        yield
    finally:
        for comp in reversed(started):
            comp.down()


def up(settings: Settings) -> None:
    """Start what is local, then migrate the database and create the topics (idempotent)."""
    if settings.uses_local_postgres:
        local_postgres(settings).up()
    if settings.uses_local_kafka:
        local_kafka(settings).up()
    applied = migrate(settings.dsn)
    if applied:
        log.info("applied migrations %s", applied)
    ensure_topics(settings.kafka)


def down(settings: Settings) -> None:
    """Stop the local components (external services are left alone)."""
    if settings.uses_local_kafka:
        local_kafka(settings).down()
    if settings.uses_local_postgres:
        local_postgres(settings).down()


def status(settings: Settings) -> list[dict[str, Any]]:
    """One dict per component: running, address, versions, TimescaleDB yes/no."""
    if settings.uses_local_kafka:
        kafka = local_kafka(settings).status()
    else:
        kafka = {"name": "kafka", "address": settings.bootstrap_servers, "external": True}
        kafka["running"] = _kafka_answers(settings)
    kafka.setdefault("external", False)
    if settings.uses_local_postgres:
        pg = local_postgres(settings).status()
    else:
        pg = {"name": "postgresql", "address": _redacted(settings.dsn), "external": True}
        pg.update(_database_facts(settings.dsn))
    pg.setdefault("external", False)
    if pg.get("running"):
        try:
            pg["schema_version"] = current_version(settings.dsn)
            with psycopg.connect(settings.dsn, connect_timeout=5) as conn:
                pg["store_mode"] = detect_mode(conn)
        except psycopg.Error as exc:
            pg["schema_version"] = f"unknown ({exc.__class__.__name__})"
    return [kafka, pg]


def _kafka_answers(settings: Settings) -> bool:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers, request_timeout_ms=5000
        )
    except KafkaError:
        return False
    admin.close()
    return True


def _database_facts(dsn: str) -> dict[str, Any]:
    return server_facts(dsn)


def _redacted(dsn: str) -> str:
    """A connection string without its password."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparsable database URL>"
    if "password" in parts:
        parts["password"] = "***"
    return make_conninfo(**parts)
