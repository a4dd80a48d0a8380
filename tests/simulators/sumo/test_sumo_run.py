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


def test_the_closing_counts_are_read_from_the_log(tmp_path: Path) -> None:
    from simulators.sumo.run import run_counts

    log = tmp_path / "sumo.log"
    log.write_text("Vehicles:\n Inserted: 5790\n Running: 12\n Teleports: 9 (Collisions: 8,"
                   " Jam: 1)\n Emergency Braking: 4\n", encoding="utf-8")  # fmt: skip
    assert run_counts(log) == {"inserted": 5790, "teleports": 9, "collisions": 8, "jams": 1,
                               "emergency_braking": 4}  # fmt: skip
    log.write_text("Vehicles:\n Inserted: 10\n Teleports: 0 (Collisions: 2)\n", encoding="utf-8")
    assert run_counts(log)["collisions"] == 2 and run_counts(log)["jams"] == 0
