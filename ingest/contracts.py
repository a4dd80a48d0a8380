"""Feed contracts: the JSON messages that enter the system, version 1.

Each message is one JSON object (UTF-8), or a batch of them: a JSON array (see
:mod:`ingest.validation` and :mod:`ingest.batching`). Coordinates are WGS 84 (EPSG:4326)
decimal degrees, speeds km/h, times RFC 3339 with a UTC offset or integer
epoch milliseconds. The optional ``v`` field names the contract version
(default 1). Unknown fields are ignored by default and rejected when
``ITMS_UNKNOWN_FIELDS=reject``. The README documents every field.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, model_validator

#: Epoch milliseconds below this (2001-09-09) are almost surely epoch *seconds*.
_MIN_PLAUSIBLE_EPOCH_MS = 1_000_000_000_000
#: Epoch milliseconds up to this (year 5138) take the fast path of :func:`_parse_ts`.
_MAX_FAST_EPOCH_MS = 100_000_000_000_000
_MAX_ID_LEN = 64
_MAX_TRIP_LEN = 128


def _parse_ts(value: Any) -> int:
    """RFC 3339 string (offset required) or integer epoch milliseconds → epoch ms (UTC)."""
    if type(value) is int and _MIN_PLAUSIBLE_EPOCH_MS <= value < _MAX_FAST_EPOCH_MS:
        return value  # the common case, first
    if isinstance(value, bool):
        raise ValueError("timestamp must be an RFC 3339 string or integer epoch milliseconds")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("timestamp must be finite")
        if abs(value) < _MIN_PLAUSIBLE_EPOCH_MS:
            raise ValueError(
                f"epoch timestamp {value} looks like seconds; epoch milliseconds expected"
            )
        try:
            return _ms(datetime.fromtimestamp(value / 1000.0, tz=UTC))
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError(f"epoch milliseconds {value} out of range") from exc
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"timestamp {value!r} is not RFC 3339") from exc
        if parsed.tzinfo is None:
            raise ValueError(f"timestamp {value!r} has no UTC offset (add 'Z' or '+07:00')")
        return _ms(parsed)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("timestamp has no time zone")
        return _ms(value)
    raise ValueError("timestamp must be an RFC 3339 string or integer epoch milliseconds")


def _ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


#: A message time, kept as integer epoch milliseconds (UTC); the JSON field is ``ts``.
TimestampMs = Annotated[int, PlainValidator(_parse_ts, json_schema_input_type=int | str)]
Identifier = Annotated[str, Field(min_length=1, max_length=_MAX_ID_LEN, pattern=r"^[^\x00-\x1f]+$")]


class VehicleType(StrEnum):
    """Vehicle classes a probe may report."""

    MOTORBIKE = "motorbike"
    CAR = "car"
    TAXI = "taxi"
    BUS = "bus"
    TRUCK = "truck"
    VAN = "van"
    BICYCLE = "bicycle"
    EMERGENCY = "emergency"
    OTHER = "other"


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True)

    v: Literal[1] = 1

    @property
    def ts(self) -> datetime:
        """The message time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.ts_ms / 1000.0, tz=UTC)  # type: ignore[attr-defined]


class GpsFix(_Message):
    """One GPS probe fix (contract ``gps-fix`` v1), keyed by ``vehicle_id``."""

    vehicle_id: Identifier
    ts_ms: TimestampMs = Field(
        validation_alias="ts", description="Time of the fix (JSON ``ts``), RFC 3339 or epoch ms."
    )
    lat: float = Field(ge=-90.0, le=90.0, description="Latitude, WGS 84 degrees.")
    lon: float = Field(ge=-180.0, le=180.0, description="Longitude, WGS 84 degrees.")
    speed_kmh: float | None = Field(default=None, ge=0.0, le=250.0, description="GNSS speed, km/h.")
    heading_deg: float | None = Field(
        default=None, ge=0.0, le=360.0, description="Course over ground, degrees from north."
    )
    accuracy_m: float | None = Field(
        default=None, ge=0.0, le=5000.0, description="Horizontal accuracy, metres."
    )
    vehicle_type: VehicleType = VehicleType.OTHER
    source: str | None = Field(default=None, max_length=_MAX_ID_LEN, description="Feed/provider.")
    route_id: str | None = Field(
        default=None, max_length=_MAX_TRIP_LEN, description="Transit route (GTFS route_id)."
    )
    trip_id: str | None = Field(
        default=None, max_length=_MAX_TRIP_LEN, description="Transit trip (GTFS trip_id)."
    )

    @model_validator(mode="after")
    def _not_null_island(self) -> GpsFix:
        # an "after" model validator: ~10x cheaper per message than a field validator
        # reading ``info.data``
        if self.lat == 0.0 and self.lon == 0.0:
            raise ValueError("position 0,0 means the tracker had no GPS fix")
        return self


class DetectorReading(_Message):
    """One detector interval (contract ``detector-reading`` v1), keyed by ``detector_id``."""

    detector_id: Identifier
    ts_ms: TimestampMs = Field(
        validation_alias="ts",
        description="End of the counting interval (JSON ``ts``), RFC 3339 or epoch ms.",
    )
    interval_s: int = Field(ge=1, le=3600, description="Length of the interval, seconds.")
    volume: int = Field(ge=0, description="Vehicles counted in the interval.")
    occupancy: float = Field(ge=0.0, le=1.0, description="Share of the interval occupied, 0–1.")
    speed_kmh: float | None = Field(default=None, ge=0.0, le=250.0, description="Mean speed.")
    lane: int | None = Field(default=None, ge=0, le=16, description="Lane number; none = all.")

    @model_validator(mode="after")
    def _plausible_volume(self) -> DetectorReading:
        # 3 vehicles per second per lane is beyond any real lane capacity (~0.7/s).
        if self.volume > 3 * self.interval_s * 8:
            raise ValueError(f"volume {self.volume} is impossible in {self.interval_s} s")
        return self


class _StrictGpsFix(GpsFix):
    model_config = ConfigDict(extra="forbid")


class _StrictDetectorReading(DetectorReading):
    model_config = ConfigDict(extra="forbid")


def contract_model(kind: Literal["gps", "detectors"], *, strict: bool) -> type[_Message]:
    """The pydantic model for a feed kind; ``strict`` rejects unknown fields."""
    if kind == "gps":
        return _StrictGpsFix if strict else GpsFix
    return _StrictDetectorReading if strict else DetectorReading
