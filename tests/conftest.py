"""Test session: starts the real local stack (Kafka + PostgreSQL) when integration tests run.

The test stack lives in ``.itms/test-stack`` on its own ports, so it never
touches a developer's demo stack. Set ``ITMS_KAFKA_BOOTSTRAP`` and
``ITMS_DATABASE_URL`` to run the integration tests against existing services
instead. Whatever the session started, it stops at the end.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from itms.settings import REPO_ROOT, Settings

TEST_STATE = REPO_ROOT / ".itms" / "test-stack"


def _base_settings() -> Settings:
    return Settings(
        state_dir=Path(os.environ.get("ITMS_TEST_STATE_DIR", TEST_STATE)),
        kafka_port=int(os.environ.get("ITMS_TEST_KAFKA_PORT", 19192)),
        kafka_controller_port=int(os.environ.get("ITMS_TEST_KAFKA_CONTROLLER_PORT", 19193)),
        pg_port=int(os.environ.get("ITMS_TEST_PG_PORT", 55433)),
        topic_partitions=3,
    )


@pytest.fixture(scope="session")
def stack_settings() -> Iterator[Settings]:
    """Settings of a running stack; started here (and stopped after) unless already up."""
    from itms import stack

    settings = _base_settings()
    started = []
    try:
        if settings.uses_local_postgres:
            pg = stack.local_postgres(settings)
            if not pg.is_running():
                started.append(pg)
                pg.up()
        if settings.uses_local_kafka:
            kafka = stack.local_kafka(settings)
            if not kafka.is_running():
                started.append(kafka)
                kafka.up()
        yield settings
    finally:
        for component in reversed(started):
            component.down()


@pytest.fixture(scope="session")
def template_db(stack_settings: Settings) -> Iterator[str]:
    """Name of a migrated template database that test databases are cloned from."""
    from store.migrate import migrate

    name = f"itms_tmpl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack_settings.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    migrate(_dsn_with_db(stack_settings.dsn, name))
    with psycopg.connect(stack_settings.dsn, autocommit=True) as conn:
        # no one may connect to a template (TimescaleDB's scheduler would, when preloaded)
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
    yield name
    with psycopg.connect(stack_settings.dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _dsn_with_db(dsn: str, dbname: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    parts = conninfo_to_dict(dsn)
    parts["dbname"] = dbname
    return make_conninfo(**parts)


@pytest.fixture
def db_factory(stack_settings: Settings, template_db: str) -> Iterator[Callable[[], str]]:
    """Makes fresh migrated databases (clones of the template); returns their DSNs."""
    made: list[str] = []

    def make() -> str:
        name = f"itms_t_{uuid.uuid4().hex[:10]}"
        for attempt in range(20):  # autovacuum may briefly hold the template
            try:
                with psycopg.connect(stack_settings.dsn, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 19:
                    raise
                time.sleep(0.5)
        made.append(name)
        return _dsn_with_db(stack_settings.dsn, name)

    yield make
    with psycopg.connect(stack_settings.dsn, autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def itms_settings(stack_settings: Settings, db_factory: Callable[[], str]) -> Settings:
    """Settings of an isolated environment: own database and own topic prefix, topics created."""
    from ingest.kafka.clients import ensure_topics

    settings = stack_settings.model_copy(
        update={
            "database_url": db_factory(),
            "kafka_bootstrap": stack_settings.bootstrap_servers,
            "topic_prefix": f"t{uuid.uuid4().hex[:8]}.",
        }
    )
    ensure_topics(settings.kafka)
    return settings
