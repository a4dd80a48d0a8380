"""Fixtures of the SUMO engine tests: the tiny signalised grid (see ``sumo_tiny.py``)."""

from __future__ import annotations

import pytest

from roadnet import load_network
from roadnet.model import RoadNetwork
from simulators.synthetic_grid import write_grid

pytest.importorskip("sumo")


@pytest.fixture(scope="session")
def tiny_grid(tmp_path_factory: pytest.TempPathFactory) -> RoadNetwork:
    """A 4 × 4 grid of 300 m blocks, trunk and primary streets every second row."""
    path = write_grid(tmp_path_factory.mktemp("grid") / "grid.geojson", rows=4, cols=4,
                      spacing_m=300.0, arterial_every=2)  # fmt: skip
    return load_network(path)
