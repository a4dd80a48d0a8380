"""Load test of the public API: p50/p95/p99 latency and requests/s at a target rate.

    itms stack up        # (or point ITMS_DATABASE_URL at a database server)
    python bench/api_load.py [--segments 10000] [--rate 200] [--duration 30]
                             [--scenarios segment,network,network-etag,forecast]

Creates (and drops) a scratch database ``itms_api_bench`` next to the configured one with
``--segments`` synthetic segments, each with a current state; starts ``itms api`` on
127.0.0.1 (a free port, rate limiting off: every request comes from one address); runs locust
headless (``bench/api_locustfile.py``) for each scenario: ``--users`` clients on keep-alive
connections (default 20) together offering ``--rate`` requests/s at a steady pace; prints one
table row per scenario, then the server's own work per request (direct ASGI calls). Loopback
only; bounded in time.
Targets (issue 7): p95 ≤ 25 ms for a segment's status, ≤ 100 ms for the full-network GeoJSON
of 10,000 segments, at 200 requests/s; (issue 21) p95 ≤ 20 ms for a segment's forecast
(every segment has one at +15, +30 and +60 minutes).
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from itms.settings import Settings
from store.database_admin import analyze, create_database, drop_database
from store.migrate import migrate
from store.synthetic_load import insert_current_forecasts, insert_named_segments_with_state

HERE = Path(__file__).resolve().parent
TARGET_P95_MS = {"segment": 25.0, "network": 100.0, "forecast": 20.0}


BENCH_DB = "itms_api_bench"  # the scratch database, next to the configured one

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setup(dsn: str, segments: int) -> None:
    migrate(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        insert_named_segments_with_state(conn, segments)
        insert_current_forecasts(conn, datetime.now(UTC).replace(second=0, microsecond=0))
        analyze(conn)


def _wait_ready(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the API did not become ready")


def _run_locust(url: str, scenario: str, rate: int, users: int, duration: int, segments: int,
                out: Path) -> dict[str, float]:  # fmt: skip
    prefix = out / scenario
    env = {**os.environ, "ITMS_BENCH_SCENARIO": scenario, "ITMS_BENCH_SEGMENTS": str(segments),
           "ITMS_BENCH_USER_RATE": str(rate / users)}  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(HERE / "api_locustfile.py"), "--headless",
         "-u", str(users), "-r", str(users), "-t", f"{duration}s", "--host", url, "--reset-stats",
         "--csv", str(prefix), "--only-summary", "--stop-timeout", "5", "--loglevel", "WARNING"],
        env=env, check=False, timeout=duration + 120,
    )  # fmt: skip
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as fh:
        row = next(r for r in csv.DictReader(fh) if r["Name"] != "Aggregated")
    return {
        "requests": float(row["Request Count"]), "failures": float(row["Failure Count"]),
        "rps": float(row["Requests/s"]), "p50": float(row["50%"]), "p95": float(row["95%"]),
        "p99": float(row["99%"]), "max": float(row["Max Response Time"]),
        "size": float(row["Average Content Size"]), "name": row["Name"],
    }  # fmt: skip


def _asgi_cost_ms(dsn: str, paths: list[str], n: int = 1000) -> dict[str, float]:
    """Server work per request without HTTP or a client: direct ASGI calls in this process
    (median of 5 rounds of ``n`` calls), ms. 1000 / this = requests/s one core can serve."""
    import asyncio
    import statistics

    from itms.wiring.api import build_app

    app = build_app(Settings(database_url=dsn, rate_limit_per_s=0))

    async def call(path: str) -> None:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
                 "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
                 "server": ("127.0.0.1", 80), "headers": [(b"accept-encoding", b"gzip")]}

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            return None

        await app(scope, receive, send)

    async def run() -> dict[str, float]:
        out = {}
        async with app.router.lifespan_context(app):
            for path in paths:
                await call(path)
                rounds = []
                for _ in range(5):
                    t = time.perf_counter()
                    for _ in range(n):
                        await call(path)
                    rounds.append((time.perf_counter() - t) / n * 1000)
                out[path] = statistics.median(rounds)
        return out

    return asyncio.run(run())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--segments", type=int, default=10_000)
    p.add_argument("--rate", type=int, default=200, help="offered requests/s, all users")
    p.add_argument("--users", type=int, default=20,
                   help="simulated clients (keep-alive connections), each at rate/users req/s")
    p.add_argument("--duration", type=int, default=30, help="seconds per scenario")
    p.add_argument("--scenarios", default="segment,network,network-etag,forecast")
    p.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = p.parse_args()
    base = Settings().dsn
    drop_database(base, BENCH_DB)
    dsn = create_database(base, BENCH_DB, migrated=False)
    _setup(dsn, args.segments)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "ITMS_DATABASE_URL": dsn, "ITMS_RATE_LIMIT_PER_S": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "itms.cli", "api", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
    )
    results = []
    try:
        _wait_ready(url)
        httpx.get(f"{url}/v1/segments", timeout=30)  # warm the caches once
        with tempfile.TemporaryDirectory() as tmp:
            for scenario in args.scenarios.split(","):
                results.append((scenario, _run_locust(
                    url, scenario, args.rate, args.users, args.duration, args.segments,
                    Path(tmp))))  # fmt: skip
        cost = _asgi_cost_ms(dsn, ["/v1/segments/seg-00042", "/v1/segments",
                                   "/v1/segments/seg-00042/forecast"])
    finally:
        server.terminate()
        server.wait(20)
        if not args.keep:
            drop_database(base, BENCH_DB)
    print(f"\n{args.segments:,} segments, offered {args.rate} requests/s from {args.users}"
          f" users for {args.duration} s per scenario (locust, FastHttpUser, gzip)\n")  # fmt: skip
    print(f"{'endpoint':42} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}"
          f" {'fail':>5} {'bytes':>9}  target")  # fmt: skip
    for scenario, r in results:
        target = TARGET_P95_MS.get(scenario)
        verdict = "" if target is None else (
            f"p95 ≤ {target:.0f} ms: {'met' if r['p95'] <= target else 'MISSED'}")  # fmt: skip
        print(f"{r['name']:42} {r['rps']:7.1f} {r['p50']:7.0f} {r['p95']:7.0f} {r['p99']:7.0f}"
              f" {r['max']:7.0f} {r['failures']:5.0f} {r['size']:9.0f}  {verdict}")  # fmt: skip
    print("\nserver work per request (direct ASGI calls, no HTTP, no client):")
    for path, ms in cost.items():
        print(f"  GET {path:36} {ms:6.2f} ms  (≈ {1000 / ms:,.0f} requests/s per core)")
    load = os.getloadavg()
    print(f"\nload average during the run: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
          f" on {os.cpu_count()} cores")  # fmt: skip


if __name__ == "__main__":
    main()
