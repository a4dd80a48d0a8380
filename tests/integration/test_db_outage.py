"""A database outage while a worker stores a batch: it waits, retries, and stores it once."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from analytics.network import load_network
from analytics.workers.probe_worker import build_probe_worker
from itms import stack
from store.network_writer import sync_network
from tests.integration.test_probe_pipeline import _fix, _publish, _segment_point

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_worker_waits_out_a_database_outage(itms_settings, stack_settings) -> None:
    if not stack_settings.uses_local_postgres:
        pytest.skip("needs the project-owned PostgreSQL to stop and start it")
    network = load_network()
    with psycopg.connect(itms_settings.dsn) as conn:
        sync_network(conn, network)
    seg = network.segments
    seg_id = seg["segment_id"][(seg["name"] == "Lạch Tray") & (seg["length_m"] > 200)].iloc[0]
    point = _segment_point(network, seg_id)
    minute0 = (int(time.time()) // 60 - 1) * 60 * 1000
    values = [(f"v{v}".encode(), _fix(f"v{v}", minute0 + k * 6_000, point, 25.0))
              for k in range(5) for v in range(8)]  # fmt: skip
    _publish(itms_settings, values)
    worker = build_probe_worker(itms_settings, network, group="g-outage")
    worker.retry_backoff_s = 0.5
    pg = stack.local_postgres(stack_settings)
    try:
        # let the worker join the group and load its checkpoints, then take the database away
        deadline = time.monotonic() + 30
        while not worker.expected and time.monotonic() < deadline:
            worker.consumer.poll(timeout_ms=200, max_records=1, update_offsets=False)
        pg.down()
        restart = threading.Timer(5.0, pg.up)
        restart.start()
        t0 = time.monotonic()
        while worker.stats.consumed < len(values) and time.monotonic() - t0 < 60:
            worker.step(timeout_ms=300)
        restart.join()
        assert worker.stats.db_retries >= 1
    finally:
        if not pg.is_running():
            pg.up()
        worker.close()
    with psycopg.connect(itms_settings.dsn) as conn:
        n, nv = conn.execute(
            "SELECT n_samples, n_vehicles FROM segment_state WHERE segment_id = %s", (seg_id,)
        ).fetchone()
    assert (n, nv) == (40, 8)
