"""The road network with its current state, held in memory and rendered as GeoJSON.

One instance per API process (``app.state.network``). The static network (ids, names,
geometry) is read every ``static_s`` seconds; the current state (``segment_current``) at most
every ``ITMS_STATE_CACHE_S`` seconds, whatever the request rate. Rendered pages (GeoJSON
bytes and their gzip) are cached per state version and filter, so serving the full network is a
dictionary lookup. Geometry is GeoJSON in WGS 84 (lon, lat); speeds km/h; times seconds.
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from psycopg_pool import ConnectionPool

from api.http import dumps, encode_cursor, etag_of, gzip_bytes
from api.privacy import publishable
from roadnet.levels import LEVEL_NAMES
from store.network_queries import (
    STATE_COLUMNS,
    current_state_rows,
    current_state_version,
    segment_geometries,
)

COLUMNS = STATE_COLUMNS
_COL = {c: i for i, c in enumerate(COLUMNS)}
NO_DATA = "no_data"


@dataclass(frozen=True, slots=True)
class Page:
    """One rendered GeoJSON page."""

    body: bytes
    etag: str
    count: int
    next_cursor: str | None
    _gz: list[bytes] = field(default_factory=list)

    @property
    def gzipped(self) -> bytes:
        """The body gzip-compressed (computed once)."""
        if not self._gz:
            self._gz.append(gzip_bytes(self.body))
        return self._gz[0]


@dataclass(slots=True)
class _Static:
    ids: list[str]
    index: dict[str, int]
    road_class: np.ndarray
    bounds: np.ndarray  # (n, 4): min_lon, min_lat, max_lon, max_lat
    info: list[dict[str, Any]]  # name, road_class, lanes, length_m, free_flow_kmh
    prefix: list[str]  # '{"type":"Feature","id":..,"geometry":..,"properties":{...,'
    geometry: list[str]
    loaded: float


@dataclass(slots=True)
class _State:
    rows: dict[str, tuple]
    version: str
    last_modified: datetime | None
    loaded: float


def _num(v: float | None, nd: int = 2) -> str:
    return "null" if v is None else repr(round(float(v), nd))


Forecasts = tuple[str, dict[str, dict[str, Any]]]
"""(forecast snapshot version, stored forecast rows of one horizon by segment id)."""


def _forecast_json(r: dict[str, Any] | None, t: Any) -> str:
    """``,"forecast":{…}`` of a feature (null without one): the forecast's horizon, target
    time, median speed and band (km/h), travel time (s), congestion level and basis."""
    if r is None:
        return ',"forecast":null'
    level = r["congestion_level"]
    cong = "null" if level is None else f'"{LEVEL_NAMES[level]}"'
    return (f',"forecast":{{"horizon_min":{r["horizon_min"]},"issued_at":{t(r["issued_at"])},'
            f'"target_at":{t(r["target_at"])},"speed_kmh":{_num(r["speed_kmh"])},'
            f'"p10_kmh":{_num(r["p10_kmh"])},"p90_kmh":{_num(r["p90_kmh"])},'
            f'"travel_time_s":{_num(r["travel_time_s"], 1)},'
            f'"congestion_level":{"null" if level is None else level},"congestion":{cong},'
            f'"basis":"{r["basis"]}"}}')


class NetworkView:
    """Current network state for the public API (thread-safe)."""

    def __init__(
        self, pool: ConnectionPool, *, min_vehicles: int, state_s: float, static_s: float = 300.0
    ) -> None:
        self.pool = pool
        self.min_vehicles = min_vehicles
        self.state_s = state_s
        self.static_s = static_s
        self._lock = threading.Lock()  # guards the page cache
        self._refresh = threading.Lock()  # one refresh at a time
        self._static: _Static | None = None
        self._state: _State | None = None
        self._pages: OrderedDict[tuple, Page] = OrderedDict()
        self._features: dict[tuple[str, str], tuple[bytes, str, datetime | None]] = {}

    # -- loading ---------------------------------------------------------------------------
    def _load_static(self) -> _Static:
        with self.pool.connection() as conn:
            rows = segment_geometries(conn)
        ids = [r[0] for r in rows]
        info, prefix, geometry = [], [], []
        for sid, name, rc, lanes, length, ff, geom, *_ in rows:
            info.append({"name": name, "road_class": rc, "lanes": lanes,
                         "length_m": round(float(length), 1),
                         "free_flow_kmh": float(ff)})  # fmt: skip
            props = json.dumps(
                {"segment_id": sid, "name": name, "road_class": rc, "lanes": lanes,
                 "length_m": round(float(length), 1)}, ensure_ascii=False, separators=(",", ":"),
            )  # fmt: skip
            prefix.append(
                f'{{"type":"Feature","id":{json.dumps(sid)},"geometry":{geom},'
                f'"properties":{props[:-1]},'
            )
            geometry.append(geom)
        bounds = np.array([r[7:11] for r in rows], dtype=float).reshape(-1, 4)
        return _Static(
            ids, {s: i for i, s in enumerate(ids)}, np.array([r[2] for r in rows], dtype=object),
            bounds, info, prefix, geometry, time.monotonic(),
        )  # fmt: skip

    def _load_state(self, old: _State | None) -> _State:
        """The current state; ``old`` again (re-stamped) when nothing changed since."""
        with self.pool.connection() as conn:
            # cheap check first (index on updated_at): re-reading 10,000 rows is not
            newest, count = current_state_version(conn)
            version = etag_of(count, newest)
            if old is not None and old.version == version:
                return _State(old.rows, version, newest, time.monotonic())
            rows = current_state_rows(conn)
        updated = max((r[_COL["updated_at"]] for r in rows), default=None)
        version = etag_of(len(rows), updated)
        return _State({r[0]: r for r in rows}, version, updated, time.monotonic())

    def _fresh(self) -> tuple[_Static, _State]:
        """The snapshot, refreshed when older than allowed. Only the first load makes callers
        wait; later one thread refreshes while the others keep serving the previous snapshot."""
        static, state = self._static, self._state
        now = time.monotonic()
        if (static is not None and state is not None and now - static.loaded <= self.static_s
                and now - state.loaded < self.state_s):  # fmt: skip
            return static, state
        if not self._refresh.acquire(blocking=static is None or state is None):
            return static, state  # type: ignore[return-value]
        try:
            now = time.monotonic()
            if self._static is None or now - self._static.loaded > self.static_s:
                self._static = self._load_static()
                with self._lock:
                    self._pages.clear()
            if self._state is None or now - self._state.loaded >= self.state_s:
                new = self._load_state(self._state)
                if self._state is None or new.version != self._state.version:
                    with self._lock:
                        self._pages.clear()
                        self._features.clear()
                self._state = new
            return self._static, self._state
        finally:
            self._refresh.release()

    # -- reading ---------------------------------------------------------------------------
    def is_stale(self) -> bool:
        """True when the next read would reload (async callers refresh in a thread first)."""
        static, state = self._static, self._state
        now = time.monotonic()
        return (static is None or state is None or now - static.loaded > self.static_s
                or now - state.loaded >= self.state_s)  # fmt: skip

    def refresh(self) -> None:
        """Reload what is stale (blocking: call it from a worker thread)."""
        self._fresh()

    def cached_page(
        self,
        *,
        bbox: tuple[float, float, float, float] | None,
        road_classes: list[str] | None,
        after: str | None,
        limit: int,
        forecast: Forecasts | None = None,
    ) -> tuple[Page, datetime | None] | None:
        """The page when it is rendered already for the current snapshot, else ``None``
        (never touches the database: safe on the event loop)."""
        state = self._state
        if state is None:
            return None
        key = (state.version, bbox, tuple(road_classes or ()), after, limit,
               forecast[0] if forecast else None)  # fmt: skip
        with self._lock:
            hit = self._pages.get(key)
        return None if hit is None else (hit, state.last_modified)

    def version(self) -> tuple[str, datetime | None]:
        """(state version, newest ``updated_at``) of the current snapshot."""
        _, state = self._fresh()
        return state.version, state.last_modified

    def has(self, segment_id: str) -> bool:
        """True when the segment exists."""
        static, _ = self._fresh()
        return segment_id in static.index

    def status(self, segment_id: str) -> dict[str, Any] | None:
        """Public status of one segment (privacy threshold applied), or ``None``."""
        static, state = self._fresh()
        i = static.index.get(segment_id)
        if i is None:
            return None
        return {"segment_id": segment_id, **static.info[i],
                **self._dynamic(state.rows.get(segment_id), static.info[i])}  # fmt: skip

    def status_of_row(self, row: tuple) -> dict[str, Any] | None:
        """Public status from a ``segment_current`` row in :data:`COLUMNS` order."""
        static, _ = self._fresh()
        i = static.index.get(row[0])
        if i is None:
            return None
        return {"segment_id": row[0], **static.info[i], **self._dynamic(row, static.info[i])}

    def feature(self, segment_id: str) -> tuple[bytes, str, datetime | None] | None:
        """(GeoJSON Feature bytes, ETag, Last-Modified) of one segment, cached per snapshot;
        ``None`` for an unknown segment."""
        static, state = self._fresh()
        key = (state.version, segment_id)
        with self._lock:
            hit = self._features.get(key)
        if hit is not None:
            return hit
        status = self.status(segment_id)
        if status is None:
            return None
        i = static.index[segment_id]
        body = (f'{{"type":"Feature","id":{json.dumps(segment_id)},'
                f'"geometry":{static.geometry[i]},"properties":').encode() + dumps(status) + b"}"
        hit = (body, etag_of(state.version, segment_id), state.last_modified)
        with self._lock:
            if len(self._features) > 50_000:
                self._features.clear()
            self._features[key] = hit
        return hit

    def geometry(self, segment_id: str) -> dict[str, Any] | None:
        """GeoJSON geometry of a segment (WGS 84)."""
        static, _ = self._fresh()
        i = static.index.get(segment_id)
        return None if i is None else json.loads(static.geometry[i])

    def ids_after(self, after: str | None, limit: int) -> tuple[list[str], bool]:
        """Up to ``limit`` segment ids after ``after`` in id order, and whether more remain."""
        static, _ = self._fresh()
        start = 0 if after is None else bisect.bisect_right(static.ids, after)
        ids = static.ids[start : start + limit + 1]
        return ids[:limit], len(ids) > limit

    def statuses(self, segment_ids: list[str]) -> list[dict[str, Any] | None]:
        """:meth:`status` of several segments from one snapshot."""
        return [self.status(s) for s in segment_ids]

    def _dynamic(self, row: tuple | None, info: dict[str, Any]) -> dict[str, Any]:
        ff = info["free_flow_kmh"]
        out: dict[str, Any] = {
            "free_flow_kmh": ff, "free_flow_travel_time_s": round(info["length_m"] / ff * 3.6, 1),
            "speed_kmh": None, "travel_time_s": None, "congestion_level": None,
            "congestion": None, "jam_factor": None, "confidence": None, "source": NO_DATA,
            "n_vehicles": 0, "minute": None, "updated_at": None,
        }  # fmt: skip
        if row is None:
            return out
        if row[_COL["free_flow_kmh"]]:
            out["free_flow_kmh"] = round(float(row[_COL["free_flow_kmh"]]), 2)
            out["free_flow_travel_time_s"] = round(info["length_m"] / out["free_flow_kmh"] * 3.6, 1)
        out["minute"] = row[_COL["minute"]]
        out["updated_at"] = row[_COL["updated_at"]]
        if not publishable(row[_COL["n_vehicles"]], self.min_vehicles):
            return out
        level = row[_COL["congestion_level"]]
        speed, tt = row[_COL["speed_kmh"]], row[_COL["travel_time_s"]]
        jam, conf = row[_COL["jam_factor"]], row[_COL["confidence"]]
        out.update(
            speed_kmh=None if speed is None else round(float(speed), 2),
            travel_time_s=None if tt is None else round(float(tt), 1),
            congestion_level=level, congestion=None if level is None else LEVEL_NAMES[level],
            jam_factor=None if jam is None else round(float(jam), 2),
            confidence=None if conf is None else round(float(conf), 3),
            source=row[_COL["source"]], n_vehicles=row[_COL["n_vehicles"]],
        )  # fmt: skip
        return out

    def page(
        self,
        *,
        bbox: tuple[float, float, float, float] | None,
        road_classes: list[str] | None,
        after: str | None,
        limit: int,
        forecast: Forecasts | None = None,
    ) -> tuple[Page, datetime | None]:
        """A GeoJSON FeatureCollection page (segments in id order after ``after``); with
        ``forecast`` (snapshot version, rows by segment id of one horizon) each feature also
        carries its forecast (``forecast``: null where there is none)."""
        static, state = self._fresh()
        key = (state.version, bbox, tuple(road_classes or ()), after, limit,
               forecast[0] if forecast else None)  # fmt: skip
        with self._lock:
            hit = self._pages.get(key)
            if hit is not None:
                self._pages.move_to_end(key)
                return hit, state.last_modified
        page = self._render(static, state, bbox, road_classes, after, limit, forecast)
        with self._lock:
            self._pages[key] = page
            while len(self._pages) > 64:
                self._pages.popitem(last=False)
        return page, state.last_modified

    def _render(self, static, state, bbox, road_classes, after, limit, forecast=None) -> Page:
        mask = np.ones(len(static.ids), dtype=bool)
        if bbox is not None:
            b = static.bounds
            mask &= (b[:, 0] <= bbox[2]) & (b[:, 2] >= bbox[0])
            mask &= (b[:, 1] <= bbox[3]) & (b[:, 3] >= bbox[1])
        if road_classes:
            mask &= np.isin(static.road_class, road_classes)
        start = 0 if after is None else bisect.bisect_right(static.ids, after)
        mask[:start] = False
        chosen = np.flatnonzero(mask)
        more = len(chosen) > limit
        chosen = chosen[:limit]
        iso: dict[datetime, str] = {}

        def t(v: datetime | None) -> str:
            if v is None:
                return "null"
            s = iso.get(v)
            if s is None:
                s = iso[v] = f'"{v.isoformat()}"'
            return s

        parts = []
        for i in chosen:
            d = self._dynamic(state.rows.get(static.ids[i]), static.info[i])
            cong = "null" if d["congestion"] is None else f'"{d["congestion"]}"'
            level = "null" if d["congestion_level"] is None else str(d["congestion_level"])
            parts.append(
                f'{static.prefix[i]}"speed_kmh":{_num(d["speed_kmh"])},'
                f'"free_flow_kmh":{_num(d["free_flow_kmh"])},'
                f'"travel_time_s":{_num(d["travel_time_s"], 1)},'
                f'"free_flow_travel_time_s":{_num(d["free_flow_travel_time_s"], 1)},'
                f'"congestion_level":{level},"congestion":{cong},'
                f'"jam_factor":{_num(d["jam_factor"])},"confidence":{_num(d["confidence"], 3)},'
                f'"source":"{d["source"]}","n_vehicles":{d["n_vehicles"]},'
                f'"minute":{t(d["minute"])},"updated_at":{t(d["updated_at"])}'
                + (_forecast_json(forecast[1].get(static.ids[i]), t) if forecast else "")
                + "}}"
            )
        nxt = encode_cursor(static.ids[chosen[-1]]) if more and len(chosen) else None
        head = (
            f'{{"type":"FeatureCollection","version":{json.dumps(state.version)},'
            f'"updated_at":{t(state.last_modified)},"count":{len(chosen)},'
            f'"next_cursor":{json.dumps(nxt)},"features":['
        )
        body = (head + ",".join(parts) + "]}").encode()
        etag = etag_of(state.version, bbox, road_classes, after, limit,
                       forecast[0] if forecast else None)  # fmt: skip
        page = Page(body, etag, len(chosen), nxt)
        if len(body) > 1024:
            _ = page.gzipped  # compress here (a worker thread), not on the event loop
        return page
