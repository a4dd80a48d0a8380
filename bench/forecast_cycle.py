"""One forecast cycle over a 10,000-segment network: time per cycle on one core and memory.

    python bench/forecast_cycle.py [--grid 51] [--cycles 5] [--db]

A synthetic grid city (``--grid`` × ``--grid`` junctions: 10,200 directed segments at 51)
and a model of the production size (LightGBM, 300 rounds, 31 leaves, three models per
horizon) trained on synthetic examples. Measured side by side in one run:

- **compute**: building the features, the model's three quantiles per horizon and both
  baselines for every segment (:meth:`Forecaster.forecast`), median of ``--cycles``;
- with ``--db`` the **whole cycle** of the worker (:meth:`ForecastWorker.step`) on a scratch
  database next to the configured one (``itms stack up``, or ``ITMS_DATABASE_URL``): 30
  minutes of stored states of every segment and their 15-minute rollups, read, forecast and
  stored (current forecasts and the 5-minute history), median of ``--cycles`` successive
  minutes;
- the process's peak resident memory (``ru_maxrss``).

Targets (issue 21): ≤ 10 s per cycle on one core, worker memory under 1 GB. BLAS and
LightGBM are held to one thread.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from analytics.forecast.features import FEATURES, HORIZONS_MIN, WINDOW_MIN, ForecastInputs
from analytics.forecast.model_file import ForecastModel, network_fingerprint
from analytics.workers.forecast_worker import ForecastParams, ForecastWorker
from roadnet import load_network
from roadnet import model as m
from simulators.synthetic_grid import write_grid
from store.synthetic_load import mark_minutes_built, unmark_minutes_built_after

BENCH_DB = "itms_forecast_bench"
T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def _model(fingerprint: str, n_segments: int, rows: int = 60_000) -> ForecastModel:
    """A production-size model trained on synthetic examples (the target a noisy function
    of the features, so that the trees grow full)."""
    rng = np.random.default_rng(1)
    x = rng.random((rows, len(FEATURES))).astype(np.float32)
    y = (0.5 * x[:, 0] + 0.3 * x[:, 7] + 0.2 * x[:, 10] * x[:, 12]
         + rng.normal(0, 0.05, rows)).astype(np.float32)  # fmt: skip
    return ForecastModel.train({h: (x, y) for h in HORIZONS_MIN}, fingerprint=fingerprint,
                               n_segments=n_segments, meta={"trained_at": "bench"})  # fmt: skip


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _store_states(dsn: str, network, minutes: int) -> None:
    import psycopg

    from store.database_admin import analyze
    from store.rollups import refresh_dirty_rollups
    from store.state_writer import StoreWriter

    ids = network.segments[m.SEGMENT_ID].astype(str).tolist()
    ff = network.segments[m.FREE_FLOW].to_numpy(float)
    ln = network.segments[m.LENGTH].to_numpy(float)
    rng = np.random.default_rng(2)
    times = [T0 + timedelta(minutes=k) for k in range(minutes)]
    writer = StoreWriter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        writer.prepare(conn, "segment_state", times)
        writer.prepare(conn, "network_kpi", times)
        for t in times:
            v = ff * rng.uniform(0.3, 1.0, len(ff))
            keep = rng.random(len(ff)) < 0.7  # 70 % of the segments published this minute
            rows = [(ids[i], t, float(v[i]), float(ln[i] / v[i] * 3.6), float(ff[i]), 3, 3, 0,
                     0.0, 0.8, "probe") for i in np.flatnonzero(keep)]  # fmt: skip
            with conn.transaction():
                writer.write_states(conn, rows)
        mark_minutes_built(conn, times)
        while refresh_dirty_rollups(conn):
            pass
        analyze(conn)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--grid", type=int, default=51)
    p.add_argument("--cycles", type=int, default=5)
    p.add_argument("--db", action="store_true", help="also the worker's whole cycle on a database")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        network = load_network(write_grid(Path(tmp) / "grid.geojson", rows=args.grid,
                                          cols=args.grid))  # fmt: skip
        n = len(network)
        ids = network.segments[m.SEGMENT_ID].astype(str).tolist()
        t = time.perf_counter()
        model = _model(network_fingerprint(ids), n)
        path = Path(tmp) / "forecast.json"
        model.save(path)
        print(f"{n:,} segments; model trained in {time.perf_counter() - t:.0f} s,"
              f" file {path.stat().st_size / 1e6:.1f} MB")  # fmt: skip
        worker = ForecastWorker(network, ForecastParams(), model_path=path)
        rng = np.random.default_rng(3)
        ff = worker.forecaster.free_flow
        recent = ff[None, :] * rng.uniform(0.3, 1.0, (WINDOW_MIN, n))
        recent[rng.random(recent.shape) < 0.3] = np.nan
        prof = ff * 0.8
        inp = ForecastInputs(recent, ff, prof, {h: prof.copy() for h in HORIZONS_MIN},
                             np.full(n, np.nan), np.full(n, np.nan))  # fmt: skip
        compute = []
        for _ in range(args.cycles):
            t = time.perf_counter()
            out = worker.forecaster.forecast(inp)
            compute.append(time.perf_counter() - t)
        assert all((f.basis == "model").all() for f in out)
        print(f"compute (features, 3 horizons × 3 quantiles, baselines): median"
              f" {statistics.median(compute):.2f} s, max {max(compute):.2f} s;"
              f" peak RSS {_rss_mb():.0f} MB")  # fmt: skip
        if args.db:
            _db_cycles(network, worker, args.cycles)
    print(f"peak resident memory of this process: {_rss_mb():.0f} MB (target < 1024 MB)")


def _db_cycles(network, worker: ForecastWorker, cycles: int) -> None:
    import psycopg

    from itms.settings import Settings
    from store.database_admin import create_database, drop_database
    from store.network_writer import sync_network

    base = Settings().dsn
    drop_database(base, BENCH_DB)
    dsn = create_database(base, BENCH_DB)
    try:
        with psycopg.connect(dsn) as conn:
            sync_network(conn, network)
        t = time.perf_counter()
        _store_states(dsn, network, WINDOW_MIN + cycles)
        print(f"stored {WINDOW_MIN + cycles} minutes of states in {time.perf_counter() - t:.0f} s")
        times = []
        with psycopg.connect(dsn, autocommit=True) as conn:
            for k in range(cycles):
                # the newest built minute advances one minute per cycle
                unmark_minutes_built_after(conn, T0 + timedelta(minutes=WINDOW_MIN + k))
                t = time.perf_counter()
                fc = worker.step(conn)
                times.append(time.perf_counter() - t)
                assert fc is not None
                mark_minutes_built(conn, [T0 + timedelta(minutes=WINDOW_MIN + k + 1)])
        print(f"whole worker cycle (read states and profiles, forecast, store {3 * len(network):,}"
              f" rows): median {statistics.median(times):.2f} s, first {times[0]:.2f} s,"
              f" max {max(times):.2f} s (target ≤ 10 s)")  # fmt: skip
    finally:
        drop_database(base, BENCH_DB)


if __name__ == "__main__":
    main()
