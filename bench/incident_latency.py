"""How soon after a minute ends the live incident worker decides it (and so raises alarms).

    python bench/incident_latency.py [--vehicles 2000] [--duration 600] [--speedup 1]

Runs the whole live chain on a local stack of its own (``--state-dir``, own ports): a
simulated Hai Phong feed with a lane blockage (GPS fixes and detector readings, timestamps in
the recent past) is published paced like the real thing (``--speedup`` 1: one second of feed
per second), ``itms worker probe``, ``itms worker detectors`` and ``itms worker incidents``
consume it (on a database holding a day of free-flow speed history, the profile a running
system has: ``store.speed_history.seed_free_flow_history``), and this script polls
``incident_progress`` every 0.2 s. For each minute m the
worker decides, the **decision latency** is the wall-clock time from the moment the feed's
clock reached the minute's end (m + 1 min, when a fix of that time was published) to the
moment the decision was seen committed. It reports the median, 90th percentile and maximum
over the minutes the feed covers after the first ``--warmup`` of them (start-up left out),
and the incidents raised: where, and how long after the blockage started (feed time).
Everything it started is stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reliability.environment import drop_database, fresh_environment, prepare_db
from bench.reliability.feeds import Feed, publish, recent_start, simulate_feed
from bench.reliability.processes import Processes
from ingest.kafka.clients import ensure_topics
from itms import stack
from itms.settings import REPO_ROOT, Settings
from roadnet import load_network
from store.pipeline_progress import incident_progress_minute
from store.result_snapshots import raised_incidents

BLOCKAGE_AT_S = 240  # the blockage starts this far into the feed (s) and lasts 6 minutes
_POLL_S = 0.2


def measure(base: Settings, feed: Feed, speedup: float, log_dir: Path) -> dict:
    """Publish ``feed`` paced at ``speedup`` through the three workers on a fresh database;
    returns per decided minute its decision latency (s) and the incidents raised."""
    tag, dsn, settings = fresh_environment(base, "lat")
    procs = Processes(settings, log_dir / tag)
    try:
        prepare_db(dsn, load_network(), feed)
        ensure_topics(settings.kafka)
        for kind in ("probe", "detectors", "incidents"):
            procs.worker(kind)
        time.sleep(15.0)  # network, route tables and group joins before the feed starts
        first_ms = min(json.loads(line)["ts"] for line in feed.gps.open() if line.strip())
        wall0 = time.time()
        done = threading.Event()
        pub = threading.Thread(target=lambda: (publish(settings, feed, speedup=speedup),
                                               done.set()), daemon=True)  # fmt: skip
        pub.start()
        seen: dict[datetime, float] = {}
        raised: dict[str, tuple[float, str, str, float, float]] = {}
        with psycopg.connect(dsn, autocommit=True) as conn:
            end = time.monotonic() + 3600
            while time.monotonic() < end:
                minute = incident_progress_minute(conn)
                if minute is not None and minute not in seen:
                    seen[minute] = time.time()
                for iid, method, seg, lon, lat in raised_incidents(conn):
                    raised.setdefault(iid, (time.time(), method or "", seg, lon, lat))
                if done.is_set() and time.time() > wall0 + 60 + _feed_s(feed) / speedup:
                    break
                for name in ("probe", "detectors", "incidents"):
                    if not procs.alive(name):
                        raise RuntimeError(f"{name} stopped:\n{procs.log_tail(name)}")
                time.sleep(_POLL_S)
        lat = {}
        for minute, at in seen.items():
            t_ms = (minute + timedelta(minutes=1)).timestamp() * 1000.0
            if t_ms > first_ms:  # the first run's catch-up decides minutes before the feed
                lat[minute] = at - (wall0 + (t_ms - first_ms) / 1000.0 / speedup)
        blockage_wall = wall0 + BLOCKAGE_AT_S / speedup  # when the feed's clock reached it
        after = sorted(((at - blockage_wall) * speedup, iid, *rest)
                       for iid, (at, *rest) in raised.items())  # fmt: skip
        return {"latency": lat, "raised": after}
    finally:
        procs.close()
        with contextlib.suppress(psycopg.Error):
            drop_database(base.dsn, tag)


def _feed_s(feed: Feed) -> float:
    ts = [json.loads(line)["ts"] for line in feed.gps.open() if line.strip()]
    return (max(ts) - min(ts)) / 1000.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vehicles", type=int, default=2000)
    p.add_argument("--duration", type=int, default=600, help="simulated seconds")
    p.add_argument("--speedup", type=float, default=1.0, help="feed seconds per wall second")
    p.add_argument("--warmup", type=int, default=1,
                   help="decided minutes of the feed left out first")  # fmt: skip
    p.add_argument("--seed", type=int, default=9)
    p.add_argument("--segment", default="lach-tray:4:f", help="segment of the lane blockage")
    p.add_argument("--state-dir", default=str(REPO_ROOT / ".itms" / "bench-stack"))
    p.add_argument("--kafka-port", type=int, default=19892, help="and the next for the controller")
    p.add_argument("--pg-port", type=int, default=55462)
    args = p.parse_args(argv)
    base = Settings(state_dir=Path(args.state_dir), kafka_port=args.kafka_port,
                    kafka_controller_port=args.kafka_port + 1, pg_port=args.pg_port)  # fmt: skip
    with stack.own_stack(base), tempfile.TemporaryDirectory() as tmp:
        blockage = {"id": "bench-blockage", "segment_id": args.segment,
                    "position": 0.8, "start_s": BLOCKAGE_AT_S, "duration_s": 360,
                    "lanes_blocked": 1}  # fmt: skip
        feed = simulate_feed(Path(tmp) / "feed", vehicles=args.vehicles,
                             duration_s=args.duration, seed=args.seed,
                             start=recent_start(args.duration),
                             incidents=[blockage])  # fmt: skip
        r = measure(base, feed, args.speedup, REPO_ROOT / ".itms" / "bench-logs")
    minutes = sorted(r["latency"])[args.warmup:]
    delays = np.array([r["latency"][m] for m in minutes])
    print(f"decided minutes measured: {len(delays)} (after {args.warmup} left out)")
    if len(delays):
        print(f"decision latency after the minute's end, s: median {np.median(delays):.1f},"
              f" p90 {np.percentile(delays, 90):.1f}, max {delays.max():.1f},"
              f" min {delays.min():.1f}")  # fmt: skip
    net = load_network()
    point = net.geom_m[net.index_of(args.segment)].interpolate(0.8, normalized=True)
    for after_s, iid, method, seg, lon, lat in r["raised"]:
        x, y = net.projector.to_metric(np.array([lon]), np.array([lat]))
        d = float(np.hypot(x[0] - point.x, y[0] - point.y))
        print(f"incident {iid} ({method}) on {seg}, {d:,.0f} m from the blockage: seen"
              f" {after_s / 60:.1f} feed minutes after it started")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
