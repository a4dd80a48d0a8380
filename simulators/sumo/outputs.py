"""Reading a SUMO run's outputs into arrays (SUMO times in seconds from the run's start,
positions in the network's metric CRS, speeds m/s as SUMO writes them)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


def read_fcd(path: Path) -> pd.DataFrame:
    """Floating car data: ``t``, ``vehicle_id``, ``x``, ``y``, ``angle`` (degrees clockwise
    from north), ``speed`` (m/s), ``pos`` (m along the lane), ``lane`` — one row per vehicle
    and time step, sorted by time then vehicle."""
    df = pd.read_csv(path, sep=";", dtype={"vehicle_id": str, "vehicle_lane": str})
    df = df.dropna(subset=["vehicle_id"]).rename(columns=lambda c: c.split("_", 1)[1])
    return df.rename(columns={"time": "t", "id": "vehicle_id"}).reset_index(drop=True)


@dataclass(frozen=True)
class Route:
    """A vehicle's route as driven: edge ids and the time it left each (s; ``inf``: not left
    by the end of the run)."""

    vehicle_type: str
    depart_s: float
    edges: list[str]
    exit_s: np.ndarray


def shifted(route: Route, by_s: float) -> Route:
    """``route`` with its times ``by_s`` seconds earlier."""
    return Route(route.vehicle_type, route.depart_s - by_s, route.edges, route.exit_s - by_s)


def read_vehroutes(path: Path) -> dict[str, Route]:
    """Routes with exit times of the vehicles that carried a vehroute device."""
    out: dict[str, Route] = {}
    for _, el in ET.iterparse(path):
        if el.tag != "vehicle":
            continue
        routes = el.findall("route") or el.findall("routeDistribution/route")
        if routes:
            last = routes[-1]
            edges = (last.get("edges") or "").split()
            exits = np.array([float(v) for v in (last.get("exitTimes") or "").split()], float)
            exits[exits < 0] = np.inf  # −1: not left (yet) when the run ended
            out[el.get("id", "")] = Route(el.get("type", ""), float(el.get("depart", "nan")),
                                          edges, exits)  # fmt: skip
        el.clear()
    return out


def _intervals(path: Path, tag: str) -> pd.DataFrame:
    rows: list[dict[str, str]] = []
    if not path.exists():  # SUMO writes no file for outputs nothing was defined for
        return pd.DataFrame(rows)
    for _, el in ET.iterparse(path):
        if el.tag == "interval":
            if tag == "edge":
                rows.extend({"begin": el.get("begin", ""), **e.attrib} for e in el.findall("edge"))
                el.clear()
            else:
                rows.append(dict(el.attrib))
    return pd.DataFrame(rows)


def read_edgedata(path: Path) -> pd.DataFrame:
    """Per edge and interval: ``begin`` (s), ``id``, ``speed`` (m/s, space-mean),
    ``traveltime`` (s), ``left`` (vehicles that left), ``waitingTime`` (vehicle-seconds
    halting), ``sampledSeconds``."""
    df = _intervals(path, "edge")
    if df.empty:
        return pd.DataFrame(columns=["begin", "id", "speed", "traveltime", "left",
                                     "waitingTime", "sampledSeconds"])  # fmt: skip
    for col in ("begin", "speed", "traveltime", "left", "waitingTime", "sampledSeconds"):
        df[col] = pd.to_numeric(df.get(col), errors="coerce")
    return df


def read_loops(path: Path) -> pd.DataFrame:
    """Induction-loop readings: ``begin``, ``end`` (s), ``id``, ``nVehContrib`` (vehicles),
    ``occupancy`` (percent), ``speed`` (m/s, −1 = no vehicle)."""
    df = _intervals(path, "interval")
    for col in ("begin", "end", "nVehContrib", "occupancy", "speed", "id"):
        if col not in df:
            df[col] = pd.Series(dtype=str if col == "id" else float)
        elif col != "id":
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def read_jams(path: Path, prefix: str = "jam_") -> pd.DataFrame:
    """Per lane-area detector (one a lane) and minute: ``begin`` (s), ``lane``, ``edge``,
    ``mean_jam_m`` (the longest jam, averaged over the steps), ``max_jam_m`` (the longest
    jam of the minute); metres."""
    cols = ["begin", "lane", "edge", "mean_jam_m", "max_jam_m"]
    rows: list[tuple[float, str, float, float]] = []
    if path.exists():
        for _, el in ET.iterparse(path):
            if el.tag == "interval":
                rows.append((float(el.get("begin", "nan")), el.get("id", "")[len(prefix):],
                             float(el.get("meanMaxJamLengthInMeters", "0")),
                             float(el.get("maxJamLengthInMeters", "0"))))  # fmt: skip
                el.clear()
    df = pd.DataFrame(rows, columns=["begin", "lane", "mean_jam_m", "max_jam_m"])
    df["edge"] = df["lane"].str.rsplit("_", n=1).str[0]
    return df[cols]


def read_incident_jams(path: Path, prefix: str = "incjam_") -> dict[str, pd.DataFrame]:
    """Per incident id and minute: ``begin`` (s) and ``max_queue_m``, the longest jam (m)
    behind the incident on any lane (detectors ``<prefix><incident id>#<lane>``)."""
    df = read_jams(path, prefix)
    if df.empty:
        return {}
    df["incident"] = df["lane"].str.rsplit("#", n=1).str[0]
    g = df.groupby(["incident", "begin"], sort=False)["max_jam_m"].max().rename("max_queue_m")
    return {inc: part.reset_index(level=0, drop=True).reset_index()
            for inc, part in g.groupby(level=0)}  # fmt: skip


TELEPORT = re.compile(
    r"Teleporting vehicle '(?P<vehicle>[^']+)'; (?P<why>[^,]+), lane='(?P<lane>[^']*)',"
    r" time=(?P<time>[0-9]+(?:\.[0-9]+)?)"
)


def read_teleports(log: Path) -> pd.DataFrame:
    """The vehicles SUMO teleported because they stood too long (``--time-to-teleport``: a
    jammed junction, a lane they could not leave), from its log: ``vehicle``, ``reason``
    (``jam``, ``yield``, ``wrongLane``), ``lane``, ``junction`` (for a lane inside a
    junction, ``:<junction>_<k>_<lane>``; else empty), ``edge`` and ``time_s``."""
    rows = []
    if log.exists():
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            hit = TELEPORT.search(line)
            if hit is None:
                continue
            lane = hit["lane"]
            inside = lane.startswith(":")
            why = hit["why"]
            reason = why[why.find("(") + 1:why.rfind(")")] if "(" in why else why
            rows.append((hit["vehicle"], reason, lane,
                         lane[1:].rsplit("_", 2)[0] if inside else "",
                         "" if inside else lane.rsplit("_", 1)[0], float(hit["time"])))  # fmt: skip
    return pd.DataFrame(rows, columns=["vehicle", "reason", "lane", "junction", "edge", "time_s"])


def read_junction_xy(net_xml: Path) -> dict[str, tuple[float, float]]:
    """Each junction's position (x, y) in a ``.net.xml`` (the network's metric CRS when it
    was written without moving the origin, as :mod:`.network_export` writes it)."""
    out = {}
    for _, el in ET.iterparse(net_xml):
        if el.tag == "junction":
            out[el.get("id", "")] = (float(el.get("x", "nan")), float(el.get("y", "nan")))
        el.clear()
    return out
