"""GTFS-Realtime VehiclePositions feeds built for tests with the official bindings."""

from __future__ import annotations

import gzip

from google.transit import gtfs_realtime_pb2 as rt


def vehicle_feed(
    n: int, *, t0_s: int, header_ts: bool = True, start: int = 0, step_s: int = 0,
    lat0: float = 20.85, lon0: float = 106.68,
) -> rt.FeedMessage:  # fmt: skip
    """A feed of ``n`` buses (ids ``bus-<k>``) with position, bearing, speed (m/s), trip and
    timestamp ``t0_s + step_s * k`` (POSIX seconds)."""
    feed = rt.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    if header_ts:
        feed.header.timestamp = t0_s
    for k in range(start, start + n):
        e = feed.entity.add()
        e.id = f"e{k}"
        v = e.vehicle
        v.vehicle.id = f"bus-{k}"
        v.vehicle.label = f"Route {k % 7}"
        v.trip.trip_id = f"trip-{k}"
        v.trip.route_id = f"r{k % 7}"
        v.position.latitude = lat0 + 0.0001 * k
        v.position.longitude = lon0 + 0.0001 * k
        v.position.bearing = float(k % 360)
        v.position.speed = 5.0
        v.timestamp = t0_s + step_s * k
    return feed


def add_odd_entities(feed: rt.FeedMessage) -> None:
    """One entity of each kind that gives no position (see SKIP_REASONS)."""
    e = feed.entity.add()
    e.id = "gone"
    e.is_deleted = True
    e.vehicle.vehicle.id = "bus-gone"
    e.vehicle.position.latitude, e.vehicle.position.longitude = 20.8, 106.7
    e = feed.entity.add()
    e.id = "tu"
    e.trip_update.trip.trip_id = "trip-x"
    e = feed.entity.add()
    e.id = "nopos"
    e.vehicle.vehicle.id = "bus-nopos"
    e.vehicle.timestamp = feed.header.timestamp or 1


def encoded(feed: rt.FeedMessage, *, gzipped: bool = False) -> bytes:
    data = feed.SerializeToString()
    return gzip.compress(data) if gzipped else data
