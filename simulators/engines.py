"""One run of a scenario with the engine it names (``engine: own | sumo``), written as a
run folder: the feeds and the ``truth/`` files (the layout of ``itms simulate --out-dir``)."""

from __future__ import annotations

from pathlib import Path

from roadnet.model import RoadNetwork
from simulators.scenario import Scenario


def simulate_to_folder(scenario: Scenario, network: RoadNetwork, out: str | Path) -> None:
    """Run ``scenario`` on ``network`` into ``out`` with the scenario's engine, quietly."""
    out = Path(out)
    if scenario.engine == "sumo":
        from simulators.sumo.engine import simulate_sumo

        simulate_sumo(scenario, network, out, progress=None)
        return
    from simulators.simulation import Simulation
    from simulators.sinks import FileSink
    from simulators.truth import TruthWriter

    out.mkdir(parents=True, exist_ok=True)
    Simulation(scenario, network).run(FileSink(out), TruthWriter(out / "truth"), progress=None)
