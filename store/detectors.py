"""The detector inventory: where each loop detector or counting camera stands.

Inventory files are CSV with a header: ``detector_id`` (required), then either
``segment_id`` (+ optional ``position_m``, metres from the segment start) or
``lon``/``lat`` (WGS 84; the nearest segment within 30 m is taken). With lon/lat, give
the direction of travel the detector measures, ``bearing_deg`` (degrees clockwise from
north) or ``direction`` (``N``, ``NE``, … ``NW``, ``NB``, ``SB``, …): a two-way road's two
directions share one centre line, and only the direction tells them apart (segments within
45° of it are considered; without it, a detector equally close to both directions is
placed on one of them with a warning). Optionally ``lanes``, ``kind`` (``loop``,
``camera``, ...) and ``station_id``: loops reported per lane under their own ids (e.g.
``<station>__l<k>``) that share a ``station_id`` form one station (occupancy averaged over
its lanes, volumes summed); without it each detector is its own station. The simulator's
``truth/detectors.csv`` is such a file.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
import shapely
from psycopg.rows import dict_row

from roadnet import model as m
from roadnet.model import RoadNetwork
from roadnet.placement import direction_deg, place_points

log = logging.getLogger(__name__)

MAX_DISTANCE_M = 30.0  # how far from a road a lon/lat may be


@dataclass(frozen=True)
class DetectorSite:
    """One detector of the inventory (position on its segment, metres); ``station_id``
    ``None``: the detector is a station of its own."""

    detector_id: str
    segment_id: str | None
    position_m: float | None
    lanes: int | None
    kind: str
    lon: float | None
    lat: float | None
    station_id: str | None = None


def _number(row: dict[str, str], key: str, where: str) -> float | None:
    text = (row.get(key) or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{where}: {key} {text!r} is not a number") from None


def _bearing(row: dict[str, str], where: str) -> float:
    """The row's direction of travel in degrees, NaN when not given."""
    bearing = _number(row, "bearing_deg", where)
    if bearing is not None:
        return bearing % 360.0
    text = (row.get("direction") or "").strip()
    if not text:
        return float("nan")
    try:
        return direction_deg(text)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def read_inventory(
    path: str | Path, network: RoadNetwork, *, warnings: list[str] | None = None
) -> list[DetectorSite]:
    """Detectors of an inventory CSV, placed on ``network``; raises ``ValueError`` on bad rows
    and logs a warning for each detector placed on one of two equally close directions (also
    appended to ``warnings`` when given, for a command to show)."""
    known = set(network.segments[m.SEGMENT_ID])
    rows: list[tuple[str, dict[str, str]]] = []
    with Path(path).open(encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            rows.append((f"{path}:{n}", row))
    sites: list[DetectorSite | None] = []
    by_position: list[tuple[int, str, float, float, float]] = []  # (site, where, lon, lat, °)
    for where, row in rows:
        did = (row.get("detector_id") or "").strip()
        if not did:
            raise ValueError(f"{where}: detector_id is missing")
        seg = (row.get("segment_id") or "").strip() or None
        lon, lat = _number(row, "lon", where), _number(row, "lat", where)
        pos = _number(row, "position_m", where)
        lanes = _number(row, "lanes", where)
        station = (row.get("station_id") or "").strip() or None
        if seg is not None and seg not in known:
            raise ValueError(f"{where}: unknown segment {seg}")
        if seg is None:
            if lon is None or lat is None:
                raise ValueError(f"{where}: give segment_id or lon and lat")
            by_position.append((len(sites), where, lon, lat, _bearing(row, where)))
            sites.append(None)
            continue
        sites.append(DetectorSite(did, seg, pos, None if lanes is None else int(lanes),
                                  row.get("kind") or "loop", lon, lat, station))  # fmt: skip
    if by_position:
        lons = np.array([b[2] for b in by_position], float)
        lats = np.array([b[3] for b in by_position], float)
        bearing = np.array([b[4] for b in by_position], float)
        placed = place_points(network, lons, lats, bearing, max_distance_m=MAX_DISTANCE_M)
        ids = network.segments[m.SEGMENT_ID].to_numpy()
        for j, (k, where, *_) in enumerate(by_position):
            row = rows[k][1]
            if placed.segment[j] < 0:
                facing = "" if np.isnan(bearing[j]) else f" running {bearing[j]:.0f}° (±45°)"
                raise ValueError(f"{where}: no road{facing} within {MAX_DISTANCE_M:.0f} m"
                                 f" of {lons[j]}, {lats[j]}")  # fmt: skip
            seg = str(ids[placed.segment[j]])
            if placed.twin[j] >= 0:
                msg = (f"{where}: detector {row['detector_id'].strip()} is as close to {seg} as"
                       f" to {ids[placed.twin[j]]} (the two directions of one road); placed on"
                       f" {seg}: give bearing_deg or direction to choose")  # fmt: skip
                log.warning("%s", msg)
                if warnings is not None:
                    warnings.append(msg)
            lanes = _number(row, "lanes", where)
            sites[k] = DetectorSite(
                row["detector_id"].strip(), seg, float(placed.offset_m[j]),
                None if lanes is None else int(lanes), row.get("kind") or "loop",
                float(lons[j]), float(lats[j]), (row.get("station_id") or "").strip() or None,
            )  # fmt: skip
    out = [s for s in sites if s is not None]
    _check_stations(out, path)
    return out


def _check_stations(sites: list[DetectorSite], path: str | Path) -> None:
    """Every detector of one station must be on one segment, and a detector that is a station
    of its own must not share its id with another station (the two would merge: a station's
    total reported beside its lanes would count its traffic twice)."""
    seen: dict[str, DetectorSite] = {}
    for site in sites:
        if site.station_id is None:
            continue
        other = seen.setdefault(site.station_id, site)
        if other.segment_id != site.segment_id:
            raise ValueError(
                f"{path}: station {site.station_id} has detectors on two segments:"
                f" {other.detector_id} on {other.segment_id}, {site.detector_id} on"
                f" {site.segment_id}"
            )
    for site in sites:
        lane = seen.get(site.detector_id)
        if site.station_id is None and lane is not None:
            raise ValueError(
                f"{path}: detector {site.detector_id} has no station_id but is the station of"
                f" {lane.detector_id}: give it station_id {site.detector_id} if it is one of"
                " that station's lanes, else another id"
            )


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
            "INSERT INTO detector (detector_id, segment_id, position_m, lanes, kind, station_id,"
            " geom) VALUES (%s, %s, %s, %s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))"
            " ON CONFLICT (detector_id) DO UPDATE SET segment_id = EXCLUDED.segment_id,"
            " position_m = EXCLUDED.position_m, lanes = EXCLUDED.lanes, kind = EXCLUDED.kind,"
            " station_id = EXCLUDED.station_id, geom = EXCLUDED.geom, updated_at = now()",
            (site.detector_id, site.segment_id, site.position_m, lanes, site.kind,
             site.station_id, lon, lat),
        )  # fmt: skip
    return len(sites)


class DetectorNotFound(LookupError):
    """No detector with that id."""


_DETECTOR_COLS = (
    "detector_id, segment_id, station_id, kind, lanes, status, status_note, status_changed_by,"
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
