"""The time-series store on TimescaleDB: hypertables, continuous aggregates, compression and
retention policies, and the same query results as the plain-PostgreSQL path (real database).

Skipped when the test server has no TimescaleDB, so a clean machine (and CI) tests the plain
path only. To run it, install TimescaleDB into the server's PostgreSQL and stop the test stack:
the next session restarts it and ``store.local_cluster`` then preloads the library.

The background jobs of each test database are paused and the policies are run with
``run_job``, so the results never depend on when the job scheduler wakes up.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from store import queries
from store.migrate import discover, migrate
from store.partitions import set_retention
from store.rollups import ROLLUPS, refresh_dirty_rollups
from store.state_writer import StoreWriter
from store.traversal_writer import TraversalRow, write_presence, write_traversals

pytestmark = pytest.mark.integration

HYPERTABLES = {"detector_reading", "network_kpi", "probe_cell", "probe_presence",
               "probe_traversal", "segment_state"}  # fmt: skip
COMPRESSED = {"detector_reading", "probe_cell", "probe_traversal", "segment_state"}
SEGMENTS = ["a:0:f", "a:0:r", "b:0:f"]
RESOLUTIONS = ("1m", "5m", "15m", "1h")
DETECTOR = "det:1"


def _connect(dsn: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True)


def _with_db(dsn: str, dbname: str) -> str:
    return make_conninfo(**{**conninfo_to_dict(dsn), "dbname": dbname})


@pytest.fixture(scope="module")
def timescaledb(stack_settings) -> str:
    """The TimescaleDB version the test server offers; skips the module when it has none."""
    with _connect(stack_settings.dsn) as conn:
        row = conn.execute(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
    if row is None:
        pytest.skip(
            "TimescaleDB is not installed on the test server (no 'timescaledb' in"
            " pg_available_extensions); only the plain-PostgreSQL path is tested"
        )
    if "timescaledb" not in preload:
        pytest.skip(
            "TimescaleDB is installed but the test server does not preload it (started before"
            " the install?); stop the test stack so that the next session restarts it"
        )
    return row[0]


@pytest.fixture
def store_factory(stack_settings, timescaledb: str) -> Iterator[Callable[..., str]]:
    """Makes fresh databases; returns their DSNs.

    With ``timescale=True`` (default) the database gets PostGIS and TimescaleDB before it is
    migrated, and its policy jobs are paused; with ``timescale=False`` it is a plain-mode store,
    made the same way rather than cloned from a template (with TimescaleDB preloaded,
    ``CREATE DATABASE … TEMPLATE`` races with the TimescaleDB scheduler it restarts in the
    template: timescale/timescaledb#4048). ``migrated=False`` leaves it unmigrated.
    """
    made: list[str] = []

    def make(*, timescale: bool = True, migrated: bool = True) -> str:
        name = f"itms_ts_{uuid.uuid4().hex[:10]}"
        with _connect(stack_settings.dsn) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        dsn = _with_db(stack_settings.dsn, name)
        with _connect(dsn) as conn:
            conn.execute("CREATE EXTENSION postgis")
            if timescale:
                try:
                    conn.execute("CREATE EXTENSION timescaledb")
                except psycopg.Error as exc:
                    if "preload" in str(exc):
                        pytest.skip(f"TimescaleDB cannot be created on the test server: {exc}")
                    raise
        if migrated:
            migrate(dsn)
            if timescale:
                with _connect(dsn) as conn:
                    conn.execute(
                        "SELECT alter_job(job_id, scheduled => false)"
                        " FROM timescaledb_information.jobs WHERE hypertable_name IS NOT NULL"
                    )
        return dsn

    yield make
    with _connect(stack_settings.dsn) as admin:
        for name in made:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


# -- data ------------------------------------------------------------------------------------


def _hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def _add_segments(conn: psycopg.Connection) -> None:
    rows = [
        (sid, f"Road {sid[0]}", "primary" if sid[0] == "a" else "secondary", k, k + 1, lon, lon)
        for k, sid in enumerate(SEGMENTS)
        for lon in [106.68 + 0.01 * k]
    ]
    conn.cursor().executemany(
        "INSERT INTO road_segment (segment_id, name, road_class, lanes, free_flow_kmh, length_m,"
        " from_node, to_node, geom) VALUES (%s, %s, %s, 2, 50, 500, %s, %s,"
        " ST_SetSRID(ST_MakeLine(ST_MakePoint(%s, 20.85), ST_MakePoint(%s, 20.855)), 4326))",
        rows,
    )


def _states(t0: datetime, minutes: int, seed: int = 0) -> list[tuple]:
    """Per-minute states of every segment from ``t0``: varied speeds, ~10 % NULL speeds, and
    a quarter of an hour with no speed at all on the last segment (NULL rollup speeds)."""
    rng = np.random.default_rng(seed)
    rows = []
    for sid in SEGMENTS:
        for i in range(minutes):
            gap = sid == SEGMENTS[-1] and 60 <= i < 75
            speed = None if gap or rng.random() < 0.1 else float(np.round(rng.uniform(5, 80), 2))
            tt = None if speed is None else 500 * 3.6 / speed
            rows.append((sid, t0 + timedelta(minutes=i), speed, tt, 50.0, int(rng.integers(0, 9)),
                         int(rng.integers(0, 5)), int(rng.integers(0, 5)),
                         float(rng.uniform(0, 10)), float(rng.uniform(0, 1)), "probe"))  # fmt: skip
    return rows


def _readings(t0: datetime, minutes: int) -> list[tuple]:
    rng = np.random.default_rng(7)
    return [
        (DETECTOR, t0 + timedelta(minutes=i), lane, 60, int(rng.integers(0, 30)),
         float(rng.uniform(0, 0.6)), None if i % 13 == 0 else float(rng.uniform(10, 70)))
        for i in range(minutes) for lane in (0, 1)
    ]  # fmt: skip


def _kpis(t0: datetime, minutes: int) -> list[tuple]:
    rng = np.random.default_rng(11)
    return [
        (t0 + timedelta(minutes=i), float(rng.uniform(10, 60)), float(rng.uniform(0, 5)),
         float(rng.uniform(10, 100)), float(rng.uniform(0, 3)), float(rng.uniform(0, 1)), 3)
        for i in range(minutes)
    ]  # fmt: skip


def _write(writer: StoreWriter, conn: psycopg.Connection, rows: list[tuple]) -> None:
    writer.prepare(conn, "segment_state", [r[1] for r in rows])
    with conn.transaction():
        writer.write_states(conn, rows)


# -- reading back ----------------------------------------------------------------------------


def _history(conn: psycopg.Connection, start: datetime, end: datetime) -> dict[tuple, list]:
    return {
        (sid, res): queries.segment_history(conn, sid, start, end, res)[1]
        for sid in SEGMENTS
        for res in RESOLUTIONS
    }


def _current(conn: psycopg.Connection, **kwargs: Any) -> list[dict[str, Any]]:
    rows = queries.current_state(conn, with_geometry=True, **kwargs)
    for row in rows:
        del row["updated_at"]  # when the row was written, not what
    return rows


def _approx(value: Any) -> Any:
    """``value`` with every float compared at rel 1e-5 (``real`` columns)."""
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-5)
    if isinstance(value, dict):
        return {k: _approx(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_approx(v) for v in value)
    return value


def _refresh_plain(conn: psycopg.Connection) -> None:
    """Recompute the plain store's dirty rollup hours (what the workers do periodically)."""
    while refresh_dirty_rollups(conn):
        pass


def _refresh_all(conn: psycopg.Connection) -> None:
    for view in ROLLUPS:
        conn.execute(
            sql.SQL("CALL refresh_continuous_aggregate({}, NULL, NULL)").format(sql.Literal(view))
        )


def _run_policy(conn: psycopg.Connection, proc: str, table: str) -> None:
    """Run the ``proc`` policy job of ``table`` now, in this session."""
    row = conn.execute(
        "SELECT job_id FROM timescaledb_information.jobs"
        " WHERE proc_name = %s AND hypertable_name = %s",
        (proc, table),
    ).fetchone()
    assert row is not None, f"no {proc} job on {table}"
    conn.execute(sql.SQL("CALL run_job({})").format(sql.Literal(row[0])))


def _chunks(conn: psycopg.Connection, table: str) -> dict[datetime, bool]:
    """Chunks of ``table``: range start -> compressed."""
    return dict(
        conn.execute(
            "SELECT range_start, is_compressed FROM timescaledb_information.chunks"
            " WHERE hypertable_name = %s ORDER BY range_start",
            (table,),
        ).fetchall()
    )


def _materialized_rows(conn: psycopg.Connection, view: str) -> int:
    schema, table = conn.execute(
        "SELECT materialization_hypertable_schema, materialization_hypertable_name"
        " FROM timescaledb_information.continuous_aggregates WHERE view_name = %s",
        (view,),
    ).fetchone()
    query = sql.SQL("SELECT count(*) FROM {}.{}").format(
        sql.Identifier(schema), sql.Identifier(table)
    )
    return conn.execute(query).fetchone()[0]


# -- tests -----------------------------------------------------------------------------------


def test_migrations_build_the_timescaledb_store(store_factory) -> None:
    dsn = store_factory(migrated=False)
    assert migrate(dsn) == [m.version for m in discover()]
    assert migrate(dsn) == []
    with _connect(dsn) as conn:
        assert conn.execute("SELECT mode FROM store_mode").fetchone()[0] == "timescaledb"
        hypertables = dict(
            conn.execute(
                "SELECT hypertable_name, compression_enabled"
                " FROM timescaledb_information.hypertables WHERE hypertable_schema = 'public'"
            ).fetchall()
        )
        assert set(hypertables) == HYPERTABLES
        assert {t for t, on in hypertables.items() if on} == COMPRESSED
        caggs = dict(
            conn.execute(
                "SELECT view_name, materialized_only"
                " FROM timescaledb_information.continuous_aggregates"
            ).fetchall()
        )
        assert caggs == dict.fromkeys(ROLLUPS, False)  # real-time aggregation on
        jobs = conn.execute(
            "SELECT proc_name, hypertable_name FROM timescaledb_information.jobs"
            " WHERE hypertable_name IS NOT NULL"
        ).fetchall()
        assert {t for p, t in jobs if p == "policy_refresh_continuous_aggregate"} == set(ROLLUPS)
        assert {t for p, t in jobs if p == "policy_compression"} == COMPRESSED
        # one retention policy per registered table, dropping after the registered retention
        missing = conn.execute(
            "SELECT t.table_name FROM ts_table t WHERE t.retention IS NOT NULL AND NOT EXISTS ("
            " SELECT 1 FROM timescaledb_information.jobs j WHERE j.proc_name = 'policy_retention'"
            " AND j.hypertable_name = t.table_name"
            " AND (j.config->>'drop_after')::interval = t.retention)"
        ).fetchall()
        assert missing == []
        registered = conn.execute(
            "SELECT count(*) FROM ts_table WHERE retention IS NOT NULL"
        ).fetchone()[0]
        assert sum(p == "policy_retention" for p, _ in jobs) == registered >= 9
        # a refresh over raw data that retention dropped would delete those rollups: every
        # refresh window must stay inside the raw retention of segment_state
        outside = conn.execute(
            "SELECT j.hypertable_name FROM timescaledb_information.jobs j, ts_table t"
            " WHERE j.proc_name = 'policy_refresh_continuous_aggregate'"
            " AND t.table_name = 'segment_state'"
            " AND (j.config->>'start_offset')::interval >= t.retention"
        ).fetchall()
        assert outside == []

        # retention is changed through the store in both modes: here it moves the policy
        set_retention(conn, "segment_state", timedelta(days=60))

        def drop_after() -> list:
            return conn.execute(
                "SELECT (config->>'drop_after')::interval FROM timescaledb_information.jobs"
                " WHERE proc_name = 'policy_retention' AND hypertable_name = 'segment_state'"
            ).fetchall()

        assert drop_after() == [(timedelta(days=60),)]
        set_retention(conn, "segment_state", None)
        assert drop_after() == []
    assert migrate(dsn) == []


def test_same_results_as_the_plain_store(store_factory) -> None:
    plain = _connect(store_factory(timescale=False))
    tsdb = _connect(store_factory())
    with plain, tsdb:
        modes = [c.execute("SELECT mode FROM store_mode").fetchone()[0] for c in (plain, tsdb)]
        assert modes == ["plain", "timescaledb"]
        # three hours ending two hours ago: inside every refresh policy's window
        t0 = _hour(datetime.now(UTC)) - timedelta(hours=5)
        start, end = t0 - timedelta(hours=1), t0 + timedelta(hours=4)
        rows = _states(t0, 180, seed=5)
        readings, kpis = _readings(t0, 180), _kpis(t0, 180)
        for conn in (plain, tsdb):
            _add_segments(conn)
            writer = StoreWriter()
            for part in (rows[:47], rows[47:250], rows[250:]):  # uneven batches, like a worker
                _write(writer, conn, part)
            writer.prepare(conn, "detector_reading", [r[1] for r in readings])
            writer.prepare(conn, "network_kpi", [r[0] for r in kpis])
            with conn.transaction():
                writer.write_readings(conn, readings)
                writer.write_kpis(conn, kpis)

        def assert_same() -> None:
            expected = _history(plain, start, end)
            assert sum(len(v) for v in expected.values()) == 3 * (180 + 36 + 12 + 3)
            assert _history(tsdb, start, end) == _approx(expected)
            assert _current(tsdb) == _approx(_current(plain))
            now = t0 + timedelta(hours=3, minutes=30)
            fresh = {"max_age": timedelta(minutes=45), "now": now}
            assert _current(tsdb, **fresh) == _approx(_current(plain, **fresh))
            assert queries.kpis(tsdb, start, end) == _approx(queries.kpis(plain, start, end))
            assert queries.detector_readings(tsdb, DETECTOR, start, end) == _approx(
                queries.detector_readings(plain, DETECTOR, start, end)
            )

        # nothing materialized yet: the rollups are computed by real-time aggregation
        _refresh_plain(plain)
        assert all(_materialized_rows(tsdb, v) == 0 for v in ROLLUPS)
        assert_same()
        _refresh_all(tsdb)
        for view in ROLLUPS:
            n_plain = plain.execute(f"SELECT count(*) FROM {view}").fetchone()[0]
            assert _materialized_rows(tsdb, view) == n_plain > 0, view
        assert_same()

        # a late correction of materialized minutes: the minutes change at once, the rollups
        # when the plain store drains its dirty hours and the refresh policies have run
        late = [
            (*r[:2], None if r[2] is None else r[2] / 2, None if r[3] is None else r[3] * 2, *r[4:])
            for r in rows[10:25]
        ]
        for conn in (plain, tsdb):
            _write(StoreWriter(), conn, late)
        bucket = (SEGMENTS[0], "5m")
        stale = _history(tsdb, start, end)[bucket]
        assert_same()
        _refresh_plain(plain)
        for view in ROLLUPS:
            _run_policy(tsdb, "policy_refresh_continuous_aggregate", view)
        assert_same()
        assert _history(tsdb, start, end)[bucket] != _approx(stale)


def test_old_chunks_compress_and_still_take_upserts(store_factory) -> None:
    with _connect(store_factory()) as conn:
        _add_segments(conn)
        writer = StoreWriter()
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        old_a, old_b = today - timedelta(days=10, hours=-6), today - timedelta(days=9, hours=-6)
        recent = _hour(datetime.now(UTC)) - timedelta(hours=3)
        for t0, seed in ((old_a, 1), (old_b, 2), (recent, 3)):
            _write(writer, conn, _states(t0, 120, seed=seed))
        span = (old_a - timedelta(hours=1), old_b + timedelta(hours=3))
        before = _history(conn, *span)
        week_ago = today - timedelta(days=7)

        def compressed() -> tuple[list[bool], list[bool]]:
            chunks = _chunks(conn, "segment_state")
            return (
                [c for start, c in chunks.items() if start < week_ago],
                [c for start, c in chunks.items() if start >= week_ago],
            )

        assert compressed() == ([False, False], [False] * len(compressed()[1]))

        # by hand, the older chunk; then the policy compresses what is older than 7 days
        done = conn.execute(
            "SELECT compress_chunk(c) FROM show_chunks('segment_state', older_than => %s) c",
            (old_b.replace(hour=0),),
        ).fetchall()
        assert len(done) == 1
        assert compressed()[0] == [True, False]
        _run_policy(conn, "policy_compression", "segment_state")
        old_chunks, new_chunks = compressed()
        assert old_chunks == [True, True] and not any(new_chunks)
        assert _history(conn, *span) == before

        # corrections and replays upsert into compressed chunks
        late = [
            (*r[:2], 33.0, 500 * 3.6 / 33.0, *r[4:])
            for r in _states(old_a, 120, seed=1)
            if r[1] < old_a + timedelta(minutes=20)
        ]
        _write(writer, conn, late)
        _write(writer, conn, late)
        after = _history(conn, *span)
        for sid in SEGMENTS:
            old_1m = {r["time"]: r for r in before[(sid, "1m")]}
            new_1m = {r["time"]: r for r in after[(sid, "1m")]}
            assert new_1m.keys() == old_1m.keys()
            for minute, row in new_1m.items():
                if minute < old_a + timedelta(minutes=20):
                    assert row["speed_kmh"] == pytest.approx(33.0)
                else:
                    assert row == old_1m[minute]
            # nothing materialized: real-time aggregation reads the compressed chunks
            first = after[(sid, "5m")][0]
            assert first["time"] == old_a and first["speed_kmh"] == pytest.approx(33.0)
        count = conn.execute("SELECT count(*) FROM segment_state").fetchone()[0]
        assert count == 3 * 120 * 3

        # the policy recompresses the chunk the upserts touched; the rows stay
        _run_policy(conn, "policy_compression", "segment_state")
        old_chunks, new_chunks = compressed()
        assert old_chunks == [True, True] and not any(new_chunks)
        assert _history(conn, *span) == after


def test_retention_drops_raw_chunks_and_keeps_rollups(store_factory) -> None:
    with _connect(store_factory()) as conn:
        _add_segments(conn)
        writer = StoreWriter()
        now = datetime.now(UTC)
        ancient, old = _hour(now - timedelta(days=100)), _hour(now - timedelta(days=10))
        recent = _hour(now) - timedelta(hours=3)
        for t0 in (ancient, old, recent):
            _write(writer, conn, _states(t0, 120))
        _refresh_all(conn)
        rollups_then = {
            t0: _history(conn, t0, t0 + timedelta(hours=3)) for t0 in (ancient, old, recent)
        }

        # the policy drops raw data older than 90 days; the rollups keep it
        _run_policy(conn, "policy_retention", "segment_state")
        kept = _chunks(conn, "segment_state")
        assert min(kept) > now - timedelta(days=90)
        ancient_now = _history(conn, ancient, ancient + timedelta(hours=3))
        for sid in SEGMENTS:
            assert ancient_now[(sid, "1m")] == []
            for res in ("5m", "15m", "1h"):
                assert ancient_now[(sid, res)] == rollups_then[ancient][(sid, res)] != []
        # the rollups' own refresh policies do not reach back that far
        for view in ROLLUPS:
            _run_policy(conn, "policy_refresh_continuous_aggregate", view)
        assert _history(conn, ancient, ancient + timedelta(hours=3)) == ancient_now

        # drop_chunks by hand, on a compressed chunk
        conn.execute(
            "SELECT compress_chunk(c) FROM show_chunks('segment_state', older_than => %s) c",
            (timedelta(days=7),),
        )
        dropped = conn.execute(
            "SELECT drop_chunks('segment_state', older_than => %s)", (timedelta(days=7),)
        ).fetchall()
        assert dropped
        assert min(_chunks(conn, "segment_state")) > now - timedelta(days=7)
        old_now = _history(conn, old, old + timedelta(hours=3))
        for sid in SEGMENTS:
            assert old_now[(sid, "1m")] == []
            for res in ("5m", "15m", "1h"):
                assert old_now[(sid, res)] == rollups_then[old][(sid, res)] != []
        assert _history(conn, recent, recent + timedelta(hours=3)) == rollups_then[recent]


def test_traversals_and_presence_go_into_old_compressed_chunks_once(store_factory) -> None:
    """0007's ``known_at`` column on the compressed traversal hypertable and 0008's presence
    hypertable: a replay of old traversals and presence records inserts nothing twice."""
    with _connect(store_factory()) as conn:
        _add_segments(conn)
        day = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
        old = day - timedelta(days=10)

        def traversals(t0: datetime, known: bool) -> list[TraversalRow]:
            rows = []
            for k in range(60):
                entry = t0 + timedelta(minutes=k)
                row = TraversalRow(SEGMENTS[k % 3], entry.replace(second=0), f"v{k}", entry,
                                   entry + timedelta(seconds=40), 45.0, 0.0, "car")
                rows.append(row._replace(known_at=entry + timedelta(seconds=60)) if known else row)
            return rows

        with conn.transaction():
            assert write_traversals(conn, traversals(old, known=False)) == 60
            assert write_traversals(conn, traversals(day, known=True)) == 60
        done = conn.execute(
            "SELECT compress_chunk(c) FROM show_chunks('probe_traversal', older_than => %s) c",
            (day - timedelta(days=7),),
        ).fetchall()
        assert len(done) == 1
        with conn.transaction():  # a replay: the same rows, now with known_at
            assert write_traversals(conn, traversals(old, known=True)) == 0
            assert write_traversals(conn, traversals(day, known=True)) == 0
        stats = conn.execute(
            "SELECT count(*), count(known_at), count(DISTINCT (vehicle_id, entry_ts))"
            " FROM probe_traversal"
        ).fetchone()
        assert stats == (120, 60, 120)  # the first write of a traversal stays as it was

        def presence(t0: datetime) -> list[tuple]:
            return [(t0, SEGMENTS[0], f"v{k}", "car", t0 - timedelta(seconds=90), True,
                     t0 - timedelta(seconds=5), 120.0, 30.0, 60.0, 0.0, 0.0, 90.0)
                    for k in range(5)]  # fmt: skip

        with conn.transaction():
            assert write_presence(conn, presence(old)) == 5
            assert write_presence(conn, presence(day)) == 5
            assert write_presence(conn, presence(day)) == 0
        assert conn.execute("SELECT count(*) FROM probe_presence").fetchone()[0] == 10
        assert _chunks(conn, "probe_presence")  # a hypertable, chunked by day
