"""The API killed and restarted while a dashboard follows the live segment stream: the client
reconnects with Last-Event-ID and ends up with every segment's latest state, nothing twice."""

from __future__ import annotations

import time
from datetime import datetime

import httpx
import psycopg
import pytest

from bench.reliability.environment import free_port
from bench.reliability.fault_run import FaultRun
from bench.reliability.polling import poll_until
from bench.reliability.progress import drained
from bench.reliability.stream_client import SegmentStreamClient

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _serving(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _current(dsn: str) -> dict[str, tuple]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT segment_id, minute, speed_kmh, source FROM segment_current"
        ).fetchall()
    return {r[0]: (r[1], None if r[2] is None else round(float(r[2]), 2), r[3]) for r in rows}


def _seen(view: dict[str, dict]) -> dict[str, tuple]:
    return {
        sid: (datetime.fromisoformat(s["minute"]), s["speed_kmh"], s["source"])
        for sid, s in view.items()
    }


def test_stream_clients_resume_after_an_api_restart(
    itms_settings, network, fault_feed, tmp_path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"ITMS_PRIVACY_MIN_VEHICLES": "1", "ITMS_STREAM_POLL_S": "0.2",
           "ITMS_RATE_LIMIT_PER_S": "0", "ITMS_API_PORT": str(port)}  # fmt: skip
    run = FaultRun(itms_settings, network, fault_feed, tmp_path / "logs", speedup=8.0, env=env)
    client = SegmentStreamClient(url)
    try:
        run.procs.start("api", "api")
        poll_until(lambda: _serving(url), timeout_s=90, what="API serving")
        client.start()
        assert client.connected.wait(30), client.errors
        run.start_workers()
        run.start_feed()  # every segment state from now on goes through the stream
        poll_until(lambda: len(client.events) >= 3, timeout_s=120, what="first stream events")
        run.procs.kill("api")
        killed_at = time.time()
        # states keep changing while the API is down
        run.wait_progress(run.progress())
        run.procs.start("api", "api")
        poll_until(lambda: client.connections >= 2, timeout_s=90, what="client reconnected")
        reconnected_at = time.time()
        run.wait_feed()
        poll_until(lambda: drained(itms_settings, itms_settings.dsn), timeout_s=180,
                   what="pipeline drained")  # fmt: skip
        diff: list = []

        def same() -> bool:
            seen, current = _seen(client.view), _current(itms_settings.dsn)
            diff[:] = [(k, seen.get(k), current.get(k)) for k in seen.keys() | current.keys()
                       if seen.get(k) != current.get(k)]  # fmt: skip
            return not diff

        try:
            poll_until(same, timeout_s=30, what="the client's view equal to the current state")
        except AssertionError:
            raise AssertionError(f"{len(diff)} segments differ, e.g. {diff[:3]}") from None
    finally:
        client.close()
        run.close()
    ids = [e.event_id for e in client.events]
    assert ids == sorted(set(ids)), "an event came twice or out of order"
    resumed = [e for e in client.events if e.connection == 2]
    assert resumed, "no event after the restart"
    # the first events after the reconnect carry the changes made while the API was down
    assert killed_at - 5 < resumed[0].updated_at.timestamp() < reconnected_at
    print(f"{len(ids)} events, {client.connections} connections; catch-up of"
          f" {len(resumed[0].segments)} segments")  # fmt: skip
