"""Benchmark the time-series store: writer throughput and query latency.

    itms stack up && python bench/store_bench.py [--segments 10000] [--minutes 20]

Creates (and drops) a scratch database ``itms_bench`` next to the configured one.
Prints rows/s through :class:`store.state_writer.StoreWriter` for segment states
and detector readings (COPY + idempotent merge, one transaction per batch of
``--batch`` rows), the latency of the current-state query over all segments,
and of a 24-hour history of one segment at 5-minute resolution.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from itms.settings import Settings
from store import queries
from store.database_admin import analyze, create_database, drop_database
from store.rollups import refresh_dirty_rollups
from store.state_writer import StoreWriter
from store.synthetic_load import fill_random_5m_rollups, insert_grid_segments


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def _latencies_ms(query, repeats: int, expected_rows: int) -> list[float]:
    """Run ``query(k)`` ``repeats`` times; milliseconds per call (checks the row count)."""
    lat = []
    for k in range(repeats):
        s = time.perf_counter()
        rows = query(k)
        lat.append((time.perf_counter() - s) * 1000)
        assert len(rows) == expected_rows, (len(rows), expected_rows)
    return lat


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--segments", type=int, default=10_000)
    p.add_argument("--minutes", type=int, default=20)
    p.add_argument("--batch", type=int, default=50_000)
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = p.parse_args()
    base = Settings().dsn
    drop_database(base, "itms_bench")
    dsn = create_database(base, "itms_bench")
    rng = np.random.default_rng(0)
    ids = [f"seg-{i:05d}" for i in range(args.segments)]
    t0 = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    with psycopg.connect(dsn, autocommit=True) as conn:
        insert_grid_segments(conn, args.segments)
        writer = StoreWriter()
        # -- segment states --------------------------------------------------------------
        rows = []
        for m in range(args.minutes):
            minute = t0 + timedelta(minutes=m)
            speeds = rng.uniform(5, 60, args.segments).round(2)
            for sid, v in zip(ids, speeds, strict=True):
                rows.append((sid, minute, float(v), 1080.0 / v, 50.0, 5, 3, 1, 2.5, 0.8, "probe"))
        writer.prepare(conn, "segment_state", {r[1] for r in rows})
        start = time.perf_counter()
        for i in range(0, len(rows), args.batch):
            with conn.transaction():
                writer.write_states(conn, rows[i : i + args.batch])
        dt = time.perf_counter() - start
        print(f"segment_state: {len(rows):,} rows in {dt:.2f} s = {len(rows) / dt:,.0f} rows/s"
              " (with segment_current)")  # fmt: skip
        start = time.perf_counter()
        hours = refresh_dirty_rollups(conn)
        dt = time.perf_counter() - start
        print(f"rollups 5m/15m/1h for {hours} dirty hour(s): {dt:.2f} s"
              f" = {len(rows) / dt:,.0f} source rows/s")  # fmt: skip
        # replaying the same batch takes the merge path
        start = time.perf_counter()
        with conn.transaction():
            writer.write_states(conn, rows[: args.batch])
        dt = time.perf_counter() - start
        print(f"replayed batch (merge path): {args.batch:,} rows = {args.batch / dt:,.0f} rows/s")
        # -- detector readings ------------------------------------------------------------
        readings = [
            (f"det-{d:04d}", t0 + timedelta(seconds=30 * k), -1, 30, int(v), 0.12, 35.0)
            for k in range(args.minutes * 2)
            for d, v in enumerate(rng.poisson(12, 5000))
        ]
        writer.prepare(conn, "detector_reading", {r[1] for r in readings})
        start = time.perf_counter()
        for i in range(0, len(readings), args.batch):
            with conn.transaction():
                writer.write_readings(conn, readings[i : i + args.batch])
        dt = time.perf_counter() - start
        print(
            f"detector_reading: {len(readings):,} rows in {dt:.1f} s"
            f" = {len(readings) / dt:,.0f} rows/s"
        )
        # -- a day of 5-minute rollups for every segment ------------------------------------
        day = t0 - timedelta(days=1)
        writer.partitions.ensure(conn, "segment_state_5m", [day, t0])
        fill_random_5m_rollups(conn, day, t0)
        analyze(conn)
        # -- query latency ----------------------------------------------------------------
        cases = [
            ("current state, joined, as dicts", lambda k: queries.current_state(conn),
             args.segments),
            ("current state, lean rows", lambda k: queries.current_rows(conn), args.segments),
            ("24 h history at 5 min", lambda k: queries.segment_history(
                conn, ids[k % len(ids)], day, t0, "5m")[1], 288),
        ]  # fmt: skip
        for label, query, expected in cases:
            lat = _latencies_ms(query, args.repeats, expected)
            print(f"{label} ({expected:,} rows): p50 {_pct(lat, 50):.2f} ms,"
                  f" p95 {_pct(lat, 95):.2f} ms, mean {statistics.mean(lat):.2f} ms")  # fmt: skip
    if not args.keep:
        drop_database(base, "itms_bench")


if __name__ == "__main__":
    main()
