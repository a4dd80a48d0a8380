"""Running SUMO headless on a prepared scenario folder.

Time steps of 1 s, the sublane model at ``lateral_resolution_m``, a seed for every random
choice SUMO makes. Outputs:
floating car data of the probe vehicles as CSV (semicolon-separated), their routes with
exit times, per-edge truth, per-lane jams every minute and loop readings as XML.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from simulators.sumo.binaries import binary


@dataclass(frozen=True)
class RunFiles:
    """The output files of one SUMO run (in ``directory``) and its wall time (s)."""

    directory: Path
    fcd: Path
    vehroutes: Path
    edgedata: Path
    loops: Path
    jams: Path
    incident_jams: Path
    log: Path
    wall_s: float


def _within(path: Path, directory: Path) -> str:
    """``path`` relative to ``directory`` (where SUMO runs)."""
    return str(Path(path).resolve().relative_to(Path(directory).resolve()))


def run_sumo(
    directory: Path, *, net: Path, routes: Path, additional: Path, duration_s: int,
    seed: int, lateral_resolution_m: float, time_to_teleport_s: int,
) -> RunFiles:  # fmt: skip
    """Run SUMO in ``directory``; raises ``RuntimeError`` with SUMO's message on failure."""
    fcd, veh = directory / "fcd.csv", directory / "vehroutes.xml"
    log = directory / "sumo.log"
    # file names relative to the run folder: SUMO reads "a:b" in a path as host:port
    cmd = [
        binary("sumo"), "--net-file", _within(net, directory),
        "--route-files", _within(routes, directory),
        "--additional-files", _within(additional, directory), "--begin", "0",
        "--end", str(duration_s),
        "--step-length", "1", "--seed", str(seed),
        "--lateral-resolution", str(lateral_resolution_m),
        "--time-to-teleport", str(time_to_teleport_s), "--ignore-route-errors", "true",
        # only bodies that touch collide (motorbikes filter with small gaps), and a collision
        # is logged, not resolved by teleporting a vehicle (a jump in a probe's trace)
        "--collision.mingap-factor", "0", "--collision.action", "warn",
        "--device.fcd.probability", "0", "--fcd-output", fcd.name,
        "--fcd-output.attributes", "x,y,angle,speed,pos,lane",
        "--device.vehroute.probability", "0", "--vehroute-output", veh.name,
        "--vehroute-output.exit-times", "true", "--vehroute-output.write-unfinished", "true",
        "--device.rerouting.probability", "0", "--device.rerouting.period", "120",
        "--no-step-log", "true", "--duration-log.statistics", "true",
        "--log", log.name, "--output-prefix", "",
    ]  # fmt: skip
    t0 = time.monotonic()
    done = subprocess.run(cmd, cwd=directory, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"sumo failed: {(done.stderr or done.stdout).strip()[-2000:]}")
    ended = _ending(log)
    if ended is None or ended[1] == "Interrupted.":
        # SUMO exits 0 when a signal stops it: a cut-short run must not pass as a whole one
        raise RuntimeError(f"sumo stopped early ({ended or 'no end in its log'}): see {log}")
    return RunFiles(directory, fcd, veh, directory / "edgedata.xml", directory / "e1.xml",
                    directory / "jams.xml", directory / "incident_jams.xml", log,
                    time.monotonic() - t0)  # fmt: skip


def _ending(log: Path) -> tuple[float, str] | None:
    """When and why SUMO's run ended, from its log (``None``: the log says nothing)."""
    at, reason = None, None
    with log.open(encoding="utf-8", errors="replace") as fh:
        lines = iter(fh)
        for line in lines:
            if line.startswith("Simulation ended at time:"):
                at = float(line.split(":", 1)[1].strip().rstrip("."))
                reason = next(lines, "").removeprefix("Reason:").strip()
    return None if at is None else (at, reason or "")


def run_counts(log: Path) -> dict[str, int]:
    """Vehicle counts of SUMO's closing statistics: ``inserted``, ``teleports``,
    ``collisions``, ``jams`` (teleports of vehicles stuck too long), ``emergency_braking``
    (0 when SUMO reports none)."""
    out = {"inserted": 0, "teleports": 0, "collisions": 0, "jams": 0, "emergency_braking": 0}
    text = log.read_text(encoding="utf-8", errors="replace")
    for key, pattern in (("inserted", r"^ Inserted: (\d+)"), ("teleports", r"^ Teleports: (\d+)"),
                         ("collisions", r"^ Teleports: .*Collisions: (\d+)"),
                         ("jams", r"^ Teleports: .*Jam: (\d+)"),
                         ("emergency_braking", r"^ Emergency Braking: (\d+)")):  # fmt: skip
        found = re.findall(pattern, text, re.MULTILINE)
        if found:
            out[key] = int(found[-1])
    return out
