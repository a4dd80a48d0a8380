"""Server-level administration: create and drop databases, read the server's facts."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from store.migrate import migrate


def database_dsn(admin_dsn: str, name: str) -> str:
    """The DSN of database ``name`` on the server of ``admin_dsn``."""
    return make_conninfo("", **{**conninfo_to_dict(admin_dsn), "dbname": name})


def create_database(admin_dsn: str, name: str, *, migrated: bool = True) -> str:
    """Create database ``name`` on the server of ``admin_dsn`` (and migrate it unless
    ``migrated`` is false); returns its DSN."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = database_dsn(admin_dsn, name)
    if migrated:
        migrate(dsn)
    return dsn


def drop_database(admin_dsn: str, name: str) -> None:
    """Drop database ``name`` (its connections closed) if it exists."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def analyze(conn: psycopg.Connection) -> None:
    """Refresh the planner's statistics of every table of the database."""
    conn.execute("ANALYZE")


def server_facts(dsn: str) -> dict[str, Any]:
    """Server version and installed PostGIS / TimescaleDB versions (``None`` where missing);
    ``{"running": False}`` when the server cannot be reached."""
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            assert row is not None
            version = row[0]
            ext: dict[str, str] = dict(
                conn.execute(
                    "SELECT extname, extversion FROM pg_extension"
                    " WHERE extname IN ('postgis', 'timescaledb')"
                ).fetchall()
            )
    except psycopg.Error:
        return {"running": False}
    return {
        "running": True,
        "version": version,
        "postgis": ext.get("postgis"),
        "timescaledb": ext.get("timescaledb"),
    }
