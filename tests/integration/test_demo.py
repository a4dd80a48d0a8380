"""``itms demo`` end to end: the real stack, simulator, worker and API processes together."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import psycopg
import pytest

from itms.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_stores_segment_state_and_the_api_serves_it(itms_settings: Settings) -> None:
    port = _free_port()
    env = dict(os.environ)
    env.update(
        ITMS_KAFKA_BOOTSTRAP=itms_settings.bootstrap_servers,
        ITMS_DATABASE_URL=itms_settings.dsn,
        ITMS_TOPIC_PREFIX=itms_settings.topic_prefix,
        ITMS_API_PORT=str(port),
    )
    demo = subprocess.Popen(
        [sys.executable, "-m", "itms.cli", "demo", "--duration", "40", "--vehicles", "300"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    served: list = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and demo.poll() is None and not served:
            time.sleep(2)
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}/v1/segments/current", timeout=5)
            except httpx.HTTPError:
                continue
            if reply.status_code == 200:
                served = reply.json()
        out, _ = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, out
    assert served, f"the API never served segment state\n{out}"
    assert all(s["n_vehicles"] >= 1 for s in served)
    speeds = [s["speed_kmh"] for s in served if s["speed_kmh"] is not None]
    assert speeds and all(0 < v < 130 for v in speeds)
    with psycopg.connect(itms_settings.dsn) as conn:
        n_rows, n_fixes = conn.execute(
            "SELECT count(*), sum(n_samples) FROM segment_state"
        ).fetchone()
    assert n_rows >= len(served)
    # every one of the 300 vehicles reports at least once in 40 s (intervals are <= 30 s);
    # a few fixes are dropped by the simulated channel or land off the network
    assert 250 <= n_fixes <= 300 * 40 // 10 * 1.1
