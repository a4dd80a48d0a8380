"""Ground-truth files written beside every simulation run (folder ``truth/``).

=========================  ===============================================================
``segment_speeds.csv``     minute (RFC 3339 UTC, start of minute), segment_id,
                           speed_kmh (length / mean travel time in the minute),
                           travel_time_s, flow_veh_h, queue_m (incident queue on it)
``incidents.csv``          incident_id, kind, segment_id, road_name, lon, lat,
                           start, end (RFC 3339 UTC), lanes_blocked, max_queue_m
``traversals.csv``         vehicle_id, vehicle_type, segment_id, entry_ts, exit_ts
                           (epoch ms), speed_kmh — every complete pass over a segment
``fixes.csv.gz``           vehicle_id, ts (epoch ms), lon, lat (true position),
                           segment_id, offset_m, speed_kmh — one row per generated fix
``detectors.csv``          detector_id, segment_id, position_m, lon, lat, fault, fault_from
``run.json``               the scenario, start time, counts and delivery statistics
=========================  ===============================================================
"""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def iso(ts_ms: float) -> str:
    """RFC 3339 UTC text of epoch milliseconds."""
    return datetime.fromtimestamp(ts_ms / 1000.0, tz=UTC).isoformat().replace("+00:00", "Z")


class TruthWriter:
    """Opens the truth CSV files of one run and appends rows as the run goes."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._files: list[io.TextIOBase] = []
        self.speeds = self._csv(
            "segment_speeds.csv",
            ["minute", "segment_id", "speed_kmh", "travel_time_s", "flow_veh_h", "queue_m"],
        )
        self.traversals = self._csv(
            "traversals.csv",
            ["vehicle_id", "vehicle_type", "segment_id", "entry_ts", "exit_ts", "speed_kmh"],
        )
        self.fixes = self._csv(
            "fixes.csv.gz",
            ["vehicle_id", "ts", "lon", "lat", "segment_id", "offset_m", "speed_kmh"],
        )

    def _csv(self, name: str, header: list[str]) -> Any:  # a csv writer
        path = self.directory / name
        fh = (
            io.TextIOWrapper(gzip.open(path, "wb", compresslevel=3), encoding="utf-8", newline="")  # noqa: SIM115
            if name.endswith(".gz")
            else path.open("w", encoding="utf-8", newline="")
        )
        self._files.append(fh)
        writer = csv.writer(fh)
        writer.writerow(header)
        return writer

    def write_table(self, name: str, header: list[str], rows: list[list]) -> None:
        """Write a whole small table at once."""
        with (self.directory / name).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)

    def close(self) -> None:
        for fh in self._files:
            fh.close()
