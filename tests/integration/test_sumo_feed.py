"""A SUMO run published to the real broker flows through the probe worker into PostgreSQL:
its feeds are the contracts' feeds, and the speeds the worker stores agree with the truth
SUMO wrote (issue 17)."""

from __future__ import annotations

import csv
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest

from ingest.kafka.clients import make_producer
from itms.settings import Settings
from itms.wiring.workers import build_probe_worker
from roadnet import load_network
from simulators.scenario import Scenario
from simulators.sinks import KafkaSink
from simulators.synthetic_grid import write_grid
from store.network_writer import sync_network

pytestmark = pytest.mark.integration
pytest.importorskip("sumo")


def _recent_weekday_morning() -> datetime:
    """06:30 in Hai Phong on the latest weekday at least a day ago (within the workers'
    7-day age limit)."""
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    day = datetime.now(tz) - timedelta(days=1)
    while day.isoweekday() >= 6:
        day -= timedelta(days=1)
    return day.replace(hour=6, minute=30, second=0, microsecond=0).astimezone(UTC)


def test_a_sumo_run_flows_through_kafka_into_stored_traversals(
    itms_settings: Settings, tmp_path: Path
) -> None:
    from simulators.sumo.engine import simulate_sumo

    settings = itms_settings
    grid = load_network(write_grid(tmp_path / "grid.geojson", rows=4, cols=4, spacing_m=300.0,
                                   arterial_every=2))  # fmt: skip
    with psycopg.connect(settings.dsn) as conn:
        sync_network(conn, grid)
    # recent enough to be valid, over before now (the worker refuses fixes from the future),
    # and always the same time of a weekday: the same demand, so the same run every time
    start = _recent_weekday_morning()
    sc = Scenario.model_validate({
        "start": start.isoformat(), "duration_s": 420, "seed": 5, "vehicles": 400,
        "sumo": {"probe_share": 0.5, "warmup_s": 120},
    })  # fmt: skip
    producer = make_producer(settings.kafka)
    sink = KafkaSink(producer, settings.topic("gps"), settings.topic("detectors"))
    stats = simulate_sumo(sc, grid, tmp_path / "run", sink=sink, progress=None)
    producer.close()
    sent = stats["fixes_delivered"]
    assert sent > 1000

    worker = build_probe_worker(settings, grid, group="g-sumo", checkpoint_every_s=0)
    try:
        deadline = time.monotonic() + 90
        while worker.stats.consumed < sent and time.monotonic() < deadline:
            worker.step(timeout_ms=300)
        worker.processor.close_all()
        worker.checkpoint()
    finally:
        worker.close()
    assert worker.stats.consumed == sent
    with psycopg.connect(settings.dsn) as conn:
        stored = conn.execute(
            "SELECT vehicle_id, segment_id, speed_kmh FROM probe_traversal").fetchall()
    assert len(stored) > 100
    truth = {(r["vehicle_id"], r["segment_id"]): float(r["speed_kmh"]) for r in csv.DictReader(
        (tmp_path / "run" / "truth" / "traversals.csv").open(encoding="utf-8"))}  # fmt: skip
    pairs = np.array([(v, truth[(vid, seg)]) for vid, seg, v in stored if (vid, seg) in truth])
    assert len(pairs) > 0.8 * len(stored)  # the worker's traversals are the true ones
    ratio = pairs[:, 0] / pairs[:, 1]
    assert 0.9 < np.median(ratio) < 1.1 and np.mean(np.abs(ratio - 1) < 0.25) > 0.8
