"""Column mapping for recorded fleet files whose columns are not the contract's.

Commercial fleet trackers export CSV with their own column names, epoch seconds and local
times. A :class:`ColumnMap` says which column holds which contract field
(``vehicle_id=VehID,lat=Latitude,lon=Longitude,ts=GPSTime``), what unit a numeric time is in
(``s`` or ``ms``) and in which time zone a time without a UTC offset was written
(``Asia/Ho_Chi_Minh``). Mapped values are converted as contract columns are
(:func:`ingest.records.convert_value`); a value that does not convert is passed on unchanged,
for the workers to dead-letter with its reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingest.records import convert_value

#: The contract fields a column may be mapped to, per feed kind.
FIELDS = {
    "gps": ("vehicle_id", "ts", "lat", "lon", "speed_kmh", "heading_deg", "accuracy_m",
            "vehicle_type", "source", "route_id", "trip_id"),
    "detectors": ("detector_id", "ts", "interval_s", "volume", "occupancy", "speed_kmh",
                  "lane"),
}  # fmt: skip
TS_UNITS = ("s", "ms")


@dataclass(frozen=True)
class ColumnMap:
    """Contract field → the file's column; the unit of numeric times; the time zone of
    times written without an offset."""

    columns: dict[str, str] = field(default_factory=dict)
    ts_unit: str = "ms"
    tz: str | None = None

    @classmethod
    def parse(
        cls, text: str | None, *, kind: str = "gps", ts_unit: str | None = None,
        tz: str | None = None,
    ) -> ColumnMap:  # fmt: skip
        """From ``field=Column,field=Column`` (None: no renaming); raises ``ValueError``
        naming what is wrong."""
        columns: dict[str, str] = {}
        for part in (text or "").split(","):
            if not part.strip():
                continue
            name, eq, column = part.partition("=")
            name, column = name.strip(), column.strip()
            if not eq or not name or not column:
                raise ValueError(f"--map: {part.strip()!r} is not field=Column")
            if name not in FIELDS[kind]:
                raise ValueError(f"--map: {name!r} is no {kind} contract field (one of"
                                 f" {', '.join(FIELDS[kind])})")  # fmt: skip
            if name in columns:
                raise ValueError(f"--map: {name!r} is mapped twice")
            columns[name] = column
        if ts_unit is not None and ts_unit not in TS_UNITS:
            raise ValueError(f"--ts-unit: {ts_unit!r} is not one of {', '.join(TS_UNITS)}")
        if tz is not None:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"--tz: {tz!r} is no IANA time zone (e.g."
                                 " Asia/Ho_Chi_Minh)") from None  # fmt: skip
        return cls(columns, ts_unit or "ms", tz)

    @property
    def identity(self) -> bool:
        """Nothing to do: contract columns, epoch ms, offsets written."""
        return not self.columns and self.ts_unit == "ms" and self.tz is None

    def missing(self, header: Iterable[str]) -> list[str]:
        """The mapped columns a file's ``header`` does not have."""
        have = {h.strip() for h in header}
        return [c for c in self.columns.values() if c not in have]

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record with mapped columns renamed to their fields (other columns kept) and
        its time converted to epoch ms where the unit or time zone says how."""
        out = dict(record)
        for name, column in self.columns.items():
            if column in out:
                value = out.pop(column)
                out[name] = convert_value(name, value) if isinstance(value, str) else value
        if "ts" in out:
            out["ts"] = self._time(out["ts"])
        return out

    def _time(self, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            text = value.strip()
            try:
                value = float(text) if text.replace(".", "", 1).lstrip("-").isdigit() else text
            except ValueError:
                return value
        if isinstance(value, int | float):
            if not math.isfinite(value):
                return value
            return round(value * 1000) if self.ts_unit == "s" else round(value)
        if self.tz is None:
            return value
        try:
            t = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if t.tzinfo is None:
            t = t.replace(tzinfo=ZoneInfo(self.tz))
        return round(t.timestamp() * 1000)

    def records(self, records: Iterable[dict[str, Any] | str]) -> Iterator[dict[str, Any] | str]:
        """Every record mapped (raw lines that did not parse are passed on as they are)."""
        for r in records:
            yield self.apply(r) if isinstance(r, dict) else r
