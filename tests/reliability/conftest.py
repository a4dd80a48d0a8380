"""Fault-suite fixtures: one seeded simulated feed per session, the demo network.

``ITMS_FAULT_SPEEDUP`` paces the replay (default 4: the 540 s feed flows for 135 s);
``ITMS_FAULT_PG_DOWN_S`` is the database outage (default 15 s; 60 s for the full check).
"""

from __future__ import annotations

import os

import pytest

from analytics.network import load_network
from analytics.network.model import RoadNetwork
from tests.reliability.harness import Feed, recent_start, simulate_feed

FEED_SECONDS = 540


@pytest.fixture(scope="session")
def network() -> RoadNetwork:
    return load_network()


@pytest.fixture(scope="session")
def fault_feed(tmp_path_factory: pytest.TempPathFactory) -> Feed:
    """250 vehicles for 9 minutes (about 11.5k fixes and 700 detector readings), seed 9."""
    out = tmp_path_factory.mktemp("fault-feed")
    return simulate_feed(out, vehicles=250, duration_s=FEED_SECONDS, seed=9,
                         start=recent_start(FEED_SECONDS))  # fmt: skip


@pytest.fixture(scope="session")
def speedup() -> float:
    return float(os.environ.get("ITMS_FAULT_SPEEDUP", "4"))


@pytest.fixture(scope="session")
def pg_down_s() -> float:
    return float(os.environ.get("ITMS_FAULT_PG_DOWN_S", "15"))
