"""A worker's metrics on the real broker and database: consumer lag grows with a backlog and
returns to zero once it is stored; counters and the database write latency are exposed."""

from __future__ import annotations

import httpx
import pytest

from analytics.workers.observability import serve
from itms.settings import Settings
from itms.wiring.workers import build_worker
from tests.integration.test_poison_messages import Recorder, _fix
from tests.integration.test_probe_pipeline import _drain, _publish, _start_ms

pytestmark = pytest.mark.integration


def test_lag_and_counters_are_exposed(itms_settings: Settings) -> None:
    import psycopg

    with psycopg.connect(itms_settings.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE rec (vehicle_id text, ts bigint)")
    t0 = _start_ms()
    feed = [_fix(f"v{k % 5}", t0 + k * 1000) for k in range(600)] + [(b"v0", b"{not json")]
    _publish(itms_settings, feed)
    worker = build_worker(itms_settings, feed="gps", group="metrics-test", processor=Recorder(),
                          stage="test-worker")  # fmt: skip
    worker.max_records = 50  # a backlog: several polls to catch up
    stop = serve(worker.probe, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{stop.port}/metrics"  # type: ignore[attr-defined]
    try:
        seen_lag = 0
        for _ in range(40):
            worker.step(timeout_ms=300)
            worker._lag_at = 0.0  # refresh the lag at every step in this test
            seen_lag = max(seen_lag, sum(worker.probe.lag.values()))
            if worker.stats.consumed:
                break
        assert seen_lag > 0
        _drain(worker, lambda: worker.stats.consumed >= len(feed))
        worker._lag_at = 0.0
        worker.step(timeout_ms=300)
        text = httpx.get(url).text
        owned = len(worker.consumer.assignment())
    finally:
        stop()
        worker.close()
    assert sum(worker.probe.lag.values()) == 0
    assert 'itms_messages_valid_total{stage="test-worker"} 600.0' in text
    assert 'itms_messages_dead_lettered_total{code="decode",stage="test-worker"} 1.0' in text
    assert 'itms_db_write_seconds_count{stage="test-worker"}' in text
    assert 'itms_worker_ready{stage="test-worker"} 1.0' in text
    assert owned > 0 and f'itms_assigned_partitions{{stage="test-worker"}} {owned}.0' in text
    for phase in ("poll", "batch", "checkpoint"):  # where the loop's time goes
        assert f'itms_{phase}_seconds_count{{stage="test-worker"}}' in text
