"""Gridlocks in SUMO runs: places where vehicles stood until SUMO teleported them away.

SUMO removes a vehicle that could not move for ``time_to_teleport_s`` (600 s) and puts it
further along its route; its log names the lane and the time. At 20,000 trips an hour
junctions lock up now and then (vehicles inside a junction wait on each other), and the
queue behind one is an unusual slowdown with no incident in the run's list. An incident
detector that raises it is right about the traffic, wrong about the incident list: the
evaluation counts such alarms apart (``at_gridlock``), and still as false alarms.

A gridlock's place is the junction's position for a lane inside a junction, else the end of
the segment the lane belongs to (network metric CRS); it lasts from ``time_to_teleport_s``
before the teleport to the teleport. Times epoch seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from roadnet import model as m
from roadnet.model import RoadNetwork
from simulators.sumo.outputs import read_junction_xy, read_teleports


@dataclass(frozen=True)
class Gridlock:
    """Vehicles stuck at (x, y) from ``from_s`` to ``to_s`` (their teleport)."""

    x: float
    y: float
    from_s: float
    to_s: float


def gridlocks_of(run_dir: Path, network: RoadNetwork) -> list[Gridlock]:
    """The gridlocks of a SUMO run kept in ``run_dir`` (none for other engines)."""
    run = json.loads((run_dir / "truth" / "run.json").read_text(encoding="utf-8"))
    sumo = run.get("scenario", {}).get("sumo") or {}
    log = run_dir / "sumo" / "sumo.log"
    if run.get("stats", {}).get("engine") != "sumo" or not log.exists():
        return []
    tp = read_teleports(log)
    if tp.empty:
        return []
    start = datetime.fromisoformat(run["start"]).timestamp() - float(sumo.get("warmup_s", 0))
    wait = float(sumo.get("time_to_teleport_s", 600))
    junctions = read_junction_xy(run_dir / "sumo" / "network.net.xml")
    ends = {sid: g.coords[-1] for sid, g in zip(network.segments[m.SEGMENT_ID],
                                                 network.geom_m, strict=True)}  # fmt: skip
    out = []
    for r in tp.itertuples():
        xy = junctions.get(r.junction) if r.junction else ends.get(r.edge)
        if xy is not None:
            t = start + float(r.time_s)
            out.append(Gridlock(float(xy[0]), float(xy[1]), t - wait, t))
    return out


def at_gridlock(
    points: Iterable[tuple[float, float]], raised_s: float, gridlocks: Sequence[Gridlock], *,
    radius_m: float = 500.0, after_s: float = 600.0,
) -> bool:  # fmt: skip
    """Whether an incident raised at ``raised_s`` at any of ``points`` lies within
    ``radius_m`` of a gridlock while it lasted (or up to ``after_s`` after: its queue takes
    a while to drain)."""
    pts = np.asarray(list(points), float).reshape(-1, 2)
    for g in gridlocks:
        if g.from_s <= raised_s <= g.to_s + after_s and len(pts) and (
            np.hypot(pts[:, 0] - g.x, pts[:, 1] - g.y).min() <= radius_m
        ):
            return True
    return False
