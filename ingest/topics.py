"""Kafka topics of the system: logical name → full name, key and meaning.

Full names are ``<ITMS_TOPIC_PREFIX><name>`` (default prefix ``itms.``). Every
topic carries UTF-8 JSON values; keys are UTF-8 strings so that per-key order
holds (all fixes of one vehicle land in one partition, in order).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic: its name without prefix, what its key is and what it carries."""

    name: str
    key: str
    description: str
    retention_ms: int = 7 * 86_400_000


TOPICS: dict[str, TopicSpec] = {
    "gps": TopicSpec("gps.fixes.v1", "vehicle_id", "GPS probe fixes (contract gps-fix v1)."),
    "detectors": TopicSpec(
        "detector.readings.v1",
        "detector_id",
        "Loop detector / camera readings (detector-reading v1).",
    ),
    "deadletter": TopicSpec(
        "deadletter.v1",
        "source topic",
        "Rejected messages: original bytes, reason, source topic/partition/offset.",
        retention_ms=30 * 86_400_000,
    ),
    "segment_state": TopicSpec(
        "segment.state.v1", "segment_id", "Per-segment traffic state per minute (output)."
    ),
    "incidents": TopicSpec(
        "incident.events.v1",
        "incident_id",
        "Incident lifecycle events: every stored incident update, in seq order (output).",
        retention_ms=30 * 86_400_000,
    ),
}
