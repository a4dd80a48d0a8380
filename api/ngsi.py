"""FIWARE NGSI-LD export (ETSI GS CIM 009) using the Smart Data Models vocabulary.

* Each segment's current state → ``TrafficFlowObserved`` (``averageVehicleSpeed`` km/h,
  ``congested``, ``dateObserved`` interval, ``location`` LineString, ``refRoadSegment``).
  Its forecasts (normalized form, on request) are further instances of
  ``averageVehicleSpeed``, told apart by NGSI-LD's ``datasetId``
  (``urn:ngsi-ld:Dataset:itms:forecast:PT15M`` …) with ``observedAt`` = the target time and
  sub-properties ``speedP10``/``speedP90`` (the band, km/h), ``issuedAt`` and ``basis``: the
  Smart Data Models have no forecast type for traffic flow, while a multi-instance attribute
  is NGSI-LD's own place for several values of one attribute.
* Each active incident → ``Alert`` (``category: traffic``, ``subCategory`` from the incident
  kind, ``severity`` informational … critical, ``validFrom``/``validTo``, ``location`` Point).

Entities are in the *normalized* form (``Property`` / ``GeoProperty`` / ``Relationship``), which
a context broker accepts through ``POST /ngsi-ld/v1/entityOperations/upsert``; ``keyValues``
gives the simplified form. Geometry WGS 84 (lon, lat).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

CONTEXT = [
    "https://smartdatamodels.org/context.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld",
]
CITY = "haiphong"
_SUBCATEGORY = {
    "accident": "carAccident", "crash": "carAccident", "stalled_vehicle": "carStopped",
    "breakdown": "carStopped", "closure": "roadClosed", "full_closure": "roadClosed",
    "roadworks": "roadWorks", "congestion": "trafficJam", "queue": "trafficJam",
    "wrong_way": "carWrongDirection", "lane_blockage": "hazardOnRoad",
}  # fmt: skip
_SEVERITY = {1: "informational", 2: "low", 3: "medium", 4: "high", 5: "critical"}


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _normalize(entity: dict[str, Any], key_values: bool) -> dict[str, Any]:
    """Turn a key-values entity into the normalized form (unless ``key_values``)."""
    out = {k: v for k, v in entity.items() if v is not None}
    if key_values:
        return out
    for k, v in list(out.items()):
        if k in ("id", "type", "@context"):
            continue
        if k == "location":
            out[k] = {"type": "GeoProperty", "value": v}
        elif k.startswith("ref"):
            out[k] = {"type": "Relationship", "object": v}
        elif k.startswith("date") or k.startswith("valid"):
            out[k] = {"type": "Property", "value": {"@type": "DateTime", "@value": v}}
        else:
            out[k] = {"type": "Property", "value": v}
    return out


def forecast_instance(r: dict[str, Any]) -> dict[str, Any]:
    """One stored forecast row as an ``averageVehicleSpeed`` instance (normalized form)."""
    sub = {"speedP10": r.get("p10_kmh"), "speedP90": r.get("p90_kmh"),
           "basis": r.get("basis")}  # fmt: skip
    out: dict[str, Any] = {
        "type": "Property", "value": round(float(r["speed_kmh"]), 2),
        "datasetId": f"urn:ngsi-ld:Dataset:itms:forecast:PT{int(r['horizon_min'])}M",
        "observedAt": _iso(r["target_at"]),
        "issuedAt": {"type": "Property", "value": {"@type": "DateTime",
                                                    "@value": _iso(r["issued_at"])}},
    }  # fmt: skip
    for k, v in sub.items():
        if v is not None:
            out[k] = {"type": "Property", "value": round(v, 2) if isinstance(v, float) else v}
    return out


def traffic_flow(status: dict[str, Any], geometry: dict[str, Any], *,
                 key_values: bool = False,
                 forecasts: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    """``TrafficFlowObserved`` of one segment status (as from :class:`NetworkView`); with
    ``forecasts`` (stored rows) in the normalized form also its forecast instances."""
    sid = status["segment_id"]
    minute = status["minute"]
    entity = {
        "id": f"urn:ngsi-ld:TrafficFlowObserved:{CITY}:{sid}",
        "type": "TrafficFlowObserved",
        "@context": CONTEXT,
        "name": status["name"] or sid,
        "location": geometry,
        "refRoadSegment": f"urn:ngsi-ld:RoadSegment:{CITY}:{sid}",
        "dateObserved": _iso(minute),
        "dateObservedFrom": _iso(minute),
        "dateObservedTo": _iso(None if minute is None else minute + timedelta(minutes=1)),
        "averageVehicleSpeed": status["speed_kmh"],
        "congested": None if status["congestion_level"] is None
        else status["congestion_level"] >= 3,
        "congestionLevel": status["congestion"],
        "jamFactor": status["jam_factor"],
        "travelTime": status["travel_time_s"],
        "freeFlowSpeed": status["free_flow_kmh"],
        "confidence": status["confidence"],
        "dataProvider": f"ITMS {CITY} ({status['source']})",
    }  # fmt: skip
    out = _normalize(entity, key_values)
    if forecasts and not key_values:
        now = out.get("averageVehicleSpeed")
        out["averageVehicleSpeed"] = ([now] if now else []) + [
            forecast_instance(r) for r in sorted(forecasts, key=lambda r: r["horizon_min"])]
    return out


def alert(row: dict[str, Any], *, key_values: bool = False) -> dict[str, Any]:
    """``Alert`` of one incident row (public fields)."""
    location = None
    if row.get("lon") is not None:
        location = {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
    road = row.get("road_name") or row.get("segment_id") or ""
    entity = {
        "id": f"urn:ngsi-ld:Alert:{CITY}:{row['incident_id']}",
        "type": "Alert",
        "@context": CONTEXT,
        "category": "traffic",
        "subCategory": _SUBCATEGORY.get(row["kind"], "hazardOnRoad"),
        "severity": _SEVERITY.get(row["severity"], "medium"),
        "description": f"{row['kind']} on {road}".strip(),
        "location": location,
        "dateIssued": _iso(row["started_at"]),
        "validFrom": _iso(row["started_at"]),
        "validTo": _iso(row.get("ended_at")),
        "alertSource": f"ITMS {CITY} ({row['source']})",
        "status": row["status"],
        "estimatedDelay": row.get("est_delay_s"),
        "refRoadSegment": None if not row.get("segment_id")
        else f"urn:ngsi-ld:RoadSegment:{CITY}:{row['segment_id']}",
    }  # fmt: skip
    return _normalize(entity, key_values)
