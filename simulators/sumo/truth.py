"""The ground truth of a SUMO run, in the files of ``simulators/truth.py``.

- ``segment_speeds.csv``: per segment and minute from every traffic vehicle (SUMO
  ``edgeData``): space-mean speed (distance driven / time spent on the segment, standing
  at signals included), travel time, flow (vehicles leaving per hour), queue.
- ``traversals.csv``: every complete pass of a probe over a segment (entry = leaving the
  previous edge, exit = leaving this one).
- queues: from lane-area detectors over every lane (``additionals.py``): a segment's queue
  is its longest lane's jam (standing vehicles less than 10 m apart), metres.
- ``detectors.csv``: every loop with its station and lane.
- ``incidents.csv``: each incident with the longest queue it formed.

Times: SUMO seconds from the run's start inside, UTC in the files; positions WGS 84.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from roadnet import model as m
from roadnet.model import RoadNetwork
from simulators.scenario import IncidentSpec
from simulators.sumo.additionals import Loop
from simulators.sumo.outputs import Route
from simulators.truth import TruthWriter, iso

#: The floor of a truth speed (km/h), as in the own simulator.
MIN_SPEED_KMH = 1.0


def write_traversals(
    truth: TruthWriter, routes: dict[str, Route], vehicle_type: dict[str, str],
    network: RoadNetwork, index: dict[str, int], start_ms: int, duration_s: int,
) -> None:  # fmt: skip
    """Every complete pass of the vehicles in ``vehicle_type`` (the probes) over a segment
    within the run (times in seconds from its start)."""
    length = network.segments[m.LENGTH].to_numpy(float)
    for vid, vtype in vehicle_type.items():
        route = routes.get(vid)
        if route is None:
            continue
        for j in range(1, len(route.exit_s)):
            seg = index.get(route.edges[j], -1)
            entry, exit_ = float(route.exit_s[j - 1]), float(route.exit_s[j])
            if seg < 0 or entry < 0 or not exit_ <= duration_s or exit_ <= entry:
                continue
            truth.traversals.writerow((vid, vtype, route.edges[j], int(start_ms + entry * 1000),
                                       int(start_ms + exit_ * 1000),
                                       f"{length[seg] / (exit_ - entry) * 3.6:.2f}"))  # fmt: skip


def write_loops(truth: TruthWriter, loops: list[Loop], network: RoadNetwork,
                index: dict[str, int]) -> None:  # fmt: skip
    """``detectors.csv``: every loop with its station (the site) and lane."""
    rows = []
    for loop_id, site_id, lane, seg_id, pos in loops:
        geom = network.segments.geometry.iloc[index[seg_id]]
        frac = pos / float(network.segments[m.LENGTH].iloc[index[seg_id]])
        p = shapely.line_interpolate_point(geom, min(frac, 1.0), normalized=True)
        rows.append([loop_id, seg_id, f"{pos:.1f}", f"{p.x:.7f}", f"{p.y:.7f}", "", "",
                     site_id, lane])  # fmt: skip
    header = ["detector_id", "segment_id", "position_m", "lon", "lat", "fault", "fault_from",
              "station_id", "lane"]  # fmt: skip
    truth.write_table("detectors.csv", header, rows)


def edge_queues(jams: pd.DataFrame) -> pd.DataFrame:
    """Per edge and minute (``begin``, ``id``): its longest lane's jam averaged over the
    minute (``queue_m``) and at its longest (``max_queue_m``), metres."""
    g = jams.groupby(["begin", "edge"], sort=False)
    out = g.agg(queue_m=("mean_jam_m", "max"), max_queue_m=("max_jam_m", "max")).reset_index()
    return out.rename(columns={"edge": "id"})


def write_speeds(truth: TruthWriter, edge: pd.DataFrame, queues: pd.DataFrame,
                 network: RoadNetwork, start_ms: int) -> None:  # fmt: skip
    """``segment_speeds.csv`` from SUMO's per-minute edge data (all traffic vehicles) and
    the edges' queues (``edge_queues``). A minute in which every vehicle on a segment stood
    still gets the own simulator's floor of 1 km/h."""
    length = dict(zip(network.segments[m.SEGMENT_ID].astype(str),
                      network.segments[m.LENGTH].astype(float), strict=True))  # fmt: skip
    q = edge.merge(queues[["begin", "id", "queue_m"]], on=["begin", "id"], how="left")
    queue = q["queue_m"].fillna(0.0).to_numpy(float)
    seg_len = edge["id"].map(length).to_numpy(float)
    ok = (edge["sampledSeconds"].to_numpy(float) > 0) & np.isfinite(seg_len)
    e = edge[ok]
    speed = np.maximum(e["speed"].to_numpy(float), MIN_SPEED_KMH / 3.6)
    minutes = pd.to_datetime(start_ms + e["begin"].to_numpy(float) * 1000, unit="ms",
                             utc=True).strftime("%Y-%m-%dT%H:%M:%SZ")  # whole minutes
    truth.speeds.writerows(zip(
        minutes, e["id"], np.char.mod("%.2f", speed * 3.6),
        np.char.mod("%.1f", seg_len[ok] / speed),
        np.char.mod("%.0f", e["left"].to_numpy(float) * 60), np.char.mod("%.0f", queue[ok]),
        strict=True))  # fmt: skip


def _upstream_same_road(network: RoadNetwork) -> list[list[int]]:
    """For each segment, the segments of the same road (name) that end where it starts,
    its own reverse excluded."""
    seg = network.segments
    names = seg[m.NAME].fillna("").astype(str).tolist()
    frm, to = seg[m.FROM_NODE].to_numpy(), seg[m.TO_NODE].to_numpy()
    into: dict[int, list[int]] = {}
    for i, t in enumerate(to.tolist()):
        into.setdefault(int(t), []).append(i)
    return [[u for u in into.get(int(frm[i]), []) if names[u] == names[i] and names[i]
             and frm[u] != to[i]] for i in range(len(seg))]  # fmt: skip


def incident_queue_m(
    incident: IncidentSpec, queues: pd.DataFrame, network: RoadNetwork, *,
    incident_jam: pd.DataFrame | None = None, full_share: float = 0.8, after_s: float = 600.0,
) -> float:  # fmt: skip
    """The longest queue (m) an incident formed, from its start to ``after_s`` after its
    end: each minute, the jam behind it (``incident_jam``: per ``begin`` the longest lane's
    jam upstream of its position, ``max_queue_m``; else its segment's) and, while a segment
    is ``full_share`` full, the longest jam of the segment before it on the same road."""
    seg = network.segments
    ids = seg[m.SEGMENT_ID].astype(str).tolist()
    index = {s: i for i, s in enumerate(ids)}
    length = seg[m.LENGTH].to_numpy(float)
    ups = _upstream_same_road(network)
    jam = queues.set_index(["begin", "id"])["max_queue_m"]
    own = None if incident_jam is None else incident_jam.set_index("begin")["max_queue_m"]
    k = index[incident.segment_id]
    room0 = length[k] * (1.0 if incident.kind == "crawl" else incident.position)
    best = 0.0
    end = incident.start_s + incident.duration_s + after_s
    for t0 in np.arange(incident.start_s // 60 * 60, end, 60.0):
        q = float(own.get(t0, 0.0)) if own is not None else float(jam.get((t0, ids[k]), 0.0))
        total, cur, room, seen = q, k, room0, {k}
        while q >= full_share * room:
            nxt = [u for u in ups[cur] if u not in seen]
            if not nxt:
                break
            cur = nxt[0]
            seen.add(cur)
            q, room = float(jam.get((t0, ids[cur]), 0.0)), length[cur]
            total += q
        best = max(best, total)
    return best


def write_incidents(truth: TruthWriter, incidents: list[IncidentSpec], network: RoadNetwork,
                    queues: pd.DataFrame, incident_jams: dict[str, pd.DataFrame],
                    start_ms: int) -> None:  # fmt: skip
    """``incidents.csv``: each incident with the longest queue it formed (``incident_queue_m``;
    ``incident_jams``: per incident id the jams behind it, as in ``incident_queue_m``)."""
    seg = network.segments
    ids = seg[m.SEGMENT_ID].astype(str).tolist()
    index = {s: i for i, s in enumerate(ids)}
    names = seg[m.NAME].fillna("").astype(str).tolist()
    rows = []
    for inc in incidents:
        k = index[inc.segment_id]
        best = incident_queue_m(inc, queues, network, incident_jam=incident_jams.get(inc.id))
        p = shapely.line_interpolate_point(seg.geometry.iloc[k], inc.position, normalized=True)
        rows.append([inc.id, inc.kind, inc.segment_id, names[k], f"{p.x:.7f}", f"{p.y:.7f}",
                     iso(start_ms + inc.start_s * 1000),
                     iso(start_ms + (inc.start_s + inc.duration_s) * 1000),
                     inc.lanes_blocked, f"{best:.0f}"])  # fmt: skip
    truth.write_table("incidents.csv", ["incident_id", "kind", "segment_id", "road_name", "lon",
                                        "lat", "start", "end", "lanes_blocked", "max_queue_m"],
                      rows)  # fmt: skip
