"""Backpressure: a backlog far larger than one poll builds consumer lag, the probe worker's
memory stays bounded while it works through it, and the lag returns to zero (real broker,
database and worker process; lag and memory read from the worker's /metrics)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from itms.settings import Settings
from roadnet import load_network
from simulators.scenario import Scenario
from simulators.simulation import Simulation
from simulators.sinks import FileSink
from tests.integration.test_probe_pipeline import _publish

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _metric(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def test_backlog_builds_lag_memory_stays_bounded_and_the_worker_catches_up(
    itms_settings: Settings, tmp_path: Path
) -> None:
    sc = Scenario(duration_s=240, vehicles=2500, seed=5)
    Simulation(sc, load_network()).run(FileSink(tmp_path), None, progress=None)
    lines = (tmp_path / "gps.jsonl").read_bytes().splitlines()
    keys = [ln[ln.index(b'"vehicle_id":"') + 14 : ln.index(b'"', ln.index(b'"vehicle_id":"') + 14)]
            for ln in lines]  # fmt: skip
    _publish(itms_settings, list(zip(keys, lines, strict=True)))  # the burst, all at once
    assert len(lines) > 30_000

    port = _free_port()
    env = dict(os.environ, ITMS_KAFKA_BOOTSTRAP=itms_settings.bootstrap_servers,
               ITMS_DATABASE_URL=itms_settings.dsn,
               ITMS_TOPIC_PREFIX=itms_settings.topic_prefix)  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-m", "itms.cli", "worker", "probe",
                               "--metrics-port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    samples: list[tuple[float, float, float]] = []  # (consumed, lag, rss)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.5)
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.HTTPError:
                continue
            consumed = _metric(text, "itms_messages_consumed_total")
            lag = _metric(text, "itms_consumer_lag_messages")
            samples.append((consumed, lag, _metric(text, "process_resident_memory_bytes")))
            if consumed >= len(lines) and lag == 0:
                break
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=60)
    assert samples and samples[-1][0] >= len(lines), err[-2000:]
    assert max(s[1] for s in samples) > 5000  # the backlog showed as lag
    assert samples[-1][1] == 0  # and it was worked off
    # memory: bounded by what one poll and the fleet's state need, not by the backlog
    working = [s[2] for s in samples if s[0] > 0]
    assert max(working) < 700 * 2**20
    assert max(working) - working[0] < 200 * 2**20
