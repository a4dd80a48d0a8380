"""Writers of segment state, network KPIs and detector readings: batched COPY, idempotent.

Every writer stages rows with COPY into a temporary table and merges them with
``INSERT … ON CONFLICT``: rewriting the same batch (a replay, a restarted
worker) leaves the same rows. Call them inside the worker's checkpoint
transaction; call :meth:`StoreWriter.prepare` before it, which creates any
missing time partitions (plain-PostgreSQL path).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg

from store.partitions import PartitionManager, store_mode
from store.rollups import ROLLUPS, refresh_rollups

STATE_COLUMNS = (
    "segment_id", "minute", "speed_kmh", "travel_time_s", "free_flow_kmh", "n_samples",
    "n_vehicles", "congestion_level", "jam_factor", "confidence", "source",
)  # fmt: skip
StateRow = tuple[str, datetime, float | None, float | None, float | None, int, int,
                 int | None, float | None, float | None, str]  # fmt: skip
READING_COLUMNS = ("detector_id", "ts", "lane", "interval_s", "volume", "occupancy", "speed_kmh")
ReadingRow = tuple[str, datetime, int, int, int, float, float | None]
KPI_COLUMNS = (
    "minute", "avg_speed_kmh", "congested_km", "vehicle_km", "vehicle_hours",
    "delay_vehicle_hours", "segments_with_data",
)  # fmt: skip

_STATE_SET = ", ".join(f"{c} = EXCLUDED.{c}" for c in STATE_COLUMNS[2:])
_STATE_COLS = ", ".join(STATE_COLUMNS)


def _stage(conn: psycopg.Connection, temp: str, like: str, columns: Sequence[str], rows) -> int:
    conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {temp} (LIKE {like} INCLUDING DEFAULTS)"
        " ON COMMIT DELETE ROWS"
    )
    n = 0
    with conn.cursor().copy(f"COPY {temp} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


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

    def prepare(self, conn: psycopg.Connection, table: str, lo: datetime, hi: datetime) -> None:
        """Create missing partitions for ``table`` rows in ``[lo, hi]`` (outside a transaction)."""
        self.partitions.ensure(conn, table, lo, hi)
        if table == "segment_state":
            for rollup in ROLLUPS:
                self.partitions.ensure(conn, rollup, lo, hi)

    def write_states(self, conn: psycopg.Connection, rows: Sequence[StateRow]) -> int:
        """Upsert per-minute segment states, advance ``segment_current``, refresh rollups."""
        if not rows:
            return 0
        n = _stage(conn, "_state_in", "segment_state", STATE_COLUMNS, rows)
        self.merge_staged_states(conn)
        return n

    def merge_staged_states(self, conn: psycopg.Connection) -> None:
        """Merge the rows staged in ``_state_in`` (see :meth:`write_states`)."""
        conn.execute(
            f"INSERT INTO segment_state ({_STATE_COLS}) SELECT {_STATE_COLS} FROM _state_in"
            " ORDER BY segment_id, minute"
            f" ON CONFLICT (segment_id, minute) DO UPDATE SET {_STATE_SET}"
        )
        conn.execute(
            f"INSERT INTO segment_current ({_STATE_COLS}, updated_at)"
            f" SELECT DISTINCT ON (segment_id) {_STATE_COLS}, now() FROM _state_in"
            " ORDER BY segment_id, minute DESC"
            f" ON CONFLICT (segment_id) DO UPDATE SET minute = EXCLUDED.minute, {_STATE_SET},"
            " updated_at = now() WHERE segment_current.minute <= EXCLUDED.minute"
        )
        if self.mode(conn) == "plain":
            lo, hi = conn.execute("SELECT min(minute), max(minute) FROM _state_in").fetchone()
            if lo is not None:
                refresh_rollups(conn, lo, hi)

    def write_readings(self, conn: psycopg.Connection, rows: Sequence[ReadingRow]) -> int:
        """Upsert detector readings (a corrected reading replaces the stored one)."""
        if not rows:
            return 0
        n = _stage(conn, "_reading_in", "detector_reading", READING_COLUMNS, rows)
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
        return n

    def write_kpis(self, conn: psycopg.Connection, rows: Sequence[tuple]) -> int:
        """Upsert network KPIs per minute."""
        if not rows:
            return 0
        cols = ", ".join(KPI_COLUMNS)
        n = _stage(conn, "_kpi_in", "network_kpi", KPI_COLUMNS, rows)
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in KPI_COLUMNS[1:])
        conn.execute(
            f"INSERT INTO network_kpi ({cols}) SELECT {cols} FROM _kpi_in"
            f" ON CONFLICT (minute) DO UPDATE SET {sets}"
        )
        return n
