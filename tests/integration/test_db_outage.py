"""A database outage while a worker stores a batch: it waits, retries, and stores it once."""

from __future__ import annotations

import json
import threading
import time

import psycopg
import pytest

from analytics.workers.probe_worker import ProbeProcessor
from ingest.validation import FeedValidator
from itms import stack
from itms.wiring.workers import build_probe_worker
from roadnet import load_network
from store.network_writer import sync_network
from tests.integration.probe_feed import drive, route_from
from tests.integration.test_probe_pipeline import _publish, _start_ms, _traversals

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _wait_assigned(worker, timeout_s: float = 20.0) -> None:
    """Poll until the worker owns its partitions; a join that completed before the consumer's
    metadata listed the topic can leave it without any, and subscribing again rejoins."""
    for _ in range(3):
        deadline = time.monotonic() + timeout_s
        while not worker.expected and time.monotonic() < deadline:
            worker.consumer.poll(timeout_ms=200, max_records=1, update_offsets=False)
        if worker.expected:
            return
        worker.resubscribe()
    raise AssertionError("the worker got no partitions")


def test_worker_waits_out_a_database_outage(itms_settings, stack_settings) -> None:
    if not stack_settings.uses_local_postgres:
        pytest.skip("needs the project-owned PostgreSQL to stop and start it")
    network = load_network()
    with psycopg.connect(itms_settings.dsn) as conn:
        sync_network(conn, network)
    values, t0 = [], _start_ms()
    for v in range(8):
        values += drive(network, route_from(network, 40 * v, 8), f"v{v}", t0, 30.0, 5.0)
    # shorter than the idle horizon (300 s): no vehicle is closed early in either run
    values = [kv for kv in values if json.loads(kv[1])["ts"] < t0 + 240_000]
    _publish(itms_settings, values)
    # what an undisturbed worker derives from the same fixes
    reference = ProbeProcessor(network)
    validator = FeedValidator("gps")
    reference.process(("t", 0), [validator.validate(v) for _, v in values])
    assert len(reference.rows) > 20
    worker = build_probe_worker(itms_settings, network, group="g-outage", checkpoint_every_s=0)
    worker.retry_backoff_s = 0.5
    pg = stack.local_postgres(stack_settings)
    try:
        # let the worker join the group and load its checkpoints, then take the database away
        _wait_assigned(worker)
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
    stored = _traversals(itms_settings.dsn)
    assert len(stored) == len(reference.rows)
    assert {(r[0], r[2]) for r in stored} == {(r[0], r[2]) for r in reference.rows}
