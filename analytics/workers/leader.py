"""One leader-elected loop for the database workers that must run once per database (the
incident worker, the state builder): connect, wait for the advisory lock (one leader; the
others wait), then call the step every ``interval_s`` seconds until ``stop`` — at once again
when a step says more work is pending. A lost database connection is dropped and the next
round connects (and elects) again."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import psycopg

from store.leader_lock import try_leader_lock

LOCK_RETRY_S = 5.0  # a waiting (non-leader) worker tries the lock this often (seconds)


def _nothing(*_args: object) -> None:
    return None


def run_as_leader(
    connect: Callable[[], psycopg.Connection], lock_key: int, stop: threading.Event,
    step: Callable[[psycopg.Connection], bool], *, interval_s: float,
    on_lead: Callable[[psycopg.Connection], None] = _nothing,
    on_db_lost: Callable[[psycopg.OperationalError], None] = _nothing,
    heartbeat: Callable[[], None] = _nothing,
) -> None:  # fmt: skip
    """Run ``step(conn)`` as the leader of ``lock_key`` until ``stop`` is set.

    ``connect`` opens an autocommit connection; ``on_lead`` runs once the lock is held on a
    new connection (restore state); ``step`` returns ``True`` when more work is pending (no
    wait before the next step); ``on_db_lost`` is told of a lost database (the connection is
    closed and opened again next round); ``heartbeat`` is called every round and while
    waiting for the lock (liveness). The connection is closed on return."""
    conn: psycopg.Connection | None = None
    try:
        while not stop.is_set():
            heartbeat()
            try:
                if conn is None or conn.closed:
                    conn = connect()
                    while not stop.is_set() and not try_leader_lock(conn, lock_key):
                        heartbeat()
                        stop.wait(LOCK_RETRY_S)  # another worker leads
                    on_lead(conn)
                if step(conn):
                    continue
            except psycopg.OperationalError as exc:
                on_db_lost(exc)
                if conn is not None:
                    with contextlib.suppress(psycopg.Error):
                        conn.close()
                conn = None
            stop.wait(interval_s)
    finally:
        if conn is not None:
            conn.close()
