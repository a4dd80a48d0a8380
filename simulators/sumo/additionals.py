"""The SUMO additional file of a run: loops, the truth collector and incidents.

- Induction loops (E1) on the detector sites of the project's placement rule, one per lane
  (``<site>__l<k>``, lane 0 the rightmost), reporting every ``interval_s``.
- ``edgeData`` every 60 s over the traffic's vehicle types (incident blockers excluded):
  the truth per segment and minute.
- Lane-area detectors (E2) over the whole of every lane (``jam_<lane>``), every 60 s: the
  true queues (standing vehicles less than 10 m apart form one jam; its length in metres);
  and on every lane of an incident's segment up to the incident (``incjam_<id>#<lane>``).
- Bus stops (``bus_stops.py``) on the rightmost lane.
- Incidents: a lane blockage stands a lane-wide blocker (a crash scene, roadworks) on each
  blocked lane (rightmost first) at the incident's position for its duration, a full
  closure on every lane; a stalled vehicle is a car stopped on the rightmost lane
  (motorbikes squeeze past it); a crawl is a variable speed sign on every lane of the
  segment, ``crawl_kmh`` from the start to the end (vehicles keep their speed factor).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from simulators.detectors import DetectorSite
from simulators.scenario import IncidentSpec
from simulators.sumo.bus_stops import BusStops
from simulators.sumo.vehicle_types import BLOCKER, STALLED, TRAFFIC_TYPES, add_vehicle_types

JAM_PREFIX = "jam_"  # id of a lane's jam detector: prefix + lane id
JAMS_FILE = "jams.xml"
INCIDENT_JAM_PREFIX = "incjam_"  # + incident id + "#" + lane: the jam behind an incident
INCIDENT_JAMS_FILE = "incident_jams.xml"

#: A loop: (loop id, site id, lane, segment id, position m).
Loop = tuple[str, str, int, str, float]


def lane_detector_id(site_id: str, lane: int) -> str:
    """Id of the loop on ``lane`` of a detector site."""
    return f"{site_id}__l{lane}"


def blocked_lanes(incident: IncidentSpec, lanes: int) -> list[int]:
    """Lane indexes (0 = rightmost) an incident blocks on a road of ``lanes`` lanes."""
    if incident.kind == "crawl":
        return []
    if incident.kind == "full_closure":
        return list(range(lanes))
    if incident.kind == "stalled_vehicle":
        return [0]
    return list(range(min(incident.lanes_blocked, lanes)))


def write_additionals(
    path: Path, *, sites: list[DetectorSite], segment_ids: list[str],
    lane_length_m: dict[str, float], lanes_of: dict[str, int], interval_s: int,
    incidents: list[IncidentSpec], incident_pos_m: dict[str, float], per_lane: bool = True,
    bus_stops: BusStops | None = None, lane_width_m: float = 3.2, jams: bool = True,
) -> list[Loop]:  # fmt: skip
    """Write the additional file; returns the loops as (loop id, site id, lane, segment id,
    position m)."""
    root = ET.Element("additional")
    add_vehicle_types(root, lane_width_m=lane_width_m)
    ET.SubElement(root, "edgeData", id="truth", period="60", file="edgedata.xml",
                  excludeEmpty="true", vTypes=TRAFFIC_TYPES)  # fmt: skip
    if jams:
        for lane_id, length in lane_length_m.items():
            ET.SubElement(root, "laneAreaDetector", id=f"{JAM_PREFIX}{lane_id}", lane=lane_id,
                          pos="0", endPos=f"{length:.2f}", friendlyPos="true", period="60",
                          file=JAMS_FILE, vTypes=TRAFFIC_TYPES)  # fmt: skip
    if bus_stops is not None:
        for k in range(len(bus_stops.segment)):
            stop_lane = f"{segment_ids[int(bus_stops.segment[k])]}_0"
            start = min(float(bus_stops.start_m[k]), lane_length_m.get(stop_lane, 40.0) - 21.0)
            ET.SubElement(root, "busStop", id=bus_stops.stop_id(k, segment_ids), lane=stop_lane,
                          startPos=f"{max(start, 0.0):.1f}",
                          endPos=f"{max(start, 0.0) + 20.0:.1f}")  # fmt: skip
    loops: list[Loop] = []
    for site in sites:
        seg = segment_ids[site.segment]
        lanes = range(lanes_of.get(seg, 1)) if per_lane else range(1)
        for lane in lanes:
            lane_id = f"{seg}_{lane}"
            pos = min(max(site.position_m, 1.0), lane_length_m.get(lane_id, 2.0) - 1.0)
            loop_id = lane_detector_id(site.detector_id, lane) if per_lane else site.detector_id
            ET.SubElement(root, "inductionLoop", id=loop_id, lane=lane_id, pos=f"{pos:.1f}",
                          period=str(interval_s), file="e1.xml", vTypes=TRAFFIC_TYPES)  # fmt: skip
            loops.append((loop_id, site.detector_id, lane, seg, pos))
    for inc in sorted(incidents, key=lambda i: i.start_s):
        seg = inc.segment_id
        if inc.kind == "crawl":
            lanes_ids = " ".join(f"{seg}_{lane}" for lane in range(lanes_of.get(seg, 1)))
            vss = ET.SubElement(root, "variableSpeedSign", id=f"{inc.id}#crawl", lanes=lanes_ids)
            ET.SubElement(vss, "step", time=f"{inc.start_s:.0f}",
                          speed=f"{inc.crawl_kmh / 3.6:.2f}")  # fmt: skip
            ET.SubElement(vss, "step", time=f"{inc.start_s + inc.duration_s:.0f}", speed="-1")
        blocker = STALLED if inc.kind == "stalled_vehicle" else BLOCKER
        blocked = blocked_lanes(inc, lanes_of.get(seg, 1))
        for lane in range(lanes_of.get(seg, 1)) if blocked and jams else []:
            lane_id = f"{seg}_{lane}"  # the jam behind the incident, on every lane
            pos = min(max(incident_pos_m[inc.id], 5.0), lane_length_m.get(lane_id, 10.0) - 1.0)
            ET.SubElement(root, "laneAreaDetector", id=f"{INCIDENT_JAM_PREFIX}{inc.id}#{lane}",
                          lane=lane_id, pos="0", endPos=f"{pos:.1f}", friendlyPos="true",
                          period="60", file=INCIDENT_JAMS_FILE,
                          vTypes=TRAFFIC_TYPES)  # fmt: skip
        for lane in blocked:
            lane_id = f"{seg}_{lane}"
            pos = min(max(incident_pos_m[inc.id], 5.0), lane_length_m.get(lane_id, 10.0) - 1.0)
            veh = ET.SubElement(
                root, "vehicle", id=f"{inc.id}#{lane}", type=blocker, depart=f"{inc.start_s:.0f}",
                departLane=str(lane), departPos=f"{pos:.1f}", departSpeed="0",
                insertionChecks="none",
            )  # fmt: skip
            ET.SubElement(veh, "route", edges=seg)
            ET.SubElement(veh, "stop", lane=lane_id, endPos=f"{pos:.1f}",
                          duration=f"{inc.duration_s:.0f}")  # fmt: skip
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return loops
