"""The detector inventory: where each loop detector or counting camera stands.

Inventory files are CSV with a header: ``detector_id`` (required), then either
``segment_id`` (+ optional ``position_m``, metres from the segment start) or
``lon``/``lat`` (WGS 84; the nearest segment within 30 m is taken), and
optionally ``lanes`` and ``kind`` (``loop``, ``camera``, ...). The simulator's
``truth/detectors.csv`` is such a file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
import shapely
from psycopg.rows import dict_row

from roadnet import model as m
from roadnet.model import RoadNetwork


@dataclass(frozen=True)
class DetectorSite:
    """One detector of the inventory (position on its segment, metres)."""

    detector_id: str
    segment_id: str | None
    position_m: float | None
    lanes: int | None
    kind: str
    lon: float | None
    lat: float | None


def read_inventory(path: str | Path, network: RoadNetwork) -> list[DetectorSite]:
    """Detectors of an inventory CSV, placed on ``network``; raises ``ValueError`` on bad rows."""
    sites = []
    with Path(path).open(encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            did = (row.get("detector_id") or "").strip()
            if not did:
                raise ValueError(f"{path}:{n}: detector_id is missing")
            seg = (row.get("segment_id") or "").strip() or None
            lon = float(row["lon"]) if row.get("lon") else None
            lat = float(row["lat"]) if row.get("lat") else None
            pos = float(row["position_m"]) if row.get("position_m") else None
            if seg is not None and seg not in set(network.segments[m.SEGMENT_ID]):
                raise ValueError(f"{path}:{n}: unknown segment {seg}")
            if seg is None:
                if lon is None or lat is None:
                    raise ValueError(f"{path}:{n}: give segment_id or lon and lat")
                x, y = network.projector.to_metric(np.array([lon]), np.array([lat]))
                idx, _ = network.nearest_segments(x, y, max_distance_m=30.0)
                if idx[0] < 0:
                    raise ValueError(f"{path}:{n}: no road within 30 m of {lon}, {lat}")
                seg = str(network.segments[m.SEGMENT_ID].iloc[idx[0]])
                pos = float(
                    shapely.line_locate_point(network.geom_m[idx[0]], shapely.points(x[0], y[0]))
                )
            lanes = int(row["lanes"]) if row.get("lanes") else None
            sites.append(DetectorSite(did, seg, pos, lanes, row.get("kind") or "loop", lon, lat))
    return sites


def sync_detectors(
    conn: psycopg.Connection, sites: list[DetectorSite], network: RoadNetwork
) -> int:
    """Upsert the inventory (status is kept: operators own it)."""
    ids = network.segments[m.SEGMENT_ID].to_numpy()
    index = {s: i for i, s in enumerate(ids)}
    lanes_of = network.segments[m.LANES].to_numpy()
    for site in sites:
        lon, lat = site.lon, site.lat
        if (lon is None or lat is None) and site.segment_id in index:
            i = index[site.segment_id]
            geom = network.segments.geometry.iloc[i]
            frac = (site.position_m or 0.0) / float(network.segments[m.LENGTH].iloc[i])
            p = shapely.line_interpolate_point(geom, min(max(frac, 0.0), 1.0), normalized=True)
            lon, lat = p.x, p.y
        lanes = site.lanes or (
            int(lanes_of[index[site.segment_id]]) if site.segment_id in index else None
        )
        conn.execute(
            "INSERT INTO detector (detector_id, segment_id, position_m, lanes, kind, geom)"
            " VALUES (%s, %s, %s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))"
            " ON CONFLICT (detector_id) DO UPDATE SET segment_id = EXCLUDED.segment_id,"
            " position_m = EXCLUDED.position_m, lanes = EXCLUDED.lanes, kind = EXCLUDED.kind,"
            " geom = EXCLUDED.geom, updated_at = now()",
            (site.detector_id, site.segment_id, site.position_m, lanes, site.kind, lon, lat),
        )
    return len(sites)


class DetectorNotFound(LookupError):
    """No detector with that id."""


_DETECTOR_COLS = (
    "detector_id, segment_id, kind, lanes, status, status_note, status_changed_by,"
    " status_changed_at, updated_at"
)


def get_detector(conn: psycopg.Connection, detector_id: str) -> dict | None:
    """One detector's inventory row and service status, or ``None``."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {_DETECTOR_COLS} FROM detector WHERE detector_id = %s", (detector_id,)
        ).fetchone()


def set_detector_status(
    conn: psycopg.Connection, detector_id: str, *, status: str, note: str | None, actor: str
) -> tuple[dict, dict]:
    """Mark a detector ``failed`` or back ``in_service`` (the state builder then ignores or
    uses its readings); returns (before, after); raises :class:`DetectorNotFound`."""
    with conn.cursor(row_factory=dict_row) as cur:
        before = cur.execute(
            f"SELECT {_DETECTOR_COLS} FROM detector WHERE detector_id = %s FOR UPDATE",
            (detector_id,),
        ).fetchone()
        if before is None:
            raise DetectorNotFound(f"no detector {detector_id!r}")
        after = cur.execute(
            "UPDATE detector SET status = %s, status_note = %s, status_changed_by = %s,"
            " status_changed_at = now(), updated_at = now() WHERE detector_id = %s"
            f" RETURNING {_DETECTOR_COLS}",
            (status, note, actor, detector_id),
        ).fetchone()
    assert after is not None  # the row is locked above
    return before, after
