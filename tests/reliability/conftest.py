"""Fault-suite fixtures: one seeded simulated feed per session, the demo network.

The feed starts at 09:00 local time (the latest such morning in the past), so that its
traffic is the same in every run: after the peak, busy enough for the injected lane
blockage to build a queue, calm enough for few recurrent-congestion alarms.

``ITMS_FAULT_SPEEDUP`` paces the replay (default 4: the 540 s feed flows for 135 s);
``ITMS_FAULT_PG_DOWN_S`` is the database outage (default 15 s; 60 s for the full check).
"""

from __future__ import annotations

import os

import pytest

from bench.reliability.feeds import Feed, recent_local_start, simulate_feed
from itms.settings import Settings
from roadnet import load_network
from roadnet.model import RoadNetwork

FEED_SECONDS = 540
FEED_LOCAL_START = "09:00"
# One of Lạch Tray's two northbound lanes blocked from the start, between detector stations
# (on lach-tray:3:f and lach-tray:6:f) and on a street many probes use: the queue is seen by
# probes and detectors, and the reference detects it (about 6 minutes in).
BLOCKAGE = {
    "id": "fault-suite-blockage", "segment_id": "lach-tray:4:f", "position": 0.8,
    "start_s": 0, "duration_s": 900, "kind": "lane_blockage", "lanes_blocked": 1,
}  # fmt: skip


@pytest.fixture(scope="session")
def network() -> RoadNetwork:
    return load_network()


@pytest.fixture(scope="session")
def fault_feed(tmp_path_factory: pytest.TempPathFactory) -> Feed:
    """250 vehicles for 9 minutes (about 11.5k fixes and 700 detector readings), seed 9, with
    a lane blockage."""
    out = tmp_path_factory.mktemp("fault-feed")
    start = recent_local_start(FEED_LOCAL_START, Settings().timezone, FEED_SECONDS)
    return simulate_feed(out, vehicles=250, duration_s=FEED_SECONDS, seed=9, start=start,
                         incidents=[BLOCKAGE])  # fmt: skip


@pytest.fixture(scope="session")
def speedup() -> float:
    return float(os.environ.get("ITMS_FAULT_SPEEDUP", "4"))


@pytest.fixture(scope="session")
def pg_down_s() -> float:
    return float(os.environ.get("ITMS_FAULT_PG_DOWN_S", "15"))
