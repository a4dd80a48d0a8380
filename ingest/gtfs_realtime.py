"""GTFS-Realtime ``VehiclePositions`` feeds → GPS-fix contract records.

A feed is one protocol-buffer ``FeedMessage`` (optionally gzip-compressed): a header and
entities. Each entity with a vehicle position becomes one record of the GPS-fix contract
(:class:`ingest.contracts.GpsFix`): ``vehicle_id`` from the vehicle descriptor's id (else the
entity's id), ``ts`` the position's timestamp (else the header's; POSIX seconds → epoch ms),
``lat``/``lon`` (WGS 84), ``heading_deg`` from the bearing, ``speed_kmh`` from the speed (m/s),
``vehicle_type`` as told (``bus`` by default), ``source``, and the trip's ``route_id`` and
``trip_id`` when present. Nothing is checked here that the workers check (age, ranges): a
record that breaks the contract is published and dead-lettered with its reason like any
other message.

Every entity is accounted for: converted, or skipped with a reason (:data:`SKIP_REASONS`).
The message is walked field by field at its top level, so a truncated or corrupt file names
the byte offset where it breaks, and one entity that does not parse is skipped without
losing the others.
"""

from __future__ import annotations

import gzip
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as rt

from ingest.errors import FeedDecodeError

#: Why an entity gave no record.
SKIP_REASONS = {
    "deleted": "the entity is marked deleted",
    "no_vehicle": "no vehicle position (a trip update or an alert)",
    "no_position": "a vehicle without a position",
    "no_timestamp": "no timestamp in the position nor in the header",
    "no_vehicle_id": "neither the vehicle descriptor nor the entity has an id",
    "unparsable": "the entity does not parse",
}
_HEADER, _ENTITY = 1, 2  # FeedMessage field numbers
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class DecodedFeed:
    """The records of one feed, the entities skipped per reason (keys of
    :data:`SKIP_REASONS`) and the header's timestamp (epoch ms; None: none)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    entities: int = 0
    header_ts_ms: int | None = None

    def summary(self) -> str:
        """One line for people: entities, records, skipped by reason."""
        why = ", ".join(f"{n} {SKIP_REASONS[k]}" for k, n in sorted(self.skipped.items()))
        return (f"{self.entities} entities: {len(self.records)} positions converted"
                + (f", skipped: {why}" if why else ""))  # fmt: skip


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value, shift, start = 0, 0, pos
    while True:
        if pos >= len(buf):
            raise FeedDecodeError(f"truncated at byte {start}: a varint runs past the end"
                                  f" ({len(buf)} bytes)")  # fmt: skip
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise FeedDecodeError(f"corrupt at byte {start}: a varint longer than 10 bytes")


def _top_level(buf: bytes) -> list[tuple[int, int, bytes]]:
    """(field number, byte offset, payload) of the message's length-delimited fields."""
    out, pos = [], 0
    while pos < len(buf):
        start = pos
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise FeedDecodeError(
                    f"truncated at byte {start}: field {number} needs {size} bytes from byte"
                    f" {pos}, the file ends at byte {len(buf)}"
                )  # fmt: skip
            out.append((number, start, buf[pos:pos + size]))
            pos += size
        elif wire == 0:
            _, pos = _varint(buf, pos)
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
            if pos > len(buf):
                raise FeedDecodeError(f"truncated at byte {start}: field {number} runs past"
                                      f" the end ({len(buf)} bytes)")  # fmt: skip
        else:
            raise FeedDecodeError(f"corrupt at byte {start}: field {number} has wire type"
                                  f" {wire}, not a GTFS-Realtime FeedMessage")  # fmt: skip
    return out


def unpack(data: bytes) -> bytes:
    """The protocol-buffer bytes of a feed, gzip-decompressed when compressed."""
    if data[:2] != _GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise FeedDecodeError(f"a gzip file that does not decompress: {exc}") from None


def decode_vehicle_positions(
    data: bytes, *, vehicle_type: str = "bus", source: str | None = "gtfs-rt"
) -> DecodedFeed:
    """Records of a ``FeedMessage`` (bytes, optionally gzip); raises
    :class:`~ingest.errors.FeedDecodeError` (with the byte offset) when the message itself is
    broken."""
    buf = unpack(data)
    out = DecodedFeed()
    fields = _top_level(buf)
    header_ts = None
    for number, offset, payload in fields:
        if number == _HEADER:
            try:
                header = rt.FeedHeader.FromString(payload)
            except DecodeError:
                raise FeedDecodeError(f"corrupt at byte {offset}: the header does not"
                                      " parse") from None  # fmt: skip
            if header.HasField("timestamp") and header.timestamp:
                header_ts = int(header.timestamp) * 1000
    out.header_ts_ms = header_ts
    for number, _offset, payload in fields:
        if number != _ENTITY:
            continue
        out.entities += 1
        try:
            entity = rt.FeedEntity.FromString(payload)
        except DecodeError:
            out.skipped["unparsable"] += 1
            continue
        record, why = _record(entity, header_ts, vehicle_type, source)
        if record is None:
            out.skipped[why] += 1
        else:
            out.records.append(record)
    return out


def _record(
    e: rt.FeedEntity, header_ts: int | None, vehicle_type: str, source: str | None
) -> tuple[dict[str, Any] | None, str]:
    if e.is_deleted:
        return None, "deleted"
    if not e.HasField("vehicle"):
        return None, "no_vehicle"
    v = e.vehicle
    if not v.HasField("position"):
        return None, "no_position"
    ts = int(v.timestamp) * 1000 if v.HasField("timestamp") and v.timestamp else header_ts
    if ts is None:
        return None, "no_timestamp"
    vid = v.vehicle.id if v.HasField("vehicle") and v.vehicle.id else e.id
    if not vid:
        return None, "no_vehicle_id"
    p = v.position
    rec: dict[str, Any] = {"vehicle_id": vid, "ts": ts, "lat": float(p.latitude),
                           "lon": float(p.longitude), "vehicle_type": vehicle_type}  # fmt: skip
    if p.HasField("bearing"):
        rec["heading_deg"] = round(float(p.bearing), 1)
    if p.HasField("speed"):
        rec["speed_kmh"] = round(float(p.speed) * 3.6, 2)
    if source:
        rec["source"] = source
    if v.HasField("trip"):
        if v.trip.route_id:
            rec["route_id"] = v.trip.route_id
        if v.trip.trip_id:
            rec["trip_id"] = v.trip.trip_id
    return rec, ""
