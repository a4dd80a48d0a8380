"""``itms demo`` end to end: the real stack, simulator, worker and API processes together."""

from __future__ import annotations

import os
import signal
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


def _counts(dsn: str) -> tuple[int, int, int]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM segment_state), (SELECT count(*) FROM probe_traversal),"
            " (SELECT count(*) FROM network_kpi)"
        ).fetchone()


def test_demo_stores_segment_state_and_the_api_serves_it(
    itms_settings: Settings, tmp_path
) -> None:
    port = _free_port()
    env = dict(os.environ)
    env.update(
        ITMS_KAFKA_BOOTSTRAP=itms_settings.bootstrap_servers,
        ITMS_DATABASE_URL=itms_settings.dsn,
        ITMS_TOPIC_PREFIX=itms_settings.topic_prefix,
        ITMS_API_PORT=str(port),
    )
    log = (tmp_path / "demo.log").open("w+")
    demo = subprocess.Popen(
        [sys.executable, "-m", "itms.cli", "demo", "--duration", "400", "--vehicles", "600"],
        env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    served: list = []
    measured: list = []
    forecast: dict = {}
    counts = (0, 0, 0)
    try:
        # until the API serves measured states and the store holds a few hundred traversals
        # (600 vehicles at 1–30 s sampling complete that many within about two minutes)
        deadline = time.monotonic() + 360
        while time.monotonic() < deadline and demo.poll() is None:
            time.sleep(2)
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}/v1/segments/current", timeout=5)
            except httpx.HTTPError:
                continue
            if reply.status_code == 200:
                served = reply.json()
                measured = [s for s in served if s["source"] in ("probe", "fused", "detector")]
            counts = _counts(itms_settings.dsn)
            if measured and not forecast.get("horizons"):
                sid = measured[0]["segment_id"]
                reply = httpx.get(f"http://127.0.0.1:{port}/v1/segments/{sid}/forecast", timeout=5)
                forecast = reply.json() if reply.status_code == 200 else {}
            if measured and counts[1] >= 100 and counts[2] >= 1 and forecast.get("horizons"):
                break
        demo.send_signal(signal.SIGTERM)  # Ctrl-C: everything stops cleanly
        demo.wait(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
        log.seek(0)
        out = log.read()[-5000:]
    assert demo.returncode == 0, out
    assert served, f"the API never served segment state\n{out}"
    assert measured, served[:5]
    # probe speeds are published only from enough distinct vehicles (the privacy threshold)
    threshold = Settings().privacy_min_vehicles
    assert all(s["n_vehicles"] >= threshold for s in measured if s["source"] != "detector")
    shown = [s for s in served if s["source"] != "no_data"]
    implausible = [s for s in shown if s["speed_kmh"] is None or not 0 < s["speed_kmh"] < 130]
    assert shown and not implausible, implausible[:5]
    assert all(s["speed_kmh"] is None for s in served if s["source"] == "no_data")
    n_states, n_traversals, n_kpis = _counts(itms_settings.dsn)
    assert n_states >= len(measured) and n_kpis >= 1
    assert n_traversals >= 100, counts
    # the forecast worker runs too: without a trained model, baselines flagged as such
    assert [h["horizon_min"] for h in forecast.get("horizons", [])] == [15, 30, 60], forecast
    assert {h["basis"] for h in forecast["horizons"]} == {"baseline:no_model"}
