"""Time partitions of the plain-PostgreSQL path: created ahead, on demand, dropped for retention.

Tables registered in ``ts_table`` are range-partitioned by their time column
into chunks of ``chunk_interval`` aligned to the Unix epoch (UTC). With
TimescaleDB the extension does all of this and these functions do nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)
_BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TsTable:
    """A registered time-series table."""

    name: str
    time_column: str
    chunk: timedelta
    retention: timedelta | None


def store_mode(conn: psycopg.Connection) -> str:
    """``plain`` or ``timescaledb``."""
    row = conn.execute("SELECT mode FROM store_mode").fetchone()
    return row[0] if row else "plain"


def ts_tables(conn: psycopg.Connection) -> dict[str, TsTable]:
    """The registered time-series tables."""
    rows = conn.execute(
        "SELECT table_name, time_column, chunk_interval, retention FROM ts_table"
    ).fetchall()
    return {r[0]: TsTable(*r) for r in rows}


def chunk_start(ts: datetime, chunk: timedelta) -> datetime:
    """Start of the epoch-aligned chunk containing ``ts``."""
    n = (ts - _EPOCH) // chunk
    return _EPOCH + n * chunk


def existing_partitions(
    conn: psycopg.Connection, table: str
) -> dict[str, tuple[datetime, datetime]]:
    """Partitions of ``table`` with their [from, to) bounds."""
    rows = conn.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        (table,),
    ).fetchall()
    out = {}
    for name, bound in rows:
        match = _BOUND.search(bound or "")
        if match:
            lo, hi = (datetime.fromisoformat(x).astimezone(UTC) for x in match.groups())
            out[name] = (lo, hi)
    return out


class PartitionManager:
    """Creates missing partitions (remembering known ones) and applies retention."""

    def __init__(self) -> None:
        self._known: dict[str, set[datetime]] = {}
        self._tables: dict[str, TsTable] | None = None
        self._mode: str | None = None

    def _load(self, conn: psycopg.Connection) -> None:
        if self._tables is None:
            self._mode = store_mode(conn)
            self._tables = ts_tables(conn)

    def ensure(self, conn: psycopg.Connection, table: str, times: Iterable[datetime]) -> int:
        """Make sure ``table`` has partitions for rows at ``times``; returns how many were created.

        Runs its own short transaction: call it outside the data transaction.
        """
        self._load(conn)
        if self._mode == "timescaledb":
            return 0
        assert self._tables is not None  # loaded above
        spec = self._tables[table]
        known = self._known.setdefault(table, set())
        starts = sorted({chunk_start(t, spec.chunk) for t in times} - known)
        if not starts:
            return 0
        created = 0
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"partition:{table}",))
            have = {lo_ for lo_, _ in existing_partitions(conn, table).values()}
            for start in starts:
                if start not in have:
                    name = f"{table}_p{start:%Y%m%d_%H%M}"
                    conn.execute(
                        sql.SQL(
                            "CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})"
                        ).format(
                            sql.Identifier(name),
                            sql.Identifier(table),
                            sql.Literal(start.isoformat()),
                            sql.Literal((start + spec.chunk).isoformat()),
                        )
                    )
                    created += 1
                known.add(start)
        if created:
            log.info("created %d partition(s) of %s", created, table)
        return created

    def create_ahead(self, conn: psycopg.Connection, now: datetime, *, ahead: timedelta) -> int:
        """Partitions of every table from the current chunk to ``now + ahead``."""
        self._load(conn)
        created = 0
        for name, spec in (self._tables or {}).items():
            n = int(ahead / spec.chunk) + 1
            created += self.ensure(conn, name, [now + k * spec.chunk for k in range(n + 1)])
        return created

    def apply_retention(self, conn: psycopg.Connection, now: datetime) -> list[str]:
        """Drop partitions wholly older than each table's retention; returns their names."""
        self._load(conn)
        if self._mode == "timescaledb":
            return []
        dropped = []
        for spec in ts_tables(conn).values():
            if spec.retention is None:
                continue
            cutoff = now - spec.retention
            for name, (lo, hi) in existing_partitions(conn, spec.name).items():
                if hi <= cutoff:
                    with conn.transaction():
                        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
                    self._known.get(spec.name, set()).discard(lo)
                    dropped.append(name)
        if dropped:
            log.info("retention dropped %s", dropped)
        return dropped


def set_retention(conn: psycopg.Connection, table: str, retention: timedelta | None) -> None:
    """Change how long ``table`` keeps rows (``None``: forever), in both store modes."""
    with conn.transaction():
        cur = conn.execute(
            "UPDATE ts_table SET retention = %s WHERE table_name = %s", (retention, table)
        )
        if cur.rowcount != 1:
            raise ValueError(f"{table} is not a time-series table")
        if store_mode(conn) == "timescaledb":
            conn.execute("SELECT remove_retention_policy(%s, if_exists => true)", (table,))
            if retention is not None:
                conn.execute("SELECT add_retention_policy(%s, %s)", (table, retention))
