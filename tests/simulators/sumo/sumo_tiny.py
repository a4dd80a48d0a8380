"""Tiny SUMO scenarios for the tests here: on the 4 × 4 signalised grid (``conftest.py``),
a few hundred trips over a few simulated minutes."""

from __future__ import annotations

from datetime import UTC, datetime

from roadnet.model import RoadNetwork
from simulators.scenario import Scenario

START = datetime(2026, 11, 25, 0, 30, tzinfo=UTC)  # 07:30 in Hai Phong: the morning peak


def tiny_scenario(**kw: object) -> Scenario:
    """A scenario on the tiny grid: 7 simulated minutes after a 2-minute warm-up, 400 trips,
    half of them probes."""
    base: dict = {"name": "tiny", "start": START, "duration_s": 420, "seed": 5,
                  "vehicles": 400, "detectors": {"spacing": 2, "classes": ["trunk", "primary"],
                                                 "interval_s": 60},
                  "sumo": {"probe_share": 0.5, "warmup_s": 120}}  # fmt: skip
    base.update(kw)
    return Scenario.model_validate(base)


def busy_trunk(grid: RoadNetwork) -> str:
    """A trunk segment of the grid that carries traffic in the tiny scenarios."""
    seg = grid.segments
    return str(seg["segment_id"][seg["road_class"] == "trunk"].iloc[1])
