"""Offline map matching of a GPS file: ``itms mapmatch --network N --points P --out O``.

Input: CSV or JSON lines with the GPS contract's columns (``vehicle_id``,
``ts``, ``lat``, ``lon`` and optionally ``speed_kmh``, ``heading_deg``).
Rows that break the contract are counted and skipped (timestamps of any age
are accepted). Output (CSV, or JSON lines when ``--out`` ends in .jsonl), one
row per fix in vehicle and time order:

``vehicle_id, ts`` (epoch ms), ``lat, lon`` (input), ``segment_id`` (empty when
unmatched), ``offset_m`` (metres from the segment start), ``matched_lat,
matched_lon``, ``distance_m`` (input to matched point), ``chain`` (a new chain
starts after a gap or an impossible jump), ``path`` (``;``-separated segment ids
driven since the previous matched fix of the chain, both ends included).
"""

from __future__ import annotations

import csv
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from analytics.mapmatch.hmm import MapMatcher, MatchParams
from ingest.contracts import GpsFix
from ingest.errors import InvalidMessage
from ingest.records import read_records
from ingest.validation import FeedValidator
from roadnet import model as m
from roadnet.model import RoadNetwork

log = logging.getLogger(__name__)
OUTPUT_COLUMNS = [
    "vehicle_id", "ts", "lat", "lon", "segment_id", "offset_m", "matched_lat", "matched_lon",
    "distance_m", "chain", "path",
]  # fmt: skip


@dataclass
class OfflineReport:
    """Counts of one offline run."""

    fixes: int = 0
    invalid: int = 0
    duplicates: int = 0
    matched: int = 0
    vehicles: int = 0


def match_file(
    network: RoadNetwork, points: str | Path, out: str | Path, params: MatchParams | None = None
) -> OfflineReport:
    """Match every vehicle of ``points`` and write ``out`` (see module docstring)."""
    report = OfflineReport()
    validator = FeedValidator("gps", max_age_s=1e12, max_future_s=1e12)
    tracks: dict[str, dict[int, tuple]] = defaultdict(dict)
    for rec in read_records(points):
        raw = rec.encode() if isinstance(rec, str) else json.dumps(rec).encode()
        try:
            fix = cast(GpsFix, validator.validate(raw))
        except InvalidMessage as exc:
            report.invalid += 1
            if report.invalid <= 5:
                log.warning("skipping invalid row: %s", exc.reason)
            continue
        track = tracks[fix.vehicle_id]
        if fix.ts_ms in track:
            report.duplicates += 1
            continue
        track[fix.ts_ms] = (fix.lat, fix.lon, fix.speed_kmh, fix.heading_deg)
    matcher = MapMatcher(network, params)
    ids = network.segments[m.SEGMENT_ID].to_numpy()
    out = Path(out)
    as_jsonl = out.name.endswith((".jsonl", ".ndjson"))
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = None if as_jsonl else csv.writer(fh)
        if writer:
            writer.writerow(OUTPUT_COLUMNS)
        for vid in sorted(tracks):
            ts = np.array(sorted(tracks[vid]), np.int64)
            rows = np.array([tracks[vid][t] for t in ts], dtype=float)
            lat, lon, speed, heading = rows.T
            x, y = network.projector.to_metric(lon, lat)
            res = matcher.match_track(ts / 1000.0, x, y, heading, speed)
            mlon, mlat = network.projector.to_wgs84(res.x, res.y)
            report.vehicles += 1
            report.fixes += len(ts)
            for i in range(len(ts)):
                ok = res.segment[i] >= 0
                report.matched += int(ok)
                row = [
                    vid, int(ts[i]), lat[i], lon[i], ids[res.segment[i]] if ok else "",
                    round(float(res.offset_m[i]), 1) if ok else "",
                    round(float(mlat[i]), 7) if ok else "", round(float(mlon[i]), 7) if ok else "",
                    round(float(np.hypot(res.x[i] - x[i], res.y[i] - y[i])), 1) if ok else "",
                    int(res.chain[i]) if ok else "",
                    ";".join(ids[res.paths[i]]) if i in res.paths else "",
                ]  # fmt: skip
                if writer:
                    writer.writerow(row)
                else:
                    fh.write(json.dumps(dict(zip(OUTPUT_COLUMNS, row, strict=True))) + "\n")
    return report
