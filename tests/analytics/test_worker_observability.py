"""Worker health, readiness and Prometheus metrics over HTTP (no broker needed)."""

from __future__ import annotations

import time

import httpx

from analytics.workers.observability import WorkerProbe, serve


def test_metrics_health_and_readiness_follow_the_worker() -> None:
    probe = WorkerProbe("probe-worker", stall_after_s=60.0)
    probe.counters = {"messages_consumed": 12, "messages_valid": 10}
    probe.dead_lettered = {"schema": 2}
    probe.lag = {0: 5, 1: 0}
    probe.db_write_seconds.observe(0.02)
    stop = serve(probe, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{stop.port}"  # type: ignore[attr-defined]
    try:
        text = httpx.get(f"{base}/metrics").text
        assert 'itms_messages_consumed_total{stage="probe-worker"} 12.0' in text
        assert 'itms_messages_dead_lettered_total{code="schema",stage="probe-worker"} 2.0' in text
        assert 'itms_consumer_lag_messages{partition="0",stage="probe-worker"} 5.0' in text
        assert 'itms_db_write_seconds_count{stage="probe-worker"} 1.0' in text
        assert "process_resident_memory_bytes" in text
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/readyz").status_code == 200
        probe.db_ok = False  # the database went away
        assert httpx.get(f"{base}/readyz").status_code == 503
        assert httpx.get(f"{base}/healthz").status_code == 200
        probe.last_loop = time.monotonic() - 61  # the loop stopped reporting: stalled
        assert httpx.get(f"{base}/healthz").status_code == 503
        assert httpx.get(f"{base}/nope").status_code == 404
    finally:
        stop()
