"""SUMO vehicle types of a run: the Vietnamese traffic mix and the incident blockers.

Motorbikes, the majority, use the sublane model's arbitrary lateral alignment and small
lateral gaps, so they filter between cars and ride several abreast in a lane; cars, taxis,
buses and trucks keep to the centre of their lane. The mix's shares are the project's
fleet (``simulators/fleet.py``); this module only says how each type drives. Lengths,
widths and gaps in metres, speeds m/s, accelerations m/s².
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

_CAR = {
    "length": "4.5",
    "minGap": "2.0",
    "maxSpeed": "22.2",
    "accel": "2.6",
    "decel": "4.5",
    "sigma": "0.5",
    "latAlignment": "center",
    "speedFactor": "normc(1,0.1,0.6,1.3)",
}

#: SUMO vType attributes per project vehicle type. Motorbikes: 1.9 m long, 0.8 m wide,
#: 0.5 m gaps both ways.
VTYPES: dict[str, dict[str, str]] = {
    "motorbike": {"vClass": "motorcycle", "length": "1.9", "width": "0.8", "minGap": "0.5",
                  "minGapLat": "0.3", "maxSpeed": "16.7", "accel": "2.5", "decel": "5.0",
                  "sigma": "0.5", "latAlignment": "arbitrary", "maxSpeedLat": "1.5",
                  "lcSublane": "2.0", "speedFactor": "normc(1,0.1,0.6,1.4)"},
    "car": {"vClass": "passenger", **_CAR},
    "taxi": {"vClass": "taxi", **_CAR},
    "bus": {"vClass": "bus", "length": "10.5", "minGap": "2.5", "maxSpeed": "16.7",
            "accel": "1.2", "decel": "4.0", "sigma": "0.3", "latAlignment": "center",
            "speedFactor": "normc(0.9,0.05,0.7,1.0)"},
    "truck": {"vClass": "truck", "length": "8.0", "minGap": "2.5", "maxSpeed": "16.7",
              "accel": "1.3", "decel": "4.0", "sigma": "0.4", "latAlignment": "center",
              "speedFactor": "normc(0.9,0.05,0.7,1.0)"},
}  # fmt: skip

#: The traffic's types, space-separated (the vTypes detectors and truth count).
TRAFFIC_TYPES = " ".join(VTYPES)
#: What stands in a lane during an incident: a crash scene or roadworks as wide as the lane
#: (nothing passes it in that lane, not even a motorbike), or a stalled car (motorbikes
#: squeeze past it in the sublane model).
BLOCKER = "blocker"
STALLED = "stalled"


def add_vehicle_types(root: ET.Element, *, lane_width_m: float = 3.2) -> None:
    """Append the traffic's vTypes and the incident blockers' to an XML root (lanes
    ``lane_width_m`` wide)."""
    for name, attrs in VTYPES.items():
        ET.SubElement(root, "vType", {"id": name, **attrs})
    ET.SubElement(root, "vType", id=BLOCKER, vClass="passenger", length="8.0",
                  width=f"{max(lane_width_m - 0.2, 1.8):.2f}", color="1,0,0")  # fmt: skip
    ET.SubElement(root, "vType", id=STALLED, vClass="passenger", length="4.5", width="1.8",
                  color="1,0.5,0")  # fmt: skip
