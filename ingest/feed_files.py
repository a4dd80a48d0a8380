"""Recorded feed files of every kind ITMS reads, as contract records.

- CSV and JSON lines in the contract's columns (:func:`ingest.records.read_records`), or CSV
  in a fleet tracker's own columns with a :class:`~ingest.column_map.ColumnMap`;
- GTFS-Realtime ``VehiclePositions`` snapshots, ``.pb`` or ``.pb.gz``
  (:mod:`ingest.gtfs_realtime`).

:func:`open_feed` checks what it can before a record is read (a mapped column the file does
not have, a map on a file it cannot apply to) and raises ``ValueError`` naming it; a
truncated GTFS-Realtime file raises :class:`~ingest.errors.FeedDecodeError` with the byte
offset. Records that break the contract are not judged here: they go on to the workers,
which dead-letter them with their reason.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.column_map import ColumnMap
from ingest.gtfs_realtime import DecodedFeed, decode_vehicle_positions
from ingest.records import open_text, read_records


def is_gtfs_realtime(path: str | Path) -> bool:
    """Whether ``path`` names a GTFS-Realtime file (``.pb``, ``.pb.gz``)."""
    return Path(path).name.lower().removesuffix(".gz").endswith(".pb")


@dataclass
class FeedFile:
    """A feed file's records (read lazily for CSV/JSON lines) and what was read so far."""

    path: Path
    records: Iterator[dict[str, Any] | str]
    decoded: DecodedFeed | None = None  # GTFS-Realtime: entities converted and skipped
    counts: dict[str, int] = field(default_factory=lambda: {"records": 0, "unparsed": 0})

    def summary(self) -> str:
        """What the file gave, for people (complete once ``records`` is exhausted)."""
        if self.decoded is not None:
            return f"{self.path.name}: {self.decoded.summary()}"
        bad = self.counts["unparsed"]
        return (f"{self.path.name}: {self.counts['records']} records"
                + (f", {bad} lines that do not parse (passed on: the workers dead-letter"
                   " them)" if bad else ""))  # fmt: skip


def open_feed(
    path: str | Path, *, kind: str = "gps", columns: ColumnMap | None = None,
    vehicle_type: str | None = None,
) -> FeedFile:  # fmt: skip
    """The records of a recorded feed file (see the module docstring). ``vehicle_type``:
    the type of vehicles whose records name none (GTFS-Realtime: ``bus`` unless told)."""
    path = Path(path)
    cmap = columns or ColumnMap()
    if is_gtfs_realtime(path):
        if kind != "gps":
            raise ValueError(f"{path}: a GTFS-Realtime file holds vehicle positions (gps)")
        if cmap.columns:
            raise ValueError(f"{path}: --map applies to CSV files, not GTFS-Realtime")
        decoded = decode_vehicle_positions(path.read_bytes(), vehicle_type=vehicle_type or "bus")
        return FeedFile(path, iter(decoded.records), decoded)
    if cmap.columns:
        if not path.name.lower().removesuffix(".gz").endswith(".csv"):
            raise ValueError(f"{path}: --map applies to CSV files")
        with open_text(path) as fh:
            header = next(csv.reader(fh), [])
        missing = cmap.missing(header)
        if missing:
            raise ValueError(f"{path}: no column {', '.join(map(repr, missing))} (the file"
                             f" has {', '.join(h.strip() for h in header)})")  # fmt: skip
    records: Iterable[dict[str, Any] | str] = read_records(path)
    if not cmap.identity:
        records = cmap.records(records)
    if vehicle_type:
        records = ({**r, "vehicle_type": r.get("vehicle_type", vehicle_type)}
                   if isinstance(r, dict) else r for r in records)  # fmt: skip
    counts = {"records": 0, "unparsed": 0}
    return FeedFile(path, _counted(records, counts), counts=counts)


def _counted(records: Iterable[dict[str, Any] | str], counts: dict[str, int]
             ) -> Iterator[dict[str, Any] | str]:  # fmt: skip
    for r in records:
        counts["records" if isinstance(r, dict) else "unparsed"] += 1
        yield r
