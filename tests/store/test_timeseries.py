"""The time-series store on plain PostgreSQL: migrations, partitions, retention, idempotent
writers, rollups and the read queries (real database)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from store import queries
from store.migrate import discover, migrate
from store.partitions import PartitionManager, existing_partitions, set_retention
from store.rollups import ROLLUPS, refresh_dirty_rollups
from store.state_writer import StoreWriter

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
SEGMENTS = ["a:0:f", "a:0:r", "b:0:f"]


def _connect(dsn: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True)


def _add_segments(conn: psycopg.Connection) -> None:
    for k, sid in enumerate(SEGMENTS):
        lon = 106.68 + 0.01 * k
        conn.execute(
            "INSERT INTO road_segment (segment_id, name, road_class, lanes, free_flow_kmh,"
            " length_m, from_node, to_node, geom) VALUES (%s, %s, %s, 2, 50, 500, %s, %s,"
            " ST_SetSRID(ST_MakeLine(ST_MakePoint(%s, 20.85), ST_MakePoint(%s, 20.855)), 4326))",
            (
                sid,
                f"Road {sid[0]}",
                "primary" if sid[0] == "a" else "secondary",
                k,
                k + 1,
                lon,
                lon,
            ),
        )


def _states(minutes: int, seed: int = 0) -> list[tuple]:
    rng = np.random.default_rng(seed)
    rows = []
    for sid in SEGMENTS:
        for i in range(minutes):
            speed = None if rng.random() < 0.1 else float(np.round(rng.uniform(5, 50), 2))
            tt = None if speed is None else 500 * 3.6 / speed
            rows.append((sid, T0 + timedelta(minutes=i), speed, tt, 50.0, int(rng.integers(0, 9)),
                         int(rng.integers(0, 5)), int(rng.integers(0, 5)),
                         float(rng.uniform(0, 10)), float(rng.uniform(0, 1)), "probe"))  # fmt: skip
    return rows


def _write(writer: StoreWriter, conn: psycopg.Connection, rows: list[tuple]) -> None:
    writer.prepare(conn, "segment_state", (r[1] for r in rows))
    with conn.transaction():
        writer.write_states(conn, rows)
    refresh_dirty_rollups(conn)


def test_migrations_from_empty_and_rerun(stack_settings) -> None:
    from tests.conftest import _dsn_with_db

    name = f"itms_mig_{uuid.uuid4().hex[:8]}"
    with _connect(stack_settings.dsn) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = _dsn_with_db(stack_settings.dsn, name)
    try:
        assert migrate(dsn) == [m.version for m in discover()]
        assert migrate(dsn) == []
        with _connect(dsn) as conn:
            assert conn.execute("SELECT mode FROM store_mode").fetchone()[0] == "plain"
            kinds = dict(
                conn.execute(
                    "SELECT relname, relkind FROM pg_class WHERE relname = ANY(%s)",
                    (["segment_state", "gps_fix", "detector_reading", "network_kpi",
                      "probe_traversal", *ROLLUPS],),
                ).fetchall()
            )  # fmt: skip
            assert set(kinds.values()) == {"p"} and len(kinds) == 7
            # raw fixes are not kept in the database (the gps topic holds the raw feed)
            assert "gps_fix" not in kinds
            assert conn.execute("SELECT count(*) FROM ts_table WHERE table_name = 'gps_fix'"
                                ).fetchone()[0] == 0  # fmt: skip
    finally:
        with _connect(stack_settings.dsn) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_rewriting_a_batch_changes_nothing(db_factory) -> None:
    with _connect(db_factory()) as conn:
        _add_segments(conn)
        writer = StoreWriter()
        rows = _states(30)
        _write(writer, conn, rows)
        snapshot = [
            conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            for t in ("segment_state", "segment_state_5m", "segment_state_1h")
        ]
        _write(writer, conn, rows)  # replay of the same batch
        _write(writer, conn, rows[:10])  # and of a part of it
        again = [
            conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            for t in ("segment_state", "segment_state_5m", "segment_state_1h")
        ]
        assert again == snapshot
        assert len(snapshot[0]) == 90
        current = conn.execute(
            "SELECT segment_id, minute FROM segment_current ORDER BY 1"
        ).fetchall()
        assert current == [(s, T0 + timedelta(minutes=29)) for s in SEGMENTS]


def test_rollups_equal_aggregating_the_minutes(db_factory) -> None:
    with _connect(db_factory()) as conn:
        _add_segments(conn)
        writer = StoreWriter()
        rows = _states(130, seed=3)
        # written in three uneven batches, like a worker would
        for part in (rows[:47], rows[47:250], rows[250:]):
            _write(writer, conn, part)
        for table, width in ROLLUPS.items():
            expect: dict[tuple, list] = {}
            for r in rows:
                bucket = T0 + ((r[1] - T0) // width) * width  # T0 is aligned to all widths
                expect.setdefault((r[0], bucket), []).append(r)
            got = conn.execute(
                f"SELECT segment_id, bucket, speed_kmh, travel_time_s, n_samples, n_vehicles,"
                f" congestion_level, minutes FROM {table} ORDER BY 1, 2"
            ).fetchall()
            assert len(got) == len(expect), table
            for sid, bucket, speed, tt, n, nv, level, minutes in got:
                group = expect[(sid, bucket)]
                speeds = [g[2] for g in group if g[2] is not None]
                if speeds:
                    assert speed == pytest.approx(
                        len(speeds) / sum(1 / s for s in speeds), rel=1e-5
                    )
                    tts = [g[3] for g in group if g[3] is not None]
                    assert tt == pytest.approx(sum(tts) / len(tts), rel=1e-5)
                else:
                    assert speed is None and tt is None
                assert n == sum(g[5] for g in group)
                assert nv == max(g[6] for g in group)
                assert level == max(g[7] for g in group)
                assert minutes == len(group)


def test_partitions_created_on_demand_and_dropped_by_retention(db_factory) -> None:
    with _connect(db_factory()) as conn:
        _add_segments(conn)
        writer = StoreWriter()
        now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
        old = [(r[0], now - timedelta(days=40), *r[2:]) for r in _states(1)]
        recent = [(r[0], now - timedelta(days=1), *r[2:]) for r in _states(1)]
        _write(writer, conn, old + recent)
        parts = existing_partitions(conn, "segment_state")
        assert len(parts) == 2
        assert all(hi - lo == timedelta(days=1) for lo, hi in parts.values())
        ahead = PartitionManager().create_ahead(conn, now, ahead=timedelta(days=3))
        assert ahead >= 4  # today .. +3 days for segment_state alone
        set_retention(conn, "segment_state", timedelta(days=30))
        dropped = PartitionManager().apply_retention(conn, now)
        assert [d for d in dropped if d.startswith("segment_state_p")] == [
            f"segment_state_p{(now - timedelta(days=40)):%Y%m%d}_0000"
        ]
        left = conn.execute("SELECT DISTINCT minute FROM segment_state").fetchall()
        assert left == [(now - timedelta(days=1),)]
        with pytest.raises(ValueError, match="not a time-series table"):
            set_retention(conn, "road_segment", timedelta(days=1))


def test_queries_return_what_was_written(db_factory) -> None:
    with _connect(db_factory()) as conn:
        _add_segments(conn)
        writer = StoreWriter()
        rows = _states(144, seed=5)  # 2 h 24 min of minutes
        _write(writer, conn, rows)
        last = T0 + timedelta(minutes=len(rows) // 3 - 1)
        cur = queries.current_state(conn)
        assert [c["segment_id"] for c in cur] == SEGMENTS
        assert all(c["minute"] == last for c in cur)
        by_class = queries.current_state(conn, road_classes=["secondary"], with_geometry=True)
        assert [c["segment_id"] for c in by_class] == ["b:0:f"]
        assert '"LineString"' in by_class[0]["geometry"]
        boxed = queries.current_state(conn, bbox=(106.675, 20.84, 106.695, 20.86))
        assert [c["segment_id"] for c in boxed] == ["a:0:f", "a:0:r"]
        stale = queries.current_state(
            conn, max_age=timedelta(minutes=5), now=last + timedelta(hours=1)
        )
        assert all(c["speed_kmh"] is None and c["minute"] is None for c in stale)

        res, hist = queries.segment_history(conn, "a:0:f", T0, T0 + timedelta(hours=2))
        assert res == "1m" and len(hist) == 120
        expected = [r for r in rows if r[0] == "a:0:f"][:120]
        nan = float("nan")
        got_speeds = [nan if h["speed_kmh"] is None else h["speed_kmh"] for h in hist]
        want = [nan if r[2] is None else r[2] for r in expected]
        assert got_speeds == pytest.approx(want, rel=1e-6, nan_ok=True)
        assert [h["time"] for h in hist] == [r[1] for r in expected]
        res, hist = queries.segment_history(conn, "a:0:f", T0, T0 + timedelta(days=1))
        assert res == "5m" and len(hist) == 29
        res, hist = queries.segment_history(conn, "a:0:f", T0, T0 + timedelta(days=1), "1h")
        assert res == "1h" and len(hist) == 3

        kpi = [(T0 + timedelta(minutes=i), 30.0 + i, 1.5, 100.0, 3.0, 0.5, 3) for i in range(5)]
        with conn.transaction():
            writer.partitions.ensure(conn, "network_kpi", [T0])
            writer.write_kpis(conn, kpi)
            writer.write_kpis(conn, kpi)
        got = queries.kpis(conn, T0, T0 + timedelta(minutes=3))
        assert [k["avg_speed_kmh"] for k in got] == [30.0, 31.0, 32.0]


def test_incident_queries_filter_and_page(db_factory) -> None:
    with _connect(db_factory()) as conn:
        for k, (status, sev) in enumerate(
            [("confirmed", 3), ("suspected", 2), ("cleared", 4), ("dismissed", 1), ("confirmed", 5)]
        ):
            conn.execute(
                "INSERT INTO incident (incident_id, status, kind, severity, segment_id, road_name,"
                " geom, started_at, updated_at, ended_at, source) VALUES (%s, %s, 'crash', %s, 'a',"
                " 'Lạch Tray', ST_SetSRID(ST_MakePoint(%s, 20.85), 4326), %s, %s, %s, 'probe')",
                (f"inc-{k}", status, sev, 106.68 + 0.01 * k, T0 + timedelta(minutes=k),
                 T0 + timedelta(minutes=k), None if status in ("confirmed", "suspected")
                 else T0 + timedelta(minutes=30 + k)),
            )  # fmt: skip

        def ids(rows: list[dict]) -> list[str]:
            return [r["incident_id"] for r in rows]

        assert ids(queries.incidents(conn, active=True)) == ["inc-4", "inc-1", "inc-0"]
        assert ids(queries.incidents(conn, active=False)) == ["inc-3", "inc-2"]
        assert ids(queries.incidents(conn, min_severity=4)) == ["inc-4", "inc-2"]
        assert ids(queries.incidents(conn, bbox=(106.675, 20.8, 106.695, 20.9))) == [
            "inc-1",
            "inc-0",
        ]
        page1 = queries.incidents(conn, limit=2)
        page2 = queries.incidents(
            conn, limit=2, before=(page1[-1]["started_at"], page1[-1]["incident_id"])
        )
        assert ids(page1) + ids(page2) == ["inc-4", "inc-3", "inc-2", "inc-1"]


def test_detector_readings_and_health(db_factory) -> None:
    with _connect(db_factory()) as conn:
        _add_segments(conn)
        for d in ("ok", "zero", "stuck", "silent"):
            conn.execute(
                "INSERT INTO detector (detector_id, segment_id) VALUES (%s, 'a:0:f')", (f"d-{d}",)
            )
        rows = []
        for i in range(30):
            ts = T0 + timedelta(minutes=i + 1)
            rows.append(("d-ok", ts, -1, 60, 20 + i % 7, 0.1 + 0.01 * (i % 5), 40.0))
            rows.append(("d-zero", ts, -1, 60, 0, 0.0, None))
            rows.append(("d-stuck", ts, -1, 60, 17, 0.22, 33.0))
        writer = StoreWriter()
        writer.prepare(conn, "detector_reading", (r[1] for r in rows))
        with conn.transaction():
            assert writer.write_readings(conn, rows) == 90
            writer.write_readings(conn, rows[:9])  # replayed
        got = queries.detector_readings(conn, "d-ok", T0, T0 + timedelta(minutes=10))
        assert [g["volume"] for g in got] == [20 + i % 7 for i in range(9)]
        health = {
            h["detector_id"]: h
            for h in queries.detector_health(
                conn, now=T0 + timedelta(minutes=30), window=timedelta(minutes=30)
            )
        }
        assert health["d-ok"]["completeness"] == pytest.approx(1.0)
        assert not health["d-ok"]["stuck"] and not health["d-ok"]["all_zero"]
        assert health["d-zero"]["all_zero"]
        assert health["d-stuck"]["stuck"]
        assert health["d-silent"]["readings"] == 0 and health["d-silent"]["last_ts"] is None
