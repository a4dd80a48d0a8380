"""Leader election between workers of one kind: a session advisory lock per kind."""

from __future__ import annotations

import psycopg


def try_leader_lock(conn: psycopg.Connection, key: int) -> bool:
    """Take the session advisory lock ``key`` if free (held until the session ends);
    ``False`` while another session holds it."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    return bool(row is not None and row[0])
