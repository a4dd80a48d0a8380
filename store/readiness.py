"""The database's readiness check."""

from __future__ import annotations

import psycopg


def ping(conn: psycopg.Connection) -> None:
    """A trivial round trip; raises ``psycopg.OperationalError`` when the database is down."""
    conn.execute("SELECT 1")
