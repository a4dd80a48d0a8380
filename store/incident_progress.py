"""The incident worker's progress (``incident_progress``): the last processed minute (UTC
minute start) and the serialized detector and tracker state, per worker name."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import psycopg


class Progress(NamedTuple):
    """The stored progress of a worker: last processed minute and its state blob."""

    minute: datetime
    state: bytes


def load_progress(conn: psycopg.Connection, worker: str) -> Progress | None:
    """The stored progress of ``worker`` (``None``: none yet); a NULL state reads as empty."""
    row = conn.execute(
        "SELECT minute, state FROM incident_progress WHERE worker = %s", (worker,)
    ).fetchone()
    if row is None:
        return None
    return Progress(row[0], bytes(row[1]) if row[1] is not None else b"")


def last_minute(
    conn: psycopg.Connection, worker: str, *, for_update: bool = False
) -> datetime | None:
    """The last minute ``worker`` processed (``None``: none); ``for_update`` locks the row
    until the caller's transaction ends."""
    row = conn.execute(
        "SELECT minute FROM incident_progress WHERE worker = %s"
        + (" FOR UPDATE" if for_update else ""),
        (worker,),
    ).fetchone()
    return None if row is None else row[0]


def save_progress(conn: psycopg.Connection, worker: str, minute: datetime, state: bytes) -> None:
    """Store ``worker``'s progress (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO incident_progress (worker, minute, state) VALUES (%s, %s, %s)"
        " ON CONFLICT (worker) DO UPDATE SET minute = EXCLUDED.minute,"
        " state = EXCLUDED.state, updated_at = now()",
        (worker, minute, state),
    )
