"""The ground truth of a SUMO run, in the files of ``simulators/truth.py``.

- ``segment_speeds.csv``: per segment and minute from every traffic vehicle (SUMO
  ``edgeData``): space-mean speed (distance driven / time spent on the segment, standing
  at signals included), travel time, flow (vehicles leaving per hour), queue.
- ``traversals.csv``: every complete pass of a probe over a segment (entry = leaving the
  previous edge, exit = leaving this one).
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

#: Road length one halting vehicle takes in a queue, per lane (m): a mix of motorbikes
#: (about 1 m each, riding three abreast in a lane) and cars (about 7 m).
QUEUE_SPACE_M = 4.0


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


def queue_m(edge: pd.DataFrame, lanes: dict[str, int]) -> np.ndarray:
    """Queue length per edge row (m): halting vehicles over the minute × space per lane."""
    n_lanes = edge["id"].map(lanes).fillna(1).clip(lower=1).to_numpy(float)
    return edge["waitingTime"].fillna(0).to_numpy(float) / 60.0 * QUEUE_SPACE_M / n_lanes


def write_speeds(truth: TruthWriter, edge: pd.DataFrame, network: RoadNetwork,
                 lanes: dict[str, int], start_ms: int) -> None:  # fmt: skip
    """``segment_speeds.csv`` from SUMO's per-minute edge data (all traffic vehicles)."""
    length = dict(zip(network.segments[m.SEGMENT_ID].astype(str),
                      network.segments[m.LENGTH].astype(float), strict=True))  # fmt: skip
    queue = queue_m(edge, lanes)
    for k, row in enumerate(edge.itertuples(index=False)):
        if not row.speed > 0 or row.id not in length:
            continue
        truth.speeds.writerow((iso(start_ms + row.begin * 1000), row.id,
                               f"{row.speed * 3.6:.2f}", f"{length[row.id] / row.speed:.1f}",
                               f"{row.left * 60:.0f}", f"{queue[k]:.0f}"))  # fmt: skip


def write_incidents(truth: TruthWriter, incidents: list[IncidentSpec], network: RoadNetwork,
                    edge: pd.DataFrame, lanes: dict[str, int],
                    start_ms: int) -> None:  # fmt: skip
    """``incidents.csv``: each incident with the longest queue it formed (m) — on its
    segment and the queued segments upstream along the same road, from its start to ten
    minutes after its end."""
    seg = network.segments
    ids = seg[m.SEGMENT_ID].astype(str).tolist()
    index = {s: i for i, s in enumerate(ids)}
    names = seg[m.NAME].fillna("").astype(str).tolist()
    into: dict[int, list[int]] = {}
    for i, to in enumerate(seg[m.TO_NODE].tolist()):
        into.setdefault(int(to), []).append(i)
    frm = seg[m.FROM_NODE].to_numpy()
    queue = pd.Series(queue_m(edge, lanes), index=pd.MultiIndex.from_arrays(
        [edge["begin"].to_numpy(float), edge["id"].to_numpy()]))  # fmt: skip
    rows = []
    for inc in incidents:
        k = index[inc.segment_id]
        best = 0.0
        for t0 in np.arange(inc.start_s // 60 * 60, inc.start_s + inc.duration_s + 600, 60.0):
            total, cur, seen = 0.0, k, {k}
            while True:
                q = float(queue.get((t0, ids[cur]), 0.0))
                if q <= 0 and cur != k:
                    break
                total += q
                ups = [u for u in into.get(int(frm[cur]), []) if names[u] == names[k]
                       and u not in seen and frm[u] != seg[m.TO_NODE].iloc[cur]]  # fmt: skip
                if not ups:
                    break
                cur = ups[0]
                seen.add(cur)
            best = max(best, total)
        p = shapely.line_interpolate_point(seg.geometry.iloc[k], inc.position, normalized=True)
        rows.append([inc.id, inc.kind, inc.segment_id, names[k], f"{p.x:.7f}", f"{p.y:.7f}",
                     iso(start_ms + inc.start_s * 1000),
                     iso(start_ms + (inc.start_s + inc.duration_s) * 1000),
                     inc.lanes_blocked, f"{best:.0f}"])  # fmt: skip
    truth.write_table("incidents.csv", ["incident_id", "kind", "segment_id", "road_name", "lon",
                                        "lat", "start", "end", "lanes_blocked", "max_queue_m"],
                      rows)  # fmt: skip
