"""Writers of segment state, network KPIs and detector readings: batched COPY, idempotent.

Rows go to the database with binary COPY. New rows are copied straight into
their table inside a savepoint; when the batch overlaps stored rows (a replay,
a restarted worker, a revised minute) the savepoint is rolled back and the rows
are staged in a temporary table and merged with ``INSERT … ON CONFLICT``.
Either way, writing the same batch again leaves the same rows. Call the
writers inside the worker's checkpoint transaction, and :meth:`StoreWriter.prepare`
before it: it creates missing time partitions (plain-PostgreSQL path). On that
path the rollups are recomputed later, for the hours the writes marked dirty,
by :func:`store.rollups.refresh_dirty_rollups` (workers call it periodically).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import psycopg
from psycopg import errors

from store.partitions import PartitionManager, store_mode
from store.rollups import ROLLUPS, mark_dirty

STATE_COLUMNS = (
    "segment_id", "minute", "speed_kmh", "travel_time_s", "free_flow_kmh", "n_samples",
    "n_vehicles", "congestion_level", "jam_factor", "confidence", "source",
)  # fmt: skip
STATE_TYPES = ("text", "timestamptz", "float4", "float4", "float4", "int4", "int4", "int2",
               "float4", "float4", "text")  # fmt: skip
StateRow = tuple[str, datetime, float | None, float | None, float | None, int, int,
                 int | None, float | None, float | None, str]  # fmt: skip
READING_COLUMNS = ("detector_id", "ts", "lane", "interval_s", "volume", "occupancy", "speed_kmh")
READING_TYPES = ("text", "timestamptz", "int2", "int4", "int4", "float4", "float4")
ReadingRow = tuple[str, datetime, int, int, int, float, float | None]
KPI_COLUMNS = (
    "minute", "avg_speed_kmh", "congested_km", "vehicle_km", "vehicle_hours",
    "delay_vehicle_hours", "segments_with_data",
)  # fmt: skip
KPI_TYPES = ("timestamptz", "float4", "float4", "float4", "float4", "float4", "int4")

_STATE_SET = ", ".join(f"{c} = EXCLUDED.{c}" for c in STATE_COLUMNS[2:])
_STATE_COLS = ", ".join(STATE_COLUMNS)


def copy_rows(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    types: Sequence[str],
    rows: Iterable[Sequence[object]],
) -> int:
    """Binary COPY of ``rows`` into ``table``; returns the row count."""
    n = 0
    with conn.cursor().copy(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    ) as cp:
        cp.set_types(list(types))
        for row in rows:
            cp.write_row(row)
            n += 1
    return n


def temp_table(conn: psycopg.Connection, temp: str, like: str) -> None:
    """An empty transaction-scoped temporary table shaped like ``like``."""
    conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {temp} (LIKE {like} INCLUDING DEFAULTS)"
        " ON COMMIT DELETE ROWS"
    )
    conn.execute(f"TRUNCATE {temp}")


def stage(
    conn: psycopg.Connection, temp: str, like: str, columns: Sequence[str],
    types: Sequence[str], rows: Iterable[Sequence[object]],
) -> int:  # fmt: skip
    """COPY rows into a temporary table shaped like ``like``, emptied first."""
    temp_table(conn, temp, like)
    return copy_rows(conn, temp, columns, types, rows)


def copy_new(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    types: Sequence[str],
    rows: Iterable[Sequence[object]],
) -> bool:
    """Try to COPY ``rows`` straight into ``table``; ``False`` if some were stored already."""
    try:
        with conn.transaction():
            copy_rows(conn, table, columns, types, rows)
        return True
    except errors.UniqueViolation:
        return False


class StoreWriter:
    """Idempotent writers for one database (keeps partition knowledge between batches)."""

    def __init__(self) -> None:
        self.partitions = PartitionManager()
        self._mode: str | None = None

    def mode(self, conn: psycopg.Connection) -> str:
        """The store mode of the database."""
        if self._mode is None:
            self._mode = store_mode(conn)
        return self._mode

    def prepare(self, conn: psycopg.Connection, table: str, times: Iterable[datetime]) -> None:
        """Create missing partitions for ``table`` rows at ``times`` (outside a transaction)."""
        times = set(times)
        self.partitions.ensure(conn, table, times)
        if table == "segment_state":
            for rollup in ROLLUPS:
                self.partitions.ensure(conn, rollup, times)

    def write_states(self, conn: psycopg.Connection, rows: Sequence[StateRow]) -> int:
        """Store per-minute segment states, advance ``segment_current``, mark rollups dirty."""
        if not rows:
            return 0
        if not copy_new(conn, "segment_state", STATE_COLUMNS, STATE_TYPES, rows):
            stage(conn, "_state_in", "segment_state", STATE_COLUMNS, STATE_TYPES, rows)
            self.merge_staged_states(conn)
            return len(rows)
        latest: dict[str, StateRow] = {}
        for row in rows:
            if row[0] not in latest or latest[row[0]][1] < row[1]:
                latest[row[0]] = row
        stage(conn, "_state_in", "segment_state", STATE_COLUMNS, STATE_TYPES, latest.values())
        self._advance_current(conn)
        if self.mode(conn) == "plain":
            conn.execute(
                "INSERT INTO rollup_dirty (hour) SELECT DISTINCT date_trunc('hour', m)"
                " FROM unnest(%s::timestamptz[]) m ON CONFLICT DO NOTHING",
                (sorted({r[1] for r in rows}),),
            )
        return len(rows)

    def merge_staged_states(self, conn: psycopg.Connection) -> None:
        """Merge the rows staged in ``_state_in`` into the state tables."""
        conn.execute(
            f"INSERT INTO segment_state ({_STATE_COLS}) SELECT {_STATE_COLS} FROM _state_in"
            " ORDER BY segment_id, minute"
            f" ON CONFLICT (segment_id, minute) DO UPDATE SET {_STATE_SET}"
        )
        self._advance_current(conn)
        if self.mode(conn) == "plain":
            mark_dirty(conn)

    def _advance_current(self, conn: psycopg.Connection) -> None:
        conn.execute(
            f"INSERT INTO segment_current ({_STATE_COLS}, updated_at)"
            f" SELECT DISTINCT ON (segment_id) {_STATE_COLS}, now() FROM _state_in"
            " ORDER BY segment_id, minute DESC"
            f" ON CONFLICT (segment_id) DO UPDATE SET minute = EXCLUDED.minute, {_STATE_SET},"
            " updated_at = now() WHERE segment_current.minute <= EXCLUDED.minute"
        )

    def write_readings(self, conn: psycopg.Connection, rows: Sequence[ReadingRow]) -> int:
        """Store detector readings (a corrected reading replaces the stored one)."""
        if not rows:
            return 0
        if copy_new(conn, "detector_reading", READING_COLUMNS, READING_TYPES, rows):
            return len(rows)
        stage(conn, "_reading_in", "detector_reading", READING_COLUMNS, READING_TYPES, rows)
        cols = ", ".join(READING_COLUMNS)
        conn.execute(
            f"INSERT INTO detector_reading ({cols})"
            f" SELECT DISTINCT ON (detector_id, lane, ts) {cols}"
            " FROM _reading_in ORDER BY detector_id, lane, ts"
            " ON CONFLICT (detector_id, lane, ts) DO UPDATE SET interval_s = EXCLUDED.interval_s,"
            " volume = EXCLUDED.volume, occupancy = EXCLUDED.occupancy,"
            " speed_kmh = EXCLUDED.speed_kmh"
            " WHERE (detector_reading.volume, detector_reading.occupancy,"
            " detector_reading.speed_kmh) IS DISTINCT FROM"
            " (EXCLUDED.volume, EXCLUDED.occupancy, EXCLUDED.speed_kmh)"
        )
        return len(rows)

    def write_kpis(self, conn: psycopg.Connection, rows: Sequence[tuple]) -> int:
        """Upsert network KPIs per minute."""
        if not rows:
            return 0
        cols = ", ".join(KPI_COLUMNS)
        stage(conn, "_kpi_in", "network_kpi", KPI_COLUMNS, KPI_TYPES, rows)
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in KPI_COLUMNS[1:])
        conn.execute(
            f"INSERT INTO network_kpi ({cols}) SELECT {cols} FROM _kpi_in"
            f" ON CONFLICT (minute) DO UPDATE SET {sets}"
        )
        return len(rows)
