"""Running SUMO: a run cut short by a signal is an error, not a shorter run."""

from __future__ import annotations

from pathlib import Path

from simulators.sumo.run import _ending

_TAIL = "Simulation ended at time: {at}.\nReason: {reason}\nPerformance:\n Duration: 1.00s\n"


def test_the_end_of_a_run_is_read_from_its_log(tmp_path: Path) -> None:
    log = tmp_path / "sumo.log"
    log.write_text("Warning: x\n" + _TAIL.format(at="4200.00", reason="The final simulation"
                                                " step has been reached."), encoding="utf-8")
    assert _ending(log) == (4200.0, "The final simulation step has been reached.")
    log.write_text(_TAIL.format(at="3036.00", reason="Interrupted."), encoding="utf-8")
    assert _ending(log) == (3036.0, "Interrupted.")
    log.write_text("Error: nothing\n", encoding="utf-8")
    assert _ending(log) is None
